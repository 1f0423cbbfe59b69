package lambdaurl_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/credd-dev/credd/daemon/bridge/lambdaurl"
)

const domain = "abcdefghij.lambda-url.us-east-1.on.aws"

// event builds a function URL event shaped like aws-lambda-go's
// events/testdata/lambda-urls-request.json (payload format 2.0).
func event(method, rawPath, rawQuery, body string) events.LambdaFunctionURLRequest {
	return events.LambdaFunctionURLRequest{
		Version:        "2.0",
		RawPath:        rawPath,
		RawQueryString: rawQuery,
		Headers: map[string]string{
			"host":              domain,
			"user-agent":        "credd/test",
			"x-forwarded-proto": "https",
			"x-forwarded-for":   "203.0.113.7",
		},
		RequestContext: events.LambdaFunctionURLRequestContext{
			AccountID:    "anonymous",
			RequestID:    "id",
			APIID:        "abcdefghij",
			DomainName:   domain,
			DomainPrefix: "abcdefghij",
			Time:         "12/Mar/2020:19:03:58 +0000",
			TimeEpoch:    1583348638390,
			HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
				Method: method, Path: rawPath, Protocol: "HTTP/1.1", SourceIP: "203.0.113.7", UserAgent: "credd/test",
			},
		},
		Body: body,
	}
}

// seen is what a handler saw of its request.
type seen struct {
	Method, Path, RawPath, RequestURI, Host, RemoteAddr, Proto string
	Query                                                      map[string][]string
	Header                                                     http.Header
	Body                                                       []byte
	Cookies                                                    []string
}

// echo answers with what it saw, as JSON.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, RequestURI: r.RequestURI, Host: r.Host,
		RemoteAddr: r.RemoteAddr, Proto: r.Proto, Query: r.URL.Query(), Header: r.Header, Body: b}
	for _, c := range r.Cookies() {
		s.Cookies = append(s.Cookies, c.Name+"="+c.Value)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s)
})

func serve(t *testing.T, h http.Handler, e events.LambdaFunctionURLRequest) events.LambdaFunctionURLResponse {
	t.Helper()
	resp, err := lambdaurl.Handler(h)(context.Background(), e)
	if err != nil {
		t.Fatalf("Handler returned an error: %v", err)
	}
	return resp
}

func serveEcho(t *testing.T, e events.LambdaFunctionURLRequest) seen {
	t.Helper()
	resp := serve(t, echo, e)
	var s seen
	if err := json.Unmarshal([]byte(resp.Body), &s); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return s
}

