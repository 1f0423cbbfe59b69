package sandbox

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
	"github.com/credd-dev/credd/daemon/token"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)

// session is a set of credentials the emulator issued.
type session struct {
	secret, token string
	expires       time.Time
	arn, userID   string
	account       string
}

type assumeResult struct {
	Subject       string `xml:"SubjectFromWebIdentityToken"`
	Audience      string `xml:"Audience"`
	Arn           string `xml:"AssumedRoleUser>Arn"`
	AssumedRoleID string `xml:"AssumedRoleUser>AssumedRoleId"`
	SessionToken  string `xml:"Credentials>SessionToken"`
	SecretKey     string `xml:"Credentials>SecretAccessKey"`
	Expiration    string `xml:"Credentials>Expiration"`
	AccessKeyID   string `xml:"Credentials>AccessKeyId"`
	Provider      string `xml:"Provider"`
}

type assumeRoleWithWebIdentityResponse struct {
	XMLName   xml.Name     `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result    assumeResult `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string       `xml:"ResponseMetadata>RequestId"`
}

func assumeResponse(reqID string, r assumeResult) assumeRoleWithWebIdentityResponse {
	return assumeRoleWithWebIdentityResponse{Result: r, RequestID: reqID}
}

// fakeAssumeResult is a plausible answer that nobody can use, for
// FaultMalformedXML.
func fakeAssumeResult(s *STS, now time.Time) assumeResult {
	return assumeResult{
		Subject: DefaultSubject, Audience: DefaultAudience,
		Arn:           "arn:aws:sts::" + DefaultAccountID + ":assumed-role/credd-sandbox/fault",
		AssumedRoleID: roleID(DefaultRoleARN) + ":fault",
		SessionToken:  newSessionToken(), SecretKey: randomString(40, secretAlphabet),
		Expiration:  now.Add(time.Hour).UTC().Format(daemon.ExpirationLayout),
		AccessKeyID: "ASIA" + randomString(16, upperAlphaNum), Provider: policy.ProviderARN(DefaultAccountID, s.issuer.URL()),
	}
}

func (s *STS) assumeRoleWithWebIdentity(w http.ResponseWriter, reqID string, params url.Values) {
	in, aerr := s.validateAssume(params)
	if aerr != nil {
		s.writeError(w, reqID, aerr)
		return
	}
	now := s.clock.Now()
	claims, aerr := s.verifyToken(in.token, now)
	if aerr != nil {
		s.writeError(w, reqID, aerr)
		return
	}
	r := s.lookupRole(in.roleARN)
	if r == nil {
		s.log.Info("unknown role", "request_id", reqID, "role", in.roleARN, "sub", claims.Subject)
		s.writeError(w, reqID, errAccessDenied)
		return
	}
	// The same evaluator as credd doctor --trust-policy, so the two agree.
	parsed, err := token.Parse(in.token)
	if err != nil { // cannot happen: verifyToken read the same claims
		s.writeError(w, reqID, errAccessDenied)
		return
	}
	if res := s.trustPolicy(r).Evaluate(policy.NewRequest(parsed, r.account)); !res.Allowed() {
		var why []string
		for _, f := range res.Failures() {
			why = append(why, f.String())
		}
		s.log.Info("trust policy refused", "request_id", reqID, "role", in.roleARN,
			"decision", res.Decision, "sub", claims.Subject, "aud", []string(claims.Audience), "why", why)
		s.writeError(w, reqID, errAccessDenied)
		return
	}
	if in.duration > r.MaxSessionDuration {
		s.writeError(w, reqID, errValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role."))
		return
	}
	if s.maxLifetime > 0 {
		in.duration = min(in.duration, s.maxLifetime)
	}

	sess := &session{
		secret:  randomString(40, secretAlphabet),
		token:   newSessionToken(),
		expires: now.Add(in.duration).Truncate(time.Second).UTC(),
		arn:     "arn:aws:sts::" + r.account + ":assumed-role/" + r.name + "/" + in.sessionName,
		userID:  r.id + ":" + in.sessionName,
		account: r.account,
	}
	akid := "ASIA" + randomString(16, upperAlphaNum)
	s.mu.Lock()
	for id, old := range s.sessions { // forget long-dead sessions so memory stays bounded
		if now.Sub(old.expires) > 24*time.Hour {
			delete(s.sessions, id)
		}
	}
	s.sessions[akid] = sess
	s.mu.Unlock()

	s.log.Info("role assumed", "request_id", reqID, "role", in.roleARN, "session", in.sessionName,
		"sub", claims.Subject, "access_key_id", akid, "expires", sess.expires)
	s.writeXML(w, http.StatusOK, assumeResponse(reqID, assumeResult{
		Subject:       claims.Subject,
		Audience:      r.Audience,
		Arn:           sess.arn,
		AssumedRoleID: sess.userID,
		SessionToken:  sess.token,
		SecretKey:     sess.secret,
		Expiration:    sess.expires.Format(daemon.ExpirationLayout),
		AccessKeyID:   akid,
		// Real STS names the IAM OIDC provider by its ARN, e.g.
		// arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/...
		// (captured answers quoted in public EKS write-ups; the API
		// reference only says it comes from the token's iss).
		Provider: policy.ProviderARN(r.account, claims.Issuer),
	}))
}

type assumeInput struct {
	roleARN, sessionName, token string
	duration                    time.Duration
}

// validateAssume checks the parameters as AWS does, before the token.
func (s *STS) validateAssume(params url.Values) (assumeInput, *apiError) {
	in := assumeInput{
		roleARN:     params.Get("RoleArn"),
		sessionName: params.Get("RoleSessionName"),
		token:       params.Get("WebIdentityToken"),
		duration:    time.Hour,
	}
	for _, p := range []struct{ name, value string }{
		{"roleArn", in.roleARN}, {"roleSessionName", in.sessionName}, {"webIdentityToken", in.token},
	} {
		if p.value == "" {
			return in, errValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", p.name)
		}
	}
	switch n := len(in.sessionName); {
	case n < 2:
		return in, errValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2", in.sessionName)
	case n > 64:
		return in, errValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64", in.sessionName)
	case !sessionNamePattern.MatchString(in.sessionName):
		return in, errValidation(`1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*`, in.sessionName)
	}
	if n := len(in.token); n < 4 || n > 20000 {
		return in, errValidation("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000")
	}
	if v := params.Get("DurationSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return in, errValidation("Value (%s) for parameter DurationSeconds is invalid. Must be an integer.", v)
		}
		lo, hi := int64(900), int64(43200)
		if s.maxLifetime > 0 {
			lo = 1
		}
		if secs < lo {
			return in, errValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", secs, lo)
		}
		if secs > hi {
			return in, errValidation("1 validation error detected: Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", secs, hi)
		}
		in.duration = time.Duration(secs) * time.Second
	}
	if _, _, ok := parseRoleARN(in.roleARN); !ok {
		return in, errValidation("Request ARN is invalid")
	}
	return in, nil
}

