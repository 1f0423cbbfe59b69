// Package lambdaurl runs an http.Handler behind a Lambda function URL.
//
// The event and response are payload format 2.0, as the Lambda developer
// guide describes them (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads)
// and aws-lambda-go models them (events/lambda_function_urls.go).
package lambdaurl

import (
	"bytes"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// Start serves h as the Lambda function's handler; it does not return.
func Start(h http.Handler) { lambda.Start(Handler(h)) }

// Handler adapts h to a Lambda function URL: each event becomes an
// *http.Request, and what h writes becomes the response. It never returns
// an error: Lambda would answer 502 for it, while a request it cannot
// convert is the client's mistake (400).
func Handler(h http.Handler) func(context.Context, events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
	return func(ctx context.Context, e events.LambdaFunctionURLRequest) (events.LambdaFunctionURLResponse, error) {
		r, err := request(ctx, e)
		if err != nil {
			return events.LambdaFunctionURLResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "text/plain; charset=utf-8"},
				Body:       err.Error() + "\n",
			}, nil
		}
		w := newRecorder()
		h.ServeHTTP(w, r)
		return w.response(), nil
	}
}

// IssuerFromEvent is the function URL the event came through:
// "https://" + requestContext.domainName, or "" without a domain. The
// bridge uses it when it has no --issuer, because CloudFormation cannot
// put a function's URL into that function's environment (the URL depends
// on the function: a cycle), and the domain in the event is the one AWS
// routed.
func IssuerFromEvent(e events.LambdaFunctionURLRequest) string {
	if e.RequestContext.DomainName == "" {
		return ""
	}
	return "https://" + e.RequestContext.DomainName
}

// badRequest is a reason the event is not a request h can serve.
type badRequest string

func (b badRequest) Error() string { return string(b) }

// request builds the *http.Request that the event describes.
func request(ctx context.Context, e events.LambdaFunctionURLRequest) (*http.Request, error) {
	path := e.RawPath
	if path == "" {
		path = "/"
	}
	uri := path
	if e.RawQueryString != "" {
		uri += "?" + e.RawQueryString
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return nil, badRequest("bad request path")
	}
	body := []byte(e.Body)
	if e.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(e.Body); err != nil {
			return nil, badRequest("bad request body: isBase64Encoded is set, but the body is not base64")
		}
	}
	method := e.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(body))
	if err != nil {
		return nil, badRequest("bad request method")
	}
	r.URL = u
	r.RequestURI = uri
	if major, minor, ok := http.ParseHTTPVersion(e.RequestContext.HTTP.Protocol); ok {
		r.Proto, r.ProtoMajor, r.ProtoMinor = e.RequestContext.HTTP.Protocol, major, minor
	}
	// Header names arrive in lower case, and repeated headers as one
	// comma-joined value, which HTTP treats as the same list (RFC 9110
	// §5.3); they are kept as one value rather than split, since a comma
	// may also sit inside one (a date, a quoted string).
	for name, value := range e.Headers {
		r.Header.Set(name, value)
	}
	// Cookies come apart from the headers, one per entry; a server sees
	// them as one Cookie header (RFC 6265 §5.4).
	if len(e.Cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	r.Host = e.RequestContext.DomainName
	if r.Host == "" {
		r.Host = r.Header.Get("Host")
	}
	r.Header.Del("Host") // net/http keeps it in r.Host only
	// net/http's RemoteAddr is host:port; the event has no port, so 0
	// stands in and net.SplitHostPort still works.
	if ip := e.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

// recorder collects a response in memory, like httptest.ResponseRecorder
// (which this package does not use outside tests).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// response is what Lambda turns into the HTTP response: cookies apart
// from the headers, and a body that is text or base64.
func (w *recorder) response() events.LambdaFunctionURLResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	body := w.body.Bytes()
	// As net/http does for a handler that names no type.
	if len(body) > 0 && w.header.Get("Content-Type") == "" {
		w.header.Set("Content-Type", http.DetectContentType(body))
	}
	out := events.LambdaFunctionURLResponse{StatusCode: status, Headers: map[string]string{}}
	for name, values := range w.header {
		if name == "Set-Cookie" {
			// Set-Cookie cannot be comma-joined (RFC 6265 §3): the
			// response carries each in cookies.
			out.Cookies = append(out.Cookies, values...)
			continue
		}
		out.Headers[name] = strings.Join(values, ", ")
	}
	if utf8.Valid(body) {
		out.Body = string(body)
	} else {
		out.Body = base64.StdEncoding.EncodeToString(body)
		out.IsBase64Encoded = true
	}
	return out
}
