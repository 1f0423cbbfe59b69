package sandbox

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/credd-dev/credd/daemon/clock"
	"github.com/credd-dev/credd/daemon/policy"
)

// DefaultAccountID is the account of the default role.
const DefaultAccountID = "123456789012"

// DefaultRoleARN is the role an STS with no configured roles knows: it trusts
// the sandbox issuer for audience "sts.amazonaws.com" and subjects
// "repo:credd-dev/*". (With another AccountID, that account replaces
// 123456789012.)
const DefaultRoleARN = "arn:aws:iam::" + DefaultAccountID + ":role/credd-sandbox"

const (
	stsVersion   = "2011-06-15"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	maxBodyBytes = 1 << 20
)

// STSOptions configure an STS emulator. Zero values mean the documented defaults.
type STSOptions struct {
	Clock  clock.Clock  // nil = clock.Real{}
	Logger *slog.Logger // nil = discard
	// AccountID is the account of the default role; "" = DefaultAccountID.
	AccountID string
	// Roles are the roles that trust Issuer; none = the default role.
	Roles []Role
	// Issuer is the trusted OIDC provider, whose keys verify tokens and whose
	// URL must be the tokens' "iss". Required.
	Issuer *Issuer
	// MaxLifetime caps the credentials' lifetime (DurationSeconds) and lifts
	// the 900..43200 s bounds to ≥1 s, for tests with short-lived
	// credentials. 0 = no cap, AWS's bounds.
	MaxLifetime time.Duration
	// TrustedIssuers are OIDC providers outside the sandbox (a real IdP,
	// say) whose tokens are accepted too, verified with the keys their
	// discovery document points at; roles still check "aud" and "sub".
	TrustedIssuers []string
}

// Role is an IAM role whose trust policy allows sts:AssumeRoleWithWebIdentity
// by the sandbox issuer.
type Role struct {
	ARN string
	// Audience is the "aud" the trust policy requires; "" = DefaultAudience.
	// Every role's audience is also a client ID of the OIDC provider: a token
	// for none of them is refused as InvalidIdentityToken, as AWS does.
	Audience string
	// SubjectPattern is an IAM StringLike pattern ("*" and "?") for "sub";
	// "" = any subject.
	SubjectPattern string
	// MaxSessionDuration is the role's longest DurationSeconds; 0 = 12h.
	MaxSessionDuration time.Duration
	// Issuer is the OIDC provider the role trusts: "" = the sandbox issuer,
	// or one of STSOptions.TrustedIssuers.
	Issuer string
	// TrustPolicy, if set, is the role's trust policy (IAM JSON), evaluated
	// by daemon/policy as credd doctor evaluates it. "" = the policy
	// equivalent to Audience and SubjectPattern: Allow
	// sts:AssumeRoleWithWebIdentity to the issuer's provider with
	// StringEquals <provider>:aud and StringLike <provider>:sub.
	// A token carrying session tags (credd-bridge's) also needs
	// sts:TagSession, which that default does not allow, as AWS refuses
	// such a token for a role whose trust policy lacks it.
	TrustPolicy string
}

// STS emulates the AWS STS Query API: AssumeRoleWithWebIdentity against the
// sandbox issuer and SigV4-verified GetCallerIdentity for the credentials it
// issued. It is safe for concurrent use.
type STS struct {
	clock       clock.Clock
	log         *slog.Logger
	issuer      *Issuer
	roles       map[string]*role
	clientIDs   map[string]bool
	maxLifetime time.Duration
	external    *externalIssuers

	mu       sync.Mutex
	faults   []*queuedFault
	sessions map[string]*session // by access key ID
	calls    map[string]int64
	verified int64
}

type role struct {
	Role
	account, name, id string
	trust             *policy.Document // nil = DefaultTrustPolicy of the role
}

