// Package sigv4 verifies AWS Signature Version 4 signatures on the server
// side, for the sandbox STS and the compatibility suite's S3 stand-in.
//
// It follows the spec as AWS states it, "Create a signed AWS API request"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html),
// and, for Amazon S3, "Signature Version 4 for Amazon S3"
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
// Where the spec leaves canonicalization open, it does what the signer of
// aws-sdk-go-v2 does (aws/signer/v4/v4.go, aws/signer/internal/v4/util.go),
// and its tests hold it to that signer.
package sigv4

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	// Algorithm is the only signing algorithm SigV4 defines.
	Algorithm = "AWS4-HMAC-SHA256"
	// TimeFormat is how X-Amz-Date writes the signing time.
	TimeFormat = "20060102T150405Z"
	// scopeTerminator ends every credential scope.
	scopeTerminator = "aws4_request"
)

// Amazon S3's values of x-amz-content-sha256 other than the payload's hash
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
const (
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// StreamingPayload is an aws-chunked body whose chunks are signed, each
	// signature chained from the previous one.
	StreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	// StreamingUnsignedPayloadTrailer is an aws-chunked body without chunk
	// signatures, ending with a checksum trailer.
	StreamingUnsignedPayloadTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Auth is what a request says about its signature, from its Authorization
// header or, for a presigned URL, its query.
type Auth struct {
	AccessKeyID string
	// Date, Region and Service make the credential scope,
	// <Date>/<Region>/<Service>/aws4_request.
	Date, Region, Service string
	// SignedHeaders are the lower-case names of the signed headers, in the
	// order the signer listed them.
	SignedHeaders []string
	// Signature is the hex signature the request carries.
	Signature string
	// AmzDate is the signing time in TimeFormat, from X-Amz-Date or else
	// the Date header; Time is the same instant.
	AmzDate string
	Time    time.Time
	// SecurityToken is X-Amz-Security-Token, the session token of
	// temporary credentials; "" for long-term keys.
	SecurityToken string
	// Presigned is set when the signature came in the query.
	Presigned bool
	// Expires is a presigned URL's X-Amz-Expires; 0 when it has none, and
	// the service decides.
	Expires time.Duration
}

// Scope is the credential scope the signature was made for.
func (a *Auth) Scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/" + scopeTerminator
}

// Expect is what the verifying service requires of a credential scope; an
// empty field accepts any value.
type Expect struct {
	Service, Region string
}

// Kind is what is wrong with a request's signature fields. Each service
// answers each kind in its own words.
type Kind int

// The kinds of Error, in the order ParseAuthorization checks for them.
const (
	// Missing: neither an Authorization header nor X-Amz-Algorithm.
	Missing Kind = iota + 1
	// UnsupportedAlgorithm: an algorithm other than AWS4-HMAC-SHA256.
	UnsupportedAlgorithm
	// InvalidExpires: X-Amz-Expires is not 1 to 604800 seconds, the limits
	// of a presigned URL (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
	InvalidExpires
	// Incomplete: no Signature or SignedHeaders, or a Credential that is not
	// <key>/<date>/<region>/<service>/<terminator> with a key.
	Incomplete
	// InvalidDate: no signing time, or one not in TimeFormat.
	InvalidDate
	// WrongTerminator: a credential scope not ending in aws4_request.
	WrongTerminator
	// WrongService: a credential scope for another service than expected.
	WrongService
	// WrongRegion: a credential scope for another region than expected.
	WrongRegion
	// DateMismatch: the scope's date is not the signing time's.
	DateMismatch
	// HostNotSigned: "host" is not among the signed headers, which SigV4
	// requires.
	HostNotSigned
)

// Error says what is wrong with a request's signature fields.
type Error struct {
	Kind Kind
	// Got is the offending value for UnsupportedAlgorithm (the algorithm)
	// and the scope kinds (the terminator, service or region).
	Got string
}