// verifyToken checks the token as AWS checks one from a registered OIDC
// provider: format and algorithm, issuer, signature, audience (the
// provider's client IDs), then time. The trust policy is checked by the
// caller.
func (s *STS) verifyToken(token string, now time.Time) (*idClaims, *apiError) {
	jws, err := jose.ParseSigned(token, signatureAlgorithms())
	if err != nil || len(jws.Signatures) != 1 {
		if unsupportedAlg(token) {
			// STS's words for this case are not documented; the code is.
			return nil, errInvalidToken("The web identity token provided could not be validated. See the AssumeRoleWithWebIdentity documentation for requirements.")
		}
		return nil, errInvalidToken("The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)")
	}
	var claims idClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims); err != nil {
		if errors.Is(err, errTimestamp) {
			return nil, errInvalidToken("Invalid timestamp in token claims.")
		}
		return nil, errInvalidToken("The ID Token provided is not a valid JWT: its claims cannot be read.")
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
	if !slices.ContainsFunc(claims.Audience, s.isClientID) {
		return nil, errInvalidToken("Incorrect token audience")
	}
	if !claims.Expiry.set {
		return nil, errInvalidToken("Missing a required claim: exp")
	}
	if exp := claims.Expiry.t; !now.Before(exp) {
		return nil, errTokenExpired(now, exp)
	}
	if claims.NotBefore.set && now.Before(claims.NotBefore.t) {
		return nil, errInvalidToken("Token is not yet valid (nbf is in the future)")
	}
	if claims.Subject == "" {
		return nil, errInvalidToken("Missing subject claim")
	}
	return &claims, nil
}

func errInvalidToken(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidIdentityToken", msg}
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

// idClaims are the claims STS reads from an ID token; IssuedAt is read
// only to refuse a date STS cannot read.
type idClaims struct {
	Issuer    string       `json:"iss"`
	Subject   string       `json:"sub"`
	Audience  jwt.Audience `json:"aud"`
	Expiry    numericDate  `json:"exp"`
	NotBefore numericDate  `json:"nbf"`
	IssuedAt  numericDate  `json:"iat"`
}

// errTimestamp is a date claim STS cannot read.
var errTimestamp = errors.New("invalid timestamp")

// numericDate is a date claim as STS reads it: an integer, or a string
// holding one. A fraction, an exponent or null is "Invalid timestamp in
// token claims." (radkawar/stackd internal/services/sts/testdata/oidc/
// aws.json: exp-fraction, iat-fraction and iat-null are refused so, while
// exp-string and iat-string are accepted).
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

// roleID is a stable AROA… unique ID for a role ARN, like IAM's.
func roleID(arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return "AROA" + base32.StdEncoding.EncodeToString(sum[:])[:17]
}

const secretAlphabet = alphaNum + "+/"

// newSessionToken looks like an STS session token: long, base64, with
// the usual prefix.
func newSessionToken() string {
	return "IQoJb3JpZ2luX2Vj" + randomString(340, secretAlphabet)
}