func TestGetDiscoveryDocument(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://" + r.Host})
	})
	resp := serve(t, mux, event(http.MethodGet, "/.well-known/openid-configuration", "", ""))
	if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded {
		t.Fatalf("status %d, base64 %t", resp.StatusCode, resp.IsBase64Encoded)
	}
	if resp.Headers["Content-Type"] != "application/json" || resp.Headers["Cache-Control"] != "public, max-age=300" {
		t.Errorf("headers %v", resp.Headers)
	}
	var doc map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &doc); err != nil || doc["issuer"] != "https://"+domain {
		t.Errorf("body %q (%v)", resp.Body, err)
	}

	t.Run("an unknown path is the handler's 404", func(t *testing.T) {
		resp := serve(t, mux, event(http.MethodGet, "/nope", "", ""))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestPostWithAJSONBody(t *testing.T) {
	e := event(http.MethodPost, "/token", "", `{"audience":"sts.amazonaws.com","repository":"octo/repo"}`)
	e.Headers["content-type"] = "application/json"
	e.Headers["authorization"] = "Bearer ghu_test"
	s := serveEcho(t, e)
	if s.Method != http.MethodPost || s.Path != "/token" || string(s.Body) != e.Body {
		t.Errorf("saw %s %s %q", s.Method, s.Path, s.Body)
	}
	if s.Header.Get("Content-Type") != "application/json" || s.Header.Get("Authorization") != "Bearer ghu_test" {
		t.Errorf("headers %v", s.Header)
	}
	if s.Host != domain {
		t.Errorf("Host = %q, want the function URL's domain", s.Host)
	}
	if host, _, err := net.SplitHostPort(s.RemoteAddr); err != nil || host != "203.0.113.7" {
		t.Errorf("RemoteAddr = %q, want sourceIp with a port", s.RemoteAddr)
	}
	if s.Proto != "HTTP/1.1" {
		t.Errorf("Proto = %q", s.Proto)
	}
}

func TestBase64Bodies(t *testing.T) {
	binary := []byte{0xff, 0x00, 0xfe, 'x'}
	e := event(http.MethodPost, "/upload", "", base64.StdEncoding.EncodeToString(binary))
	e.IsBase64Encoded = true
	raw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	resp := serve(t, raw, e)
	if !resp.IsBase64Encoded {
		t.Fatalf("a body that is not UTF-8 came back as text: %q", resp.Body)
	}
	got, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil || string(got) != string(binary) {
		t.Errorf("body %q decodes to %x (%v), want %x", resp.Body, got, err, binary)
	}

	t.Run("a base64 text body reaches the handler decoded", func(t *testing.T) {
		e := event(http.MethodPost, "/token", "", base64.StdEncoding.EncodeToString([]byte(`{"repository":"o/r"}`)))
		e.IsBase64Encoded = true
		if s := serveEcho(t, e); string(s.Body) != `{"repository":"o/r"}` {
			t.Errorf("body %q", s.Body)
		}
	})
	t.Run("a body that is not base64 is a 400, not an error", func(t *testing.T) {
		e := event(http.MethodPost, "/token", "", "%%%")
		e.IsBase64Encoded = true
		if resp := serve(t, echo, e); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestHeadersQueryStringAndCookies(t *testing.T) {
	// As in events/testdata/lambda-urls-request.json: a repeated query
	// parameter, a repeated header comma-joined, cookies apart.
	e := event(http.MethodGet, "/my/path", "parameter1=value1&parameter1=value2&parameter2=value", "")
	e.Headers["header2"] = "value1,value2"
	e.Cookies = []string{"cookie1=a", "cookie2=b"}
	s := serveEcho(t, e)
	if !slices.Equal(s.Query["parameter1"], []string{"value1", "value2"}) || !slices.Equal(s.Query["parameter2"], []string{"value"}) {
		t.Errorf("query %v", s.Query)
	}
	if s.RequestURI != "/my/path?parameter1=value1&parameter1=value2&parameter2=value" {
		t.Errorf("RequestURI = %q", s.RequestURI)
	}
	if got := s.Header.Get("Header2"); got != "value1,value2" {
		t.Errorf("Header2 = %q", got)
	}
	if !slices.Equal(s.Cookies, []string{"cookie1=a", "cookie2=b"}) {
		t.Errorf("cookies %v", s.Cookies)
	}
	if _, ok := s.Header["Host"]; ok {
		t.Error("Host stayed among the headers; net/http keeps it in r.Host")
	}

	t.Run("an escaped path keeps its raw form", func(t *testing.T) {
		s := serveEcho(t, event(http.MethodGet, "/a%2Fb", "", ""))
		if s.Path != "/a/b" || s.RawPath != "/a%2Fb" {
			t.Errorf("Path %q RawPath %q", s.Path, s.RawPath)
		}
	})
	t.Run("an empty rawPath is /", func(t *testing.T) {
		if s := serveEcho(t, event(http.MethodGet, "", "", "")); s.Path != "/" {
			t.Errorf("Path %q", s.Path)
		}
	})
}

func TestAHandlerThatSetsSeveralHeaders(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "30")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Authorization")
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2", MaxAge: 60})
		w.WriteHeader(http.StatusTooManyRequests)
		w.WriteHeader(http.StatusOK) // ignored, as net/http does
		_, _ = io.WriteString(w, `{"code":"rate_limited"}`)
	})
	resp := serve(t, h, event(http.MethodPost, "/token", "", "{}"))
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("status %d", resp.StatusCode)
	}
	want := map[string]string{"Content-Type": "application/json", "Retry-After": "30", "Vary": "Accept, Authorization"}
	for name, value := range want {
		if resp.Headers[name] != value {
			t.Errorf("%s = %q, want %q", name, resp.Headers[name], value)
		}
	}
	if _, ok := resp.Headers["Set-Cookie"]; ok {
		t.Error("Set-Cookie is among the headers; it belongs in cookies")
	}
	if !slices.Equal(resp.Cookies, []string{"a=1", "b=2; Max-Age=60"}) {
		t.Errorf("cookies %q", resp.Cookies)
	}
	if resp.Body != `{"code":"rate_limited"}` || resp.IsBase64Encoded {
		t.Errorf("body %q base64 %t", resp.Body, resp.IsBase64Encoded)
	}

	t.Run("a handler that writes nothing answers 200", func(t *testing.T) {
		resp := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), event(http.MethodGet, "/", "", ""))
		if resp.StatusCode != http.StatusOK || resp.Body != "" {
			t.Errorf("status %d body %q", resp.StatusCode, resp.Body)
		}
	})
	t.Run("a body without a type gets net/http's sniffed type", func(t *testing.T) {
		resp := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }), event(http.MethodGet, "/", "", ""))
		if resp.Headers["Content-Type"] != "text/plain; charset=utf-8" {
			t.Errorf("Content-Type %q", resp.Headers["Content-Type"])
		}
	})
}

func TestTheRequestCarriesTheInvocationContext(t *testing.T) {
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "lambda")
	var got any
	h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Context().Value(key{}) })
	if _, err := lambdaurl.Handler(h)(ctx, event(http.MethodGet, "/", "", "")); err != nil {
		t.Fatal(err)
	}
	if got != "lambda" {
		t.Errorf("context value %v", got)
	}
}

func TestIssuerFromEvent(t *testing.T) {
	if got := lambdaurl.IssuerFromEvent(event(http.MethodGet, "/", "", "")); got != "https://"+domain {
		t.Errorf("IssuerFromEvent = %q", got)
	}
	if got := lambdaurl.IssuerFromEvent(events.LambdaFunctionURLRequest{}); got != "" {
		t.Errorf("IssuerFromEvent without a domain = %q, want empty", got)
	}
}
