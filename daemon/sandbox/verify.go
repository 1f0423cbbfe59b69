package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/jsonobj"
	"github.com/credd-dev/credd/daemon/policy"
	jose "github.com/go-jose/go-jose/v4"
)

// Unless a comment says otherwise, "aws.json" below is radkawar/stackd
// internal/services/sts/testdata/oidc/aws.json: real STS (us-east-1,
// 2026-09-11) answering signed synthetic tokens, cited by scenario, and
// "the stackd README" is the README.md beside it. Each capture shows one
// defect at a time, so the order of the checks is credd's reading.

// clockSkew is how far STS lets exp, iat and nbf miss its clock, each way.
// The stackd README: "AWS allows five minutes of clock tolerance for iat,
// nbf and exp". aws.json: a token expired 23 s before it was sent
// (expired-1) and tokens whose iat or nbf was 277 s ahead (iat-future-301,
// nbf-future-301) are accepted; expired-301 is refused, reporting the
// current time minus 300 s, and nbf-future-hour the current time plus 300 s.
const clockSkew = 5 * time.Minute

// STS's words for tokens it refuses, as captured.
var (
	// errNotJWT: not a compact JWS, or one with a crit header STS cannot
	// honour (aws.json: critical-header).
	errNotJWT = errInvalidToken("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
	// errNotValidated: a token STS read but will not take, without saying
	// why: an azp that is no client ID of the provider or is empty, an
	// empty aud, a claim written twice with different values (aws.json:
	// azp-mismatch, azp-empty, aud-empty, duplicate-claim). For a signing
	// algorithm IAM does not list, the words are credd's reading.
	errNotValidated = errInvalidToken("The web identity token provided could not be validated. See the AssumeRoleWithWebIdentity documentation for requirements.")
	// errInvalidTimestamp: exp, iat or nbf that is not an integer or a
	// string holding one (aws.json: exp-fraction, iat-fraction, iat-null,
	// nbf-invalid).
	errInvalidTimestamp = errInvalidToken("Invalid timestamp in token claims.")
	// errSubjectNull: a sub of null makes STS fail, retryably (aws.json:
	// sub-null, which the AWS CLI retried: "reached max retries: 2").
	errSubjectNull = &apiError{http.StatusInternalServerError, "InternalFailure", "Unknown error validating third-party token"}
	// errUnreadableClaims: claims of a type STS is not seen to read (an
	// object as sub, say); the words are credd's own.
	errUnreadableClaims = errInvalidToken("The ID Token provided is not a valid JWT: its claims cannot be read.")
)

func errInvalidToken(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidIdentityToken", msg}
}

// errTokenExpired is STS's answer to a token whose exp is past, skew
// included: it reports its clock minus the skew, with a space before the
// expiry (aws.json expired-301: "Token expired: current date/time
// 1789123421 must be before the expiration date/time 1789123397", sent at
// 1789123721; the same form in aws/aws-sdk-java-v2#5709, 2024).
func errTokenExpired(now, exp time.Time) *apiError {
	return &apiError{http.StatusBadRequest, "ExpiredTokenException", fmt.Sprintf(
		"Token expired: current date/time %d must be before the expiration date/time %d",
		now.Add(-clockSkew).Unix(), exp.Unix())}
}

// verifyToken checks the token as AWS checks one from a registered OIDC
// provider: format and algorithm, the claims' types, the required claims,
// issuer and signature, audience (the provider's client IDs), then time.
// The trust policy is checked by the caller.
func (s *STS) verifyToken(raw string, now time.Time) (*idClaims, *apiError) {
	jws, err := jose.ParseSignedCompact(raw, signatureAlgorithms())
	if err != nil || len(jws.Signatures) != 1 {
		if unsupportedAlg(raw) {
			return nil, errNotValidated
		}
		return nil, errNotJWT
	}
	// STS answers a crit header with the not-a-JWT words whatever the
	// signature (aws.json: critical-header); go-jose would refuse it only
	// when verifying, as a bad signature.
	if _, ok := jws.Signatures[0].Protected.ExtraHeaders["crit"]; ok {
		return nil, errNotJWT
	}
	claims, aerr := readClaims(jws.UnsafePayloadWithoutVerification())
	if aerr != nil {
		return nil, aerr
	}
	// aws.json: missing-iss, missing-sub, missing-aud, missing-iat and
	// missing-exp. iss is checked before the provider is looked up, as
	// missing-iss shows; the others with it.
	if name := claims.missing(); name != "" {
		return nil, errInvalidToken("Missing a required claim: " + name)
	}
	switch {
	case claims.Issuer == s.issuer.URL():
		if aerr := signatureError(checkSignature(jws, s.issuer.KeySet())); aerr != nil {
			return nil, aerr
		}
	case s.external.trusts(claims.Issuer):
		if aerr := s.external.verify(claims.Issuer, jws); aerr != nil {
			return nil, aerr
		}
	default:
		return nil, errInvalidToken("No OpenIDConnect provider found in your account for " + claims.Issuer)
	}
	if aerr := s.checkAudience(claims); aerr != nil {
		return nil, aerr
	}
	if aerr := checkTimes(claims, now); aerr != nil {
		return nil, aerr
	}
	if claims.subjectNull {
		return nil, errSubjectNull
	}
	return claims, nil
}

// signatureError is STS's answer to a signature check that did not pass.
func signatureError(c sigCheck) *apiError {
	switch c {
	case signatureValid:
		return nil
	case signatureNoKey:
		return errVerificationKey
	}
	return errInvalidToken("Couldn't verify the signature of the ID token with the provider's keys.")
}

// checkAudience checks aud and azp against the provider's client IDs. With
// azp, azp alone is checked (aws.json: azp-overrides, aud "other"
// unregistered, and aud-multi-with-azp succeed; azp-mismatch and azp-empty
// fail). Without it, aud must be one client ID: several are refused even
// when they are client IDs (aud-array-first-match, aud-array-second-match,
// aud-array-two-matches), an empty array and an empty string have their own
// answers (aud-empty-array, aud-empty), and another value is "Incorrect
// token audience" (aws-actions/configure-aws-credentials#775,
// awslabs/amazon-eks-irsa-cfn#18).
func (s *STS) checkAudience(c *idClaims) *apiError {
	switch {
	case len(c.Audience) == 0:
		return errInvalidToken("Claim is not allowed to be empty: aud")
	case c.AuthorizedParty != nil:
		if !s.isClientID(*c.AuthorizedParty) {
			return errNotValidated
		}
	case len(c.Audience) > 1:
		return errInvalidToken("Token audience contains more than one audience while authorized party is not present")
	case c.Audience[0] == "":
		return errNotValidated
	case !s.isClientID(c.Audience[0]):
		return errInvalidToken("Incorrect token audience")
	}
	return nil
}

// checkTimes checks exp, iat and nbf in whole seconds against now, each
// allowed clockSkew. A token is expired when now-skew is not before exp;
// not yet valid when now+skew is before nbf (aws.json nbf-future-hour:
// "Token not yet valid: current date/time 1789124026 must be after or
// equal to the not-before date/time 1789127298"); issued in the future when
// iat is after now+skew (iat-future-hour: "Token issued in the future:
// 1789127298"; the boundary is credd's reading, as for nbf).
func checkTimes(c *idClaims, now time.Time) *apiError {
	skew := int64(clockSkew / time.Second)
	t := now.Unix()
	if exp := c.Expiry.t.Unix(); t-skew >= exp {
		return errTokenExpired(now, c.Expiry.t)
	}
	if iat := c.IssuedAt.t.Unix(); iat > t+skew {
		return errInvalidToken(fmt.Sprintf("Token issued in the future: %d", iat))
	}
	if nbf := c.NotBefore.t.Unix(); c.NotBefore.set && nbf > t+skew {
		return errInvalidToken(fmt.Sprintf(
			"Token not yet valid: current date/time %d must be after or equal to the not-before date/time %d", t+skew, nbf))
	}
	return nil
}

// idClaims are the claims as STS reads them.
type idClaims struct {
	Issuer string
	// Subject is sub; a number is read as it is written (aws.json
	// sub-number: 123 answered as "123"), and "" is a subject (subject-empty).
	Subject  string
	Audience []string
	// AuthorizedParty is azp, nil when the token has none.
	AuthorizedParty             *string
	Expiry, IssuedAt, NotBefore numericDate

	hasIssuer, hasSubject, hasAudience bool
	subjectNull                        bool
	// extra are the other claims written as strings, azp included, which
	// the trust policy's condition keys read.
	extra map[string]string
	// sessionTags are the token's session tags (policy.SessionTagsClaim),
	// nil without; tagsErr says why they break IAM's rules.
	sessionTags *policy.SessionTags
	tagsErr     error
}

// missing names the first required claim the token lacks, or "".
func (c *idClaims) missing() string {
	for _, r := range []struct {
		name    string
		present bool
	}{
		{"iss", c.hasIssuer}, {"sub", c.hasSubject}, {"aud", c.hasAudience},
		{"iat", c.IssuedAt.set}, {"exp", c.Expiry.set},
	} {
		if !r.present {
			return r.name
		}
	}
	return ""
}

// audience is the answer's Audience: azp if the token has one, else aud
// (aws.json: azp-overrides and aud-multi-with-azp answer the azp,
// baseline-2 the aud).
func (c *idClaims) audience() string {
	if c.AuthorizedParty != nil {
		return *c.AuthorizedParty
	}
	return c.Audience[0]
}

// policyClaims are the claims the trust policy's condition keys are made
// from (policy.NewRequest).
func (c *idClaims) policyClaims() daemon.Claims {
	return daemon.Claims{
		Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		Expiry: c.Expiry.t, IssuedAt: c.IssuedAt.t, NotBefore: c.NotBefore.t,
		Extra: c.extra,
	}
}

// readClaims reads a token's payload as STS does. A claim written twice
// with different values is refused, twice with the same value accepted
// (aws.json: duplicate-claim, duplicate-same-claim, both for aud; that
// other claims behave alike is credd's reading).
func readClaims(payload []byte) (*idClaims, *apiError) {
	members, err := jsonobj.Members(payload)
	if err != nil {
		return nil, errUnreadableClaims
	}
	claims := map[string]json.RawMessage{}
	for _, m := range members {
		if prev, ok := claims[m.Name]; ok && !sameJSON(prev, m.Value) {
			return nil, errNotValidated
		}
		claims[m.Name] = m.Value
	}
	c := &idClaims{extra: map[string]string{}}
	for _, d := range []struct {
		name string
		to   *numericDate
	}{{"exp", &c.Expiry}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore}} {
		if v, ok := claims[d.name]; ok {
			if d.to.UnmarshalJSON(v) != nil {
				return nil, errInvalidTimestamp
			}
		}
	}
	for name, v := range claims {
		var s string
		isString := json.Unmarshal(v, &s) == nil && len(v) > 0 && v[0] == '"'
		isNull := string(v) == "null"
		switch name {
		case "exp", "iat", "nbf":
		case "iss":
			switch {
			case isString:
				c.Issuer, c.hasIssuer = s, true
			case !isNull: // null counts as missing: credd's reading
				return nil, errUnreadableClaims
			}
		case "sub":
			c.hasSubject = true
			switch {
			case isString:
				c.Subject = s
			case isNull:
				c.subjectNull = true
			case isJSONNumber(v):
				c.Subject = string(v)
			default:
				return nil, errUnreadableClaims
			}
		case "aud":
			if isNull { // credd's reading, as for iss
				continue
			}
			aud, ok := audienceOf(v)
			if !ok {
				return nil, errUnreadableClaims
			}
			c.Audience, c.hasAudience = aud, true
		case "azp":
			switch {
			case isString:
				c.AuthorizedParty = &s
				c.extra[name] = s
			case !isNull: // null counts as absent: credd's reading
				return nil, errUnreadableClaims
			}
		case policy.SessionTagsClaim:
			if isNull { // credd's reading, as for azp
				continue
			}
			tags, err := policy.ParseSessionTags(v)
			c.sessionTags, c.tagsErr = &tags, err
		default:
			if isString {
				c.extra[name] = s
			}
		}
	}
	return c, nil
}

// audienceOf reads aud: a string, or an array of strings.
func audienceOf(v json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(v, &one) == nil && v[0] == '"' {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(v, &many) != nil || v[0] != '[' {
		return nil, false
	}
	return many, true
}

// isJSONNumber reports whether v is a JSON number.
func isJSONNumber(v json.RawMessage) bool {
	var n json.Number
	return json.Unmarshal(v, &n) == nil && v[0] != '"'
}

// sameJSON reports whether a and b are the same JSON text, spacing aside.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// numericDate is a date claim as STS reads it: an integer, or a string
// holding one (aws.json: exp-string, iat-string and nbf-string are
// accepted). A fraction, an exponent, null or any other string is
// errInvalidTimestamp.
type numericDate struct {
	t   time.Time
	set bool
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	s := string(b)
	if unq, err := strconv.Unquote(s); err == nil && strings.HasPrefix(s, `"`) {
		s = unq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errTimestamp
	}
	d.t, d.set = time.Unix(n, 0), true
	return nil
}

// errTimestamp is a date claim STS cannot read.
var errTimestamp = errors.New("invalid timestamp")