func (e *Error) Error() string {
	switch e.Kind {
	case Missing:
		return "the request is not signed: sign it with SigV4, in an Authorization header or X-Amz-* query parameters"
	case UnsupportedAlgorithm:
		return "unsupported signing algorithm " + strconv.Quote(e.Got) + ": sign with " + Algorithm
	case InvalidExpires:
		return "X-Amz-Expires must be a number of seconds from 1 to 604800: presign the URL again"
	case Incomplete:
		return "the signature needs Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders and Signature"
	case InvalidDate:
		return "the request needs its signing time in X-Amz-Date (" + TimeFormat + ") or Date"
	case WrongTerminator:
		return "the credential scope must end in aws4_request, not " + strconv.Quote(e.Got)
	case WrongService:
		return "the credential scope names another service, " + strconv.Quote(e.Got) + ": sign for this endpoint's service"
	case WrongRegion:
		return "the credential scope names another region, " + strconv.Quote(e.Got) + ": sign for this endpoint's region"
	case DateMismatch:
		return "the credential scope's date is not the signing time's: sign again"
	case HostNotSigned:
		return "the host header must be signed: sign it with SignedHeaders including host"
	}
	return "invalid SigV4 signature fields"
}

// ParseAuthorization reads r's signature fields, from the Authorization
// header or else the presigned query, and checks them and the credential
// scope against expect. It returns an *Error saying what is wrong, checked
// in the order of the Kind constants. It does not verify the signature:
// see Verify.
func ParseAuthorization(r *http.Request, expect Expect) (*Auth, error) {
	var a Auth
	var credential, signedHeaders string
	q := r.URL.Query()
	if header := r.Header.Get("Authorization"); header != "" {
		algorithm, fields, _ := strings.Cut(header, " ")
		if algorithm != Algorithm {
			return nil, &Error{Kind: UnsupportedAlgorithm, Got: algorithm}
		}
		for field := range strings.SplitSeq(fields, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
			switch k {
			case "Credential":
				credential = v
			case "SignedHeaders":
				signedHeaders = v
			case "Signature":
				a.Signature = v
			}
		}
		a.AmzDate = r.Header.Get("X-Amz-Date")
		if a.AmzDate == "" {
			// The spec allows the Date header instead of X-Amz-Date.
			if t, err := http.ParseTime(r.Header.Get("Date")); err == nil {
				a.AmzDate = t.UTC().Format(TimeFormat)
			}
		}
		a.SecurityToken = r.Header.Get("X-Amz-Security-Token")
	} else if algorithm := q.Get("X-Amz-Algorithm"); algorithm != "" {
		if algorithm != Algorithm {
			return nil, &Error{Kind: UnsupportedAlgorithm, Got: algorithm}
		}
		a.Presigned = true
		credential, signedHeaders, a.Signature = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
		a.AmzDate, a.SecurityToken = q.Get("X-Amz-Date"), q.Get("X-Amz-Security-Token")
		if v := q.Get("X-Amz-Expires"); v != "" {
			secs, err := strconv.Atoi(v)
			if err != nil || secs < 1 || secs > 604800 {
				return nil, &Error{Kind: InvalidExpires}
			}
			a.Expires = time.Duration(secs) * time.Second
		}
	} else {
		return nil, &Error{Kind: Missing}
	}

	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[0] == "" || a.Signature == "" || signedHeaders == "" {
		return nil, &Error{Kind: Incomplete}
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	var err error
	if a.Time, err = time.Parse(TimeFormat, a.AmzDate); err != nil {
		return nil, &Error{Kind: InvalidDate}
	}
	a.SignedHeaders = strings.Split(signedHeaders, ";")
	switch {
	case scope[4] != scopeTerminator:
		return nil, &Error{Kind: WrongTerminator, Got: scope[4]}
	case expect.Service != "" && a.Service != expect.Service:
		return nil, &Error{Kind: WrongService, Got: a.Service}
	case expect.Region != "" && a.Region != expect.Region:
		return nil, &Error{Kind: WrongRegion, Got: a.Region}
	case a.Date != a.AmzDate[:8]:
		return nil, &Error{Kind: DateMismatch}
	case !slices.Contains(a.SignedHeaders, "host"):
		return nil, &Error{Kind: HostNotSigned}
	}
	return &a, nil
}