// NewSTS makes an STS emulator trusting opts.Issuer.
func NewSTS(opts STSOptions) (*STS, error) {
	if opts.Issuer == nil {
		return nil, errors.New("sandbox: STSOptions.Issuer is required")
	}
	if opts.MaxLifetime < 0 {
		return nil, fmt.Errorf("sandbox: negative MaxLifetime %s", opts.MaxLifetime)
	}
	s := &STS{
		clock:       opts.Clock,
		log:         opts.Logger,
		issuer:      opts.Issuer,
		roles:       map[string]*role{},
		clientIDs:   map[string]bool{},
		maxLifetime: opts.MaxLifetime,
		sessions:    map[string]*session{},
		calls:       map[string]int64{},
	}
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "sandbox-sts")
	s.external = newExternalIssuers(opts.TrustedIssuers, s.log)
	roles := opts.Roles
	if len(roles) == 0 {
		account := cmp.Or(opts.AccountID, DefaultAccountID)
		roles = []Role{{
			ARN:            "arn:aws:iam::" + account + ":role/credd-sandbox",
			Audience:       DefaultAudience,
			SubjectPattern: "repo:credd-dev/*",
		}}
	}
	for _, r := range roles {
		if err := s.AddRole(r); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// AddRole creates a role, as iam:CreateRole does, and registers its
// audience as a client ID of the OIDC provider. A role that exists is left
// as it is. The daemon's sandbox token source adds the role it is told to
// assume, so a sandbox answers for whatever role ARN a user configures.
func (s *STS) AddRole(r Role) error {
	rr, err := newRole(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.roles[r.ARN]; !ok {
		s.roles[r.ARN] = rr
	}
	s.clientIDs[rr.Audience] = true
	return nil
}

// lookupRole returns the role with the ARN, or nil.
func (s *STS) lookupRole(arn string) *role {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roles[arn]
}

// isClientID reports whether aud is a client ID of the OIDC provider.
func (s *STS) isClientID(aud string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientIDs[aud]
}

func newRole(r Role) (*role, error) {
	account, name, ok := parseRoleARN(r.ARN)
	if !ok {
		return nil, fmt.Errorf("sandbox: role ARN %q is not arn:aws:iam::ACCOUNT:role/NAME", r.ARN)
	}
	if r.MaxSessionDuration < 0 {
		return nil, fmt.Errorf("sandbox: role %s: negative MaxSessionDuration", r.ARN)
	}
	r.Audience = cmp.Or(r.Audience, DefaultAudience)
	r.SubjectPattern = cmp.Or(r.SubjectPattern, "*")
	if r.MaxSessionDuration == 0 {
		r.MaxSessionDuration = 12 * time.Hour
	}
	rr := &role{Role: r, account: account, name: name, id: roleID(r.ARN)}
	if r.TrustPolicy != "" {
		doc, err := policy.Parse([]byte(r.TrustPolicy))
		if err != nil {
			return nil, fmt.Errorf("sandbox: role %s: trust policy: %w", r.ARN, err)
		}
		rr.trust = doc
	}
	return rr, nil
}

// DefaultTrustPolicy is the trust policy of a role without TrustPolicy: it
// allows sts:AssumeRoleWithWebIdentity to issuerURL's OIDC provider in
// account for tokens whose aud equals audience and whose sub is like
// subjectPattern.
func DefaultTrustPolicy(account, issuerURL, audience, subjectPattern string) *policy.Document {
	prov := policy.ProviderName(issuerURL)
	return &policy.Document{Version: "2012-10-17", Statements: []policy.Statement{{
		Sid:       "TrustSandboxIssuer",
		Effect:    "Allow",
		Principal: &policy.Principal{Federated: []string{policy.ProviderARN(account, issuerURL)}},
		Action:    []string{policy.ActionAssumeRoleWithWebIdentity},
		Conditions: []policy.Condition{
			{Operator: "StringEquals", Key: prov + ":aud", Values: []string{audience}},
			{Operator: "StringLike", Key: prov + ":sub", Values: []string{subjectPattern}},
		},
	}}}
}

// trustPolicy returns the role's effective trust policy.
func (s *STS) trustPolicy(r *role) *policy.Document {
	s.mu.Lock()
	doc := r.trust
	s.mu.Unlock()
	if doc != nil {
		return doc
	}
	return DefaultTrustPolicy(r.account, cmp.Or(r.Issuer, s.issuer.URL()), r.Audience, r.SubjectPattern)
}

// TrustPolicy returns the effective trust policy of a role as IAM JSON, for
// tests and demos that hand it to credd doctor.
func (s *STS) TrustPolicy(roleARN string) ([]byte, error) {
	r := s.lookupRole(roleARN)
	if r == nil {
		return nil, fmt.Errorf("sandbox: no role %s", roleARN)
	}
	return json.MarshalIndent(s.trustPolicy(r), "", "  ")
}

// SetTrustPolicy replaces a role's trust policy (IAM JSON; "" restores the
// default), as iam:UpdateAssumeRolePolicy does. Safe while serving.
func (s *STS) SetTrustPolicy(roleARN, doc string) error {
	r := s.lookupRole(roleARN)
	if r == nil {
		return fmt.Errorf("sandbox: no role %s", roleARN)
	}
	var parsed *policy.Document
	if doc != "" {
		var err error
		if parsed, err = policy.Parse([]byte(doc)); err != nil {
			return fmt.Errorf("sandbox: role %s: trust policy: %w", roleARN, err)
		}
	}
	s.mu.Lock()
	r.trust = parsed
	s.mu.Unlock()
	s.log.Info("trust policy set", "role", roleARN, "default", doc == "")
	return nil
}

// parseRoleARN splits arn:aws:iam::ACCOUNT:role/PATH/NAME.
func parseRoleARN(arn string) (account, name string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] != "iam" || parts[3] != "" ||
		len(parts[4]) != 12 || strings.Trim(parts[4], "0123456789") != "" || !strings.HasPrefix(parts[5], "role/") {
		return "", "", false
	}
	name = parts[5][strings.LastIndex(parts[5], "/")+1:]
	return parts[4], name, name != ""
}

// stringLike compiles an IAM StringLike pattern.
func stringLike(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// Calls counts requests per Action, faulted and failed ones included.
func (s *STS) Calls(action string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// VerifiedCalls counts GetCallerIdentity calls whose SigV4 signature verified.
func (s *STS) VerifiedCalls() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verified
}

// Handler serves the STS Query API on any path: POST with a form body, or GET.
func (s *STS) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	reqID := newUUID()
	w.Header()["x-amzn-RequestId"] = []string{reqID}
	body, params, aerr := readRequest(w, r)
	if aerr != nil {
		s.writeError(w, reqID, aerr)
		return
	}
	action := params.Get("Action")
	s.mu.Lock()
	s.calls[action]++
	s.mu.Unlock()
	if v := params.Get("Version"); v != "" && v != stsVersion {
		s.writeError(w, reqID, &apiError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", action, v)})
		return
	}
	switch action {
	case "AssumeRoleWithWebIdentity":
		if f, ok := s.takeFault(); ok && s.applyFault(w, r, reqID, f) {
			return
		}
		s.assumeRoleWithWebIdentity(w, reqID, params)
	case "GetCallerIdentity":
		s.getCallerIdentity(w, r, reqID, body)
	case "":
		s.writeError(w, reqID, &apiError{http.StatusBadRequest, "MissingAction", "Missing Action"})
	default:
		s.writeError(w, reqID, &apiError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", action, stsVersion)})
	}
}

// readRequest returns the raw body (SigV4 hashes it) and the parameters from
// the query and, for a form POST, the body.
func readRequest(w http.ResponseWriter, r *http.Request) ([]byte, url.Values, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, nil, &apiError{http.StatusMethodNotAllowed, "InvalidHttpRequest", "Only GET and POST are supported."}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, nil, &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Request body too large or unreadable."}
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, &apiError{http.StatusBadRequest, "MalformedQueryString", "The query string is malformed."}
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.Method == http.MethodPost && (mediaType == "" || mediaType == "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, nil, &apiError{http.StatusBadRequest, "MalformedInput", "The request body is not a valid form."}
		}
		for k, v := range form {
			params[k] = append(params[k], v...)
		}
	}
	return body, params, nil
}

// apiError is an AWS Query-protocol error answer.
type apiError struct {
	status        int
	code, message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// The errors AWS answers with exactly these words.
var (
	errAccessDenied = &apiError{http.StatusForbidden, "AccessDenied",
		"Not authorized to perform sts:AssumeRoleWithWebIdentity"}
	// errIDPCommunication: STS could not reach the IdP. Its words are the
	// STS API reference's for IDPCommunicationError (the STS API model, as
	// in aws/aws-sdk-go-v2 service/sts/types/errors.go).
	errIDPCommunication = &apiError{http.StatusBadRequest, "IDPCommunicationError",
		"The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached. " +
			"This is often a transient error caused by network conditions. Retry the request a limited number of times so that you don't exceed the request rate. " +
			"If the error persists, the identity provider might be down or not responding."}
	// errVerificationKey: STS could not get the key that signed the token:
	// the issuer's discovery document or JWKS could not be fetched
	// (aws/aws-cli#7194, awslabs/aws-sdk-rust#827 with the raw 400), or
	// the JWKS has no key for the token's kid (radkawar/stackd
	// internal/services/sts/testdata/oidc/aws.json, unknown-key-id). It is
	// InvalidIdentityToken, not IDPCommunicationError, and has two spaces
	// after the comma.
	errVerificationKey = &apiError{http.StatusBadRequest, "InvalidIdentityToken",
		"Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"}
)

func errValidation(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "ValidationError", fmt.Sprintf(format, args...)}
}

// errValidations reports every violated constraint in one answer: "2
// validation errors detected: A; B" (newscorpaus/consigliere#18,
// mmmorris1975/aws-runas#80), "1 validation error detected: A" for one
// (aws/aws-sdk-cpp#1252).
func errValidations(violations []string) *apiError {
	noun := "validation errors"
	if len(violations) == 1 {
		noun = "validation error"
	}
	return errValidation("%d %s detected: %s", len(violations), noun, strings.Join(violations, "; "))
}

type errorResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func (s *STS) writeError(w http.ResponseWriter, reqID string, e *apiError) {
	kind := "Sender"
	if e.status >= 500 {
		kind = "Receiver"
	}
	s.log.Info("sts error", "request_id", reqID, "status", e.status, "code", e.code, "message", e.message)
	s.writeXML(w, e.status, errorResponse{Type: kind, Code: e.code, Message: e.message, RequestID: reqID})
}

func (s *STS) writeXML(w http.ResponseWriter, status int, v any) {
	body := s.marshal(v)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshal encodes one of this package's response types, which cannot fail.
func (s *STS) marshal(v any) []byte {
	body, err := xml.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "err", err)
	}
	return body
}
