package sigv4

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Options are the ways a service's canonical request differs from the
// spec's default.
type Options struct {
	// EncodePathOnce is Amazon S3's rule: the path is URI-encoded once,
	// from its decoded form. Every other service URI-encodes the request's
	// already escaped path a second time. aws-sdk-go-v2's service/s3 sets
	// the signer's DisableURIPathEscaping for the same reason
	// (aws/signer/v4/v4.go, SignerOptions.DisableURIPathEscaping).
	EncodePathOnce bool
}

// Verify reports whether a's signature is the one secret makes for r, whose
// payload hashes to payloadHash (see HashPayload, and for S3 the
// x-amz-content-sha256 header).
func Verify(r *http.Request, a *Auth, secret, payloadHash string, opts Options) bool {
	canonical := CanonicalRequest(r, a, payloadHash, opts)
	want := Signature(SigningKey(secret, a.Date, a.Region, a.Service), StringToSign(a, canonical))
	return Equal(want, a.Signature)
}

// CanonicalRequest is r's canonical request for the headers a signed: the
// method, the encoded path, the sorted and strictly encoded query, the
// signed headers' trimmed values, their names, and the payload hash.
func CanonicalRequest(r *http.Request, a *Auth, payloadHash string, opts Options) string {
	var path string
	if opts.EncodePathOnce {
		path = URIEncode(r.URL.Path, false)
	} else {
		path = URIEncode(r.URL.EscapedPath(), false)
	}
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	b.WriteString(path + "\n")
	b.WriteString(canonicalQuery(r.URL.Query(), a.Presigned) + "\n")
	for _, name := range a.SignedHeaders {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteString("\n" + strings.Join(a.SignedHeaders, ";") + "\n")
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalQuery encodes each name and value, then sorts: the spec sorts
// after encoding, which can order pairs differently than before
// (aws-sdk-go-v2 aws/signer/internal/v4/util.go, EncodeQuery). A presigned
// URL's own signature is not part of what it signs.
func canonicalQuery(q url.Values, presigned bool) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, pair{URIEncode(k, true), URIEncode(v, true)})
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

// headerValue is a signed header's canonical value: its values trimmed,
// runs of spaces collapsed, joined by commas (aws-sdk-go-v2
// aws/signer/v4/v4.go, buildCanonicalHeaders). Go's server moves Host,
// Content-Length and Transfer-Encoding out of r.Header, so they are read
// back from where it puts them.
func headerValue(r *http.Request, name string) string {
	values := r.Header.Values(name)
	switch {
	case name == "host":
		return r.Host
	case name == "content-length" && len(values) == 0 && r.ContentLength >= 0:
		return strconv.FormatInt(r.ContentLength, 10)
	case name == "transfer-encoding" && len(values) == 0:
		return strings.Join(r.TransferEncoding, ",")
	}
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(trimmed, ",")
}

// StringToSign is what a's signature signs for a canonical request.
func StringToSign(a *Auth, canonicalRequest string) string {
	return Algorithm + "\n" + a.AmzDate + "\n" + a.Scope() + "\n" + HashPayload([]byte(canonicalRequest))
}

// SigningKey derives the key that signs for one day, region and service
// from a secret access key.
func SigningKey(secret, date, region, service string) []byte {
	key := HMAC([]byte("AWS4"+secret), date)
	key = HMAC(key, region)
	key = HMAC(key, service)
	return HMAC(key, scopeTerminator)
}

// Signature is the hex signature of a string to sign.
func Signature(signingKey []byte, stringToSign string) string {
	return hex.EncodeToString(HMAC(signingKey, stringToSign))
}

// HMAC is HMAC-SHA256 of data under key.
func HMAC(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// HashPayload is the hex SHA-256 of a payload, as the canonical request's
// last line and x-amz-content-sha256 carry it.
func HashPayload(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// Equal compares signatures, or tokens, in constant time, so that how long
// a refusal takes says nothing about how close a guess was.
func Equal(got, want string) bool {
	return hmac.Equal([]byte(got), []byte(want))
}

// URIEncode is the spec's UriEncode: every byte but A-Z a-z 0-9 - _ . ~ is
// percent-encoded with upper-case hex; "/" too unless it separates a path
// (encodeSlash false).
func URIEncode(s string, encodeSlash bool) string {
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
