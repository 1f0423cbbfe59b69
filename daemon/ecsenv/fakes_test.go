package ecsenv_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The stand-ins below imitate the services' JSON 1.1 wire protocol: POST /
// with X-Amz-Target naming the operation, Content-Type
// application/x-amz-json-1.1, a JSON body; errors as HTTP 400 (or 5xx) with
// a body {"__type": CODE, "message": ...}. Each response and error body is
// taken from the operation's page in the API reference, cited where it is
// built.

const account = "111122223333"

// principal is who the fakes say was refused, as IAM words it.
const principal = "arn:aws:sts::" + account + ":assumed-role/dev/credd"

// credentialScopeRE reads the region and service of a SigV4 Authorization
// header: "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/ssm/aws4_request, ...".
var credentialScopeRE = regexp.MustCompile(`Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request`)

// call is one request a fake received.
type call struct {
	Target      string
	ContentType string
	Region      string // of the SigV4 credential scope
	Service     string // likewise
	Body        map[string]any
}

// recorder keeps the calls a fake received.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) record(t *testing.T, req *http.Request) call {
	t.Helper()
	c := call{Target: req.Header.Get("X-Amz-Target"), ContentType: req.Header.Get("Content-Type")}
	if m := credentialScopeRE.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		c.Region, c.Service = m[1], m[2]
	}
	if req.Method != http.MethodPost || req.URL.Path != "/" {
		t.Errorf("%s %s: JSON 1.1 requests are POST /", req.Method, req.URL.Path)
	}
	if err := json.NewDecoder(req.Body).Decode(&c.Body); err != nil {
		t.Errorf("request body is not JSON: %v", err)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return c
}

func (r *recorder) Calls() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "c1d2e3f4-0000-4000-8000-000000000000")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// notAuthorized is IAM's wording of an implicit deny ("Troubleshoot access
// denied error messages", IAM User Guide, troubleshoot_access-denied.html).
func notAuthorized(action, resource string) string {
	return "User: " + principal + " is not authorized to perform: " + action + " on resource: " + resource +
		" because no identity-based policy allows the " + action + " action"
}

// kmsCiphertextDenied is what SSM relays from KMS when the role may not
// decrypt a SecureString's customer-managed key (as reported in
// tryolabs/aws-workshop#6 and Droplr/aws-env#29).
const kmsCiphertextDenied = "The ciphertext refers to a customer master key that does not exist, does not exist in this region, " +
	"or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: 5f642215-959a-11e8-bfd1-81a81941d54a)"

// fakeParameter is a parameter the fake SSM holds.
type fakeParameter struct {
	Region, Name, Type, Value string
	Version                   int
	// Denied: IAM refuses ssm:GetParameters on it; KMSDenied: the role may
	// not use its customer-managed key.
	Denied, KMSDenied bool
}

func (p fakeParameter) arn() string {
	return "arn:aws:ssm:" + p.Region + ":" + account + ":parameter/" + strings.TrimPrefix(p.Name, "/")
}

// fakeSSM imitates SSM GetParameters (API_GetParameters.html).
type fakeSSM struct {
	recorder
	params []fakeParameter
}

func newFakeSSM(t *testing.T, params ...fakeParameter) (*fakeSSM, string) {
	t.Helper()
	f := &fakeSSM{params: params}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(t, w, r) }))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// lookup finds what GetParameters is asked for in region: a name, a
// /path/name, or an ARN, each with an optional :version.
func (f *fakeSSM) lookup(region, asked string) (fakeParameter, string, bool) {
	name := asked
	if rest, ok := strings.CutPrefix(asked, "arn:aws:ssm:"+region+":"+account+":parameter/"); ok {
		name = rest
		if strings.Contains(strings.SplitN(rest, ":", 2)[0], "/") {
			name = "/" + rest
		}
	}
	name, version, _ := strings.Cut(name, ":")
	for _, p := range f.params {
		// "/TestParam1" and "TestParam1" are one parameter
		// (sysman-parameter-name-constraints).
		if p.Region == region && strings.TrimPrefix(p.Name, "/") == strings.TrimPrefix(name, "/") &&
			(version == "" || version == itoa(p.Version)) {
			selector := ""
			if version != "" {
				selector = ":" + version
			}
			return p, selector, true
		}
	}
	return fakeParameter{}, "", false
}

