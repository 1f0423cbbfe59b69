package sandbox

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/policy"
)

// session is a set of credentials the emulator issued.
type session struct {
	secret, token string
	expires       time.Time
	arn, userID   string
	account       string
	// tags are the session tags the token carried, nil for none.
	tags *policy.SessionTags
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
	// PackedPolicySize is set when the token carried session tags.
	PackedPolicySize *int `xml:"PackedPolicySize,omitempty"`
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
	// Tags are checked once the token is, before the role: credd's order.
	packed, aerr := checkSessionTags(claims)
	if aerr != nil {
		if claims.tagsErr != nil {
			s.log.Info("session tags refused", "request_id", reqID, "sub", claims.Subject, "why", claims.tagsErr.Error())
		}
		s.writeError(w, reqID, aerr)
		return
	}
	r := s.lookupRole(in.roleARN)
	if r == nil {
		s.log.Info("unknown role", "request_id", reqID, "role", in.roleARN, "sub", claims.Subject)
		s.writeError(w, reqID, errAccessDenied)
		return
	}
	// The claims as STS read them, evaluated by the same evaluator as credd
	// doctor --trust-policy, so the two agree.
	if res := s.trustPolicy(r).Evaluate(trustRequest(claims, r.account)); !res.Allowed() {
		var why []string
		for _, f := range res.Failures() {
			why = append(why, f.String())
		}
		s.log.Info("trust policy refused", "request_id", reqID, "role", in.roleARN,
			"decision", res.Decision, "sub", claims.Subject, "aud", claims.Audience, "why", why)
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
		tags:    claims.sessionTags,
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
		Audience:      claims.audience(),
		Arn:           sess.arn,
		AssumedRoleID: sess.userID,
		SessionToken:  sess.token,
		SecretKey:     sess.secret,
		Expiration:    sess.expires.Format(daemon.ExpirationLayout),
		AccessKeyID:   akid,
		// Real STS names the IAM OIDC provider by its ARN:
		// arn:aws:iam::ACCOUNT:oidc-provider/HOST for the token's iss
		// (radkawar/stackd internal/services/sts/testdata/oidc/aws.json,
		// baseline-2 and every other success; the API reference only says
		// it comes from the token's iss).
		Provider:         policy.ProviderARN(r.account, claims.Issuer),
		PackedPolicySize: packed,
	}))
}

type assumeInput struct {
	roleARN, sessionName, token string
	duration                    time.Duration
}

// stringParam is a string member of AssumeRoleWithWebIdentityRequest with
// its constraints, as the STS API model gives them (botocore
// data/sts/2011-06-15/service-2.json: arnType, roleSessionNameType,
// clientTokenType).
type stringParam struct {
	param, member string // RoleArn, roleArn
	pattern       *regexp.Regexp
	patternText   string // as AWS quotes it
	min, max      int
	// sensitive values are not quoted back: "Value at 'webIdentityToken'
	// failed to satisfy constraint: Member must have length greater than
	// or equal to 4", captured for an empty token (iterate-ch/cyberduck,
	// s3/src/main/java/ch/cyberduck/core/sts/AssumeRoleWithWebIdentitySTSCredentialsConfigurator.java);
	// the model marks clientTokenType sensitive.
	sensitive bool
}

var (
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]*$`)
	arnPattern         = regexp.MustCompile(`^[\t\n\r\x{20}-\x{7E}\x{85}\x{A0}-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]+$`)

	assumeParams = []stringParam{
		{param: "RoleArn", member: "roleArn", pattern: arnPattern, min: 20, max: 2048,
			patternText: `[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+`},
		{param: "RoleSessionName", member: "roleSessionName", pattern: sessionNamePattern, min: 2, max: 64,
			patternText: `[\w+=,.@-]*`},
		{param: "WebIdentityToken", member: "webIdentityToken", min: 4, max: 20000, sensitive: true},
	}
)

// violations lists how value breaks p's constraints, in AWS's words: the
// pattern before the length (newscorpaus/consigliere#18,
// mmmorris1975/aws-runas#80). present is false for a parameter not sent,
// which is null; one sent empty is a value, the empty string (the same
// captures).
func (p stringParam) violations(value string, present bool) []string {
	if !present {
		return []string{fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", p.member)}
	}
	at := fmt.Sprintf("Value '%s' at '%s'", value, p.member)
	if p.sensitive {
		at = fmt.Sprintf("Value at '%s'", p.member)
	}
	var out []string
	if p.pattern != nil && !p.pattern.MatchString(value) {
		out = append(out, at+" failed to satisfy constraint: Member must satisfy regular expression pattern: "+p.patternText)
	}
	switch n := utf8.RuneCountInString(value); {
	case n < p.min:
		out = append(out, fmt.Sprintf("%s failed to satisfy constraint: Member must have length greater than or equal to %d", at, p.min))
	case n > p.max:
		out = append(out, fmt.Sprintf("%s failed to satisfy constraint: Member must have length less than or equal to %d", at, p.max))
	}
	return out
}

// validateAssume checks the parameters as AWS does, before the token,
// and reports every violated constraint at once, in the model's member
// order (RoleArn, RoleSessionName, WebIdentityToken, DurationSeconds).
func (s *STS) validateAssume(params url.Values) (assumeInput, *apiError) {
	in := assumeInput{
		roleARN:     params.Get("RoleArn"),
		sessionName: params.Get("RoleSessionName"),
		token:       params.Get("WebIdentityToken"),
		duration:    time.Hour,
	}
	var secs int64
	v := params.Get("DurationSeconds")
	if v != "" {
		var err error
		if secs, err = strconv.ParseInt(v, 10, 32); err != nil { // words credd's own
			return in, errValidation("Value (%s) for parameter DurationSeconds is invalid. Must be an integer.", v)
		}
		in.duration = time.Duration(secs) * time.Second
	}
	var violations []string
	for _, p := range assumeParams {
		_, present := params[p.param]
		violations = append(violations, p.violations(params.Get(p.param), present)...)
	}
	if v != "" {
		lo, hi := int64(900), int64(43200)
		if s.maxLifetime > 0 {
			lo = 1
		}
		if secs < lo {
			violations = append(violations, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", secs, lo))
		}
		if secs > hi {
			violations = append(violations, fmt.Sprintf("Value '%d' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", secs, hi))
		}
	}
	if len(violations) > 0 {
		return in, errValidations(violations)
	}
	if _, _, ok := parseRoleARN(in.roleARN); !ok {
		return in, errValidation("Request ARN is invalid")
	}
	return in, nil
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
