package sandbox

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sigv4Algorithm = "AWS4-HMAC-SHA256"
	amzDateLayout  = "20060102T150405Z"
)

type getCallerIdentityResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserID    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

func (s *STS) getCallerIdentity(w http.ResponseWriter, r *http.Request, reqID string, body []byte) {
	akid, sess, aerr := s.authenticate(r, body)
	if aerr != nil {
		s.writeError(w, reqID, aerr)
		return
	}
	s.mu.Lock()
	s.verified++
	s.mu.Unlock()
	s.log.Info("caller identified", "request_id", reqID, "access_key_id", akid, "arn", sess.arn)
	s.writeXML(w, http.StatusOK, getCallerIdentityResponse{
		Arn: sess.arn, UserID: sess.userID, Account: sess.account, RequestID: reqID,
	})
}

// sigv4Auth is what a request says about its signature, from the
// Authorization header or, for a presigned URL, the query.
type sigv4Auth struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
	amzDate, securityToken             string
	presigned                          bool
	expires                            time.Duration // presigned only
}

var (
	errIncomplete = &apiError{http.StatusBadRequest, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and an 'X-Amz-Date' or 'Date' header."}
	errBadToken   = &apiError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	errExpired    = &apiError{http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired"}
	errSignature  = &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
)

// authenticate verifies the request's SigV4 signature against the session
// it names, and returns that session.
func (s *STS) authenticate(r *http.Request, body []byte) (string, *session, *apiError) {
	auth, aerr := parseSigV4(r)
	if aerr != nil {
		return "", nil, aerr
	}
	s.mu.Lock()
	sess := s.sessions[auth.accessKeyID]
	s.mu.Unlock()
	if sess == nil || !hmac.Equal([]byte(auth.securityToken), []byte(sess.token)) {
		return "", nil, errBadToken
	}
	now := s.clock.Now()
	if !now.Before(sess.expires) {
		return "", nil, errExpired
	}
	if auth.presigned {
		signedAt, _ := time.Parse(amzDateLayout, auth.amzDate)
		if now.After(signedAt.Add(auth.expires)) {
			return "", nil, &apiError{http.StatusForbidden, "ExpiredToken", "The presigned URL has expired"}
		}
	}
	want := signature(sess.secret, auth, stringToSign(auth, canonicalRequest(r, auth, body)))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return "", nil, errSignature
	}
	return auth.accessKeyID, sess, nil
}

func parseSigV4(r *http.Request) (*sigv4Auth, *apiError) {
	var a sigv4Auth
	var credential, signedHeaders string
	q := r.URL.Query()
	if header := r.Header.Get("Authorization"); header != "" {
		alg, rest, _ := strings.Cut(header, " ")
		if alg != sigv4Algorithm {
			return nil, &apiError{http.StatusBadRequest, "IncompleteSignature", "Unsupported AWS 'algorithm': '" + alg + "'"}
		}
		for field := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
			switch k {
			case "Credential":
				credential = v
			case "SignedHeaders":
				signedHeaders = v
			case "Signature":
				a.signature = v
			}
		}
		a.amzDate = r.Header.Get("X-Amz-Date")
		if a.amzDate == "" {
			if t, err := http.ParseTime(r.Header.Get("Date")); err == nil {
				a.amzDate = t.UTC().Format(amzDateLayout)
			}
		}
		a.securityToken = r.Header.Get("X-Amz-Security-Token")
	} else if q.Get("X-Amz-Algorithm") != "" {
		if q.Get("X-Amz-Algorithm") != sigv4Algorithm {
			return nil, &apiError{http.StatusBadRequest, "IncompleteSignature", "Unsupported AWS 'algorithm': '" + q.Get("X-Amz-Algorithm") + "'"}
		}
		a.presigned = true
		credential, signedHeaders, a.signature = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
		a.amzDate, a.securityToken = q.Get("X-Amz-Date"), q.Get("X-Amz-Security-Token")
		a.expires = 15 * time.Minute // what STS allows a presigned URL without X-Amz-Expires
		if v := q.Get("X-Amz-Expires"); v != "" {
			secs, err := strconv.Atoi(v)
			if err != nil || secs < 1 || secs > 604800 {
				return nil, &apiError{http.StatusBadRequest, "AuthorizationQueryParametersError", "X-Amz-Expires must be a number of seconds between 1 and 604800."}
			}
			a.expires = time.Duration(secs) * time.Second
		}
	} else {
		return nil, &apiError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}

	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] == "" || a.signature == "" || signedHeaders == "" || a.amzDate == "" {
		return nil, errIncomplete
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	if _, err := time.Parse(amzDateLayout, a.amzDate); err != nil {
		return nil, errIncomplete
	}
	switch {
	case scope[4] != "aws4_request":
		return nil, &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped with a valid terminator: 'aws4_request', not '" + scope[4] + "'."}
	case a.service != "sts":
		return nil, &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'sts'."}
	case a.date != a.amzDate[:8]:
		return nil, &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP."}
	}
	a.signedHeaders = strings.Split(signedHeaders, ";")
	if !slices.Contains(a.signedHeaders, "host") {
		return nil, &apiError{http.StatusForbidden, "SignatureDoesNotMatch", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."}
	}
	return &a, nil
}

// canonicalRequest follows the SigV4 spec for services other than S3: the
// URI path is encoded once more, the query is sorted and strictly encoded,
// and the signed headers' values are trimmed and their spaces collapsed.
func canonicalRequest(r *http.Request, a *sigv4Auth, body []byte) string {
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(uriEncode(path, false) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query(), a.presigned) + "\n")
	for _, name := range a.signedHeaders {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(a.signedHeaders, ";") + "\n")
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	b.WriteString(payloadHash)
	return b.String()
}

func canonicalQuery(q url.Values, presigned bool) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, pair{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Or(strings.Compare(a.k, b.k), strings.Compare(a.v, b.v)) })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	values := r.Header.Values(name)
	if len(values) == 0 && name == "content-length" && r.ContentLength >= 0 {
		return strconv.FormatInt(r.ContentLength, 10)
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

func stringToSign(a *sigv4Auth, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return sigv4Algorithm + "\n" + a.amzDate + "\n" + a.date + "/" + a.region + "/" + a.service + "/aws4_request\n" + hex.EncodeToString(sum[:])
}

func signature(secret string, a *sigv4Auth, toSign string) string {
	key := hmacSHA256([]byte("AWS4"+secret), a.date)
	key = hmacSHA256(key, a.region)
	key = hmacSHA256(key, a.service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// uriEncode is SigV4's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ is
// percent-encoded with upper-case hex; "/" too unless it separates a path.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