func (f *fakeSSM) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	c := f.record(t, r)
	if c.Target != "AmazonSSM.GetParameters" {
		writeJSON(w, 400, map[string]string{"__type": "UnknownOperationException"})
		return
	}
	var names []string
	for _, n := range c.Body["Names"].([]any) {
		names = append(names, n.(string))
	}
	// "Array Members: Minimum number of 1 item. Maximum number of 10 items."
	if len(names) < 1 || len(names) > 10 {
		writeJSON(w, 400, map[string]string{"__type": "ValidationException",
			"message": "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length less than or equal to 10"})
		return
	}
	type parameter struct {
		ARN, DataType    string
		LastModifiedDate float64
		Name             string
		Selector         string `json:",omitempty"`
		Type, Value      string
		Version          int
	}
	var found []parameter
	invalid := []string{}
	for _, asked := range names {
		p, selector, ok := f.lookup(c.Region, asked)
		if !ok {
			invalid = append(invalid, asked)
			continue
		}
		// IAM refuses the whole call when it denies one resource.
		if p.Denied {
			writeJSON(w, 400, map[string]string{"__type": "AccessDeniedException",
				"message": notAuthorized("ssm:GetParameters", p.arn())})
			return
		}
		if p.KMSDenied {
			writeJSON(w, 400, map[string]string{"__type": "AccessDeniedException", "message": kmsCiphertextDenied})
			return
		}
		value := p.Value
		if p.Type == "SecureString" && c.Body["WithDecryption"] != true {
			value = "AQICAHh-ciphertext-not-decrypted" // without WithDecryption SSM returns the ciphertext
		}
		found = append(found, parameter{ARN: p.arn(), DataType: "text", LastModifiedDate: 1582657288.8,
			Name: p.Name, Selector: selector, Type: p.Type, Value: value, Version: p.Version})
	}
	// "The results for GetParameters requests are listed in alphabetical
	// order in query responses."
	slices.SortFunc(found, func(a, b parameter) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, 200, map[string]any{"Parameters": found, "InvalidParameters": invalid})
}

// fakeVersion is one version of a fake secret.
type fakeVersion struct {
	ID     string
	Stages []string
	String *string
	Binary []byte
}

// fakeSecret is a secret the fake Secrets Manager holds.
type fakeSecret struct {
	ARN      string // with its 6-character suffix
	Versions []fakeVersion
	// Denied: IAM refuses secretsmanager:GetSecretValue; KMSDenied: the
	// role may not use its customer-managed key; KMSBroken: the key is
	// disabled.
	Denied, KMSDenied, KMSBroken bool
}

// fakeSecretsManager imitates Secrets Manager GetSecretValue
// (API_GetSecretValue.html).
type fakeSecretsManager struct {
	recorder
	secrets []fakeSecret
}

func newFakeSecretsManager(t *testing.T, secrets ...fakeSecret) (*fakeSecretsManager, string) {
	t.Helper()
	f := &fakeSecretsManager{secrets: secrets}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { f.serve(t, w, r) }))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeSecretsManager) serve(t *testing.T, w http.ResponseWriter, r *http.Request) {
	c := f.record(t, r)
	if c.Target != "secretsmanager.GetSecretValue" {
		writeJSON(w, 400, map[string]string{"__type": "UnknownOperationException"})
		return
	}
	id, _ := c.Body["SecretId"].(string)
	stage, _ := c.Body["VersionStage"].(string)
	versionID, _ := c.Body["VersionId"].(string)
	// ResourceNotFoundException: "Secrets Manager can't find the resource
	// that you asked for." The message is the service's usual wording.
	notFound := map[string]string{"__type": "ResourceNotFoundException", "Message": "Secrets Manager can't find the specified secret."}
	i := slices.IndexFunc(f.secrets, func(s fakeSecret) bool { return s.ARN == id })
	if i < 0 {
		writeJSON(w, 400, notFound)
		return
	}
	s := f.secrets[i]
	switch {
	case s.Denied:
		writeJSON(w, 400, map[string]string{"__type": "AccessDeniedException", "Message": notAuthorized("secretsmanager:GetSecretValue", s.ARN)})
		return
	case s.KMSDenied:
		// As reported in aws-samples/aws-secrets-manager-rotation-lambdas#53.
		writeJSON(w, 400, map[string]string{"__type": "AccessDeniedException", "Message": "Access to KMS is not allowed"})
		return
	case s.KMSBroken:
		// DecryptionFailure: "Secrets Manager can't decrypt the protected
		// secret text using the provided KMS key."
		writeJSON(w, 400, map[string]string{"__type": "DecryptionFailure",
			"Message": "Secrets Manager can't decrypt the protected secret text using the provided KMS key."})
		return
	}
	if stage == "" && versionID == "" {
		stage = "AWSCURRENT" // "If you don't specify either a VersionStage or VersionId, then Secrets Manager returns the AWSCURRENT version."
	}
	vi := slices.IndexFunc(s.Versions, func(v fakeVersion) bool {
		return (stage == "" || slices.Contains(v.Stages, stage)) && (versionID == "" || v.ID == versionID)
	})
	if vi < 0 {
		notFound["Message"] = "Secrets Manager can't find the specified secret value for staging label: " + stage
		writeJSON(w, 400, notFound)
		return
	}
	v := s.Versions[vi]
	name := strings.SplitN(s.ARN, ":", 7)[6]
	out := map[string]any{"ARN": s.ARN, "Name": name[:len(name)-7], "VersionId": v.ID, "VersionStages": v.Stages, "CreatedDate": 1523477145.713}
	if v.String != nil {
		out["SecretString"] = *v.String
	}
	if v.Binary != nil {
		out["SecretBinary"] = v.Binary // encoding/json writes []byte as base64, as the service does
	}
	writeJSON(w, 200, out)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// unused fails the test if a service is called at all.
func unused(t *testing.T, service string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("%s was called (%s) but should not have been", service, r.Header.Get("X-Amz-Target"))
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
