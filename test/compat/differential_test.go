package compat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/credd-dev/credd/daemon/sandbox"
	motoserver "github.com/credd-dev/credd/test/internal/moto"
)

// stsNamespace is the Query API's XML namespace (botocore
// data/sts/2011-06-15/service-2.json, metadata.xmlNamespace).
const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// TestDifferentialSTS sends the same raw Query API requests to moto_server
// and to the sandbox STS and compares what they answer, so that the sandbox
// cannot drift from a second, independent STS without a failing test.
//
// Where both implement a behaviour, any difference fails. moto is lax: it
// verifies no token and checks no AssumeRoleWithWebIdentity parameter
// (moto/sts/responses.py reads them and never refuses), so where a row says
// so and moto answers credentials or no STS answer at all, the difference
// is logged and only the sandbox's answer is checked, against the API
// reference. If moto starts refusing such a request, the two are compared.
func TestDifferentialSTS(t *testing.T) {
	t.Parallel()
	motoBin, _, err := motoServer.find()
	if err != nil {
		missing(t, "moto_server", err)
	}
	moto := &stsImpl{name: "moto", url: motoserver.Start(t, motoBin)}
	// moto checks signatures only when asked to (its INITIAL_NO_AUTH_ACTION_COUNT,
	// which POST /moto-api/reset-auth sets); with them on it refuses the
	// unsigned AssumeRoleWithWebIdentity that STS accepts, so they are on
	// for signed requests only.
	moto.checkSignatures = func(t *testing.T, on bool) { motoAuth(t, moto.url, on) }
	moto.constantRoleID = "moto writes the constant ARO123EXAMPLE123 as the role's ID in AssumeRoleWithWebIdentity answers " +
		"(moto/sts/responses.py) and the session's own in GetCallerIdentity"

	sb := startSandbox(t, sandbox.Options{})
	emulator := &stsImpl{name: "sandbox", url: sb.STSURL}

	// A token the sandbox accepts for its default role; moto accepts anything.
	jwt, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := url.Values{
		"Action":           {"AssumeRoleWithWebIdentity"},
		"Version":          {"2011-06-15"},
		"RoleArn":          {sandbox.DefaultRoleARN},
		"RoleSessionName":  {"differential"},
		"WebIdentityToken": {jwt},
	}
	// with is base with some parameters set, or removed where the value is "".
	with := func(kv ...string) url.Values {
		f := maps.Clone(base)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				f.Del(kv[i])
			} else {
				f.Set(kv[i], kv[i+1])
			}
		}
		return f
	}
	callerIdentity := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}

	// Signed rows use the credentials each implementation issued, as given
	// or spoiled in one part.
	issued := func(c aws.Credentials) aws.Credentials { return c }
	wrongSecret := func(c aws.Credentials) aws.Credentials {
		c.SecretAccessKey = strings.Repeat("x", 40)
		return c
	}
	wrongToken := func(c aws.Credentials) aws.Credentials { c.SessionToken = "not-the-session-token"; return c }
	noToken := func(c aws.Credentials) aws.Credentials { c.SessionToken = ""; return c }
	unknownKey := func(c aws.Credentials) aws.Credentials { c.AccessKeyID = "ASIAUNKNOWNKEY000000"; return c }

	for _, impl := range []*stsImpl{moto, emulator} {
		impl.issue(t, base)
	}

	const lax = "moto checks no AssumeRoleWithWebIdentity parameter (moto/sts/responses.py assume_role_with_web_identity)"
	tests := []struct {
		name string
		form url.Values
		// sign signs the request with the implementation's credentials,
		// changed so; nil = unsigned, as SDKs send AssumeRoleWithWebIdentity.
		sign func(aws.Credentials) aws.Credentials
		// want is the error Code the API reference gives (its Common Errors
		// and AssumeRoleWithWebIdentity's Errors); "" = success.
		want string
		// motoLax says why moto cannot be compared if it does not refuse
		// the request; "" = moto must answer as the sandbox does.
		motoLax string
	}{
		{name: "a valid request gets credentials for the role and session", form: base},
		{name: "DurationSeconds 900, the least, is honoured", form: with("DurationSeconds", "900")},
		{name: "DurationSeconds 43200, the most, is honoured", form: with("DurationSeconds", "43200")},

		// Required members and constraints: botocore's sts service model,
		// AssumeRoleWithWebIdentityRequest (required RoleArn, RoleSessionName,
		// WebIdentityToken), roleSessionNameType (2..64, [\w+=,.@-]*),
		// roleDurationSecondsType (900..43200), clientTokenType (4..20000).
		{name: "a request without WebIdentityToken is a ValidationError", form: with("WebIdentityToken", ""), want: "ValidationError", motoLax: lax},
		{name: "a request without RoleArn is a ValidationError", form: with("RoleArn", ""), want: "ValidationError", motoLax: lax + "; without RoleArn it fails, HTTP 500 (TypeError in moto/sts/responses.py _determine_resource)"},
		{name: "a request without RoleSessionName is a ValidationError", form: with("RoleSessionName", ""), want: "ValidationError", motoLax: lax + `; it names the session "None"`},
		{name: "DurationSeconds 899 is a ValidationError", form: with("DurationSeconds", "899"), want: "ValidationError", motoLax: lax},
		{name: "DurationSeconds 43201 is a ValidationError", form: with("DurationSeconds", "43201"), want: "ValidationError", motoLax: lax},
		{name: "a RoleSessionName with a space is a ValidationError", form: with("RoleSessionName", "has space"), want: "ValidationError", motoLax: lax},
		{name: "a RoleSessionName of 65 characters is a ValidationError", form: with("RoleSessionName", strings.Repeat("a", 65)), want: "ValidationError",
			motoLax: lax + " (it checks the length for AssumeRole only)"},
		{name: "a WebIdentityToken that is not a JWT is an InvalidIdentityToken", form: with("WebIdentityToken", "not-a-jwt"), want: "InvalidIdentityToken",
			motoLax: "moto verifies no web identity token (moto/sts/models.py assume_role_with_web_identity)"},
		// Signed, so that moto routes it to STS by the credential scope
		// (moto/moto_server/werkzeug_app.py infer_service_region_host).
		{name: "an unknown Action is an InvalidAction", form: url.Values{"Action": {"NoSuchAction"}, "Version": {"2011-06-15"}}, sign: issued, want: "InvalidAction",
			motoLax: "moto has no handler for an unknown Action: NotImplementedError (moto/core/responses.py call_action), HTTP 500"},

		// GetCallerIdentity with the credentials each issued, which moto
		// verifies once its signature checks are on (moto/iam/access_control.py).
		{name: "GetCallerIdentity signed with the issued credentials names the assumed role", form: callerIdentity, sign: issued},
		{name: "GetCallerIdentity signed with a wrong secret is SignatureDoesNotMatch", form: callerIdentity, sign: wrongSecret, want: "SignatureDoesNotMatch"},
		{name: "GetCallerIdentity with another session token is InvalidClientTokenId", form: callerIdentity, sign: wrongToken, want: "InvalidClientTokenId"},
		{name: "GetCallerIdentity without the session token is InvalidClientTokenId", form: callerIdentity, sign: noToken, want: "InvalidClientTokenId"},
		{name: "GetCallerIdentity with an access key nobody issued is InvalidClientTokenId", form: callerIdentity, sign: unknownKey, want: "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := moto.send(t, tt.form, tt.sign)
			s := emulator.send(t, tt.form, tt.sign)
			both := fmt.Sprintf("moto:    %s\nsandbox: %s", m, s)

			// The sandbox answers as the API reference says, in the shape
			// SDKs parse, whatever moto does.
			if got := s.outcome(); got != outcomeFor(tt.want) {
				t.Fatalf("the sandbox answers %s, the API reference %s\n%s", got, outcomeFor(tt.want), both)
			}
			if err := s.queryShape(); err != nil {
				t.Errorf("the sandbox's answer is not in the Query protocol's shape: %v\n%s", err, both)
			}

			if m.outcome() != s.outcome() {
				if tt.motoLax == "" || m.isSTSError() {
					t.Fatalf("moto answers %s, the sandbox %s\n%s", m.outcome(), s.outcome(), both)
				}
				t.Logf("not compared: %s\n%s", tt.motoLax, both)
				return
			}
			if tt.motoLax != "" {
				t.Logf("moto now answers this as the sandbox does; compared (the note %q is stale)", tt.motoLax)
			}
			if tt.want == "" {
				compareSuccess(t, tt.form, moto, m, emulator, s, both)
			} else {
				compareErrors(t, m, s, both)
			}
		})
	}
}

// stsImpl is one STS implementation under comparison, and the credentials
// it issued, which signed requests use.
type stsImpl struct {
	name, url string
	// checkSignatures turns the implementation's signature checks on or
	// off before a request; nil = they are always on.
	checkSignatures func(t *testing.T, on bool)
	// constantRoleID says why AssumedRoleId is not the session's user ID,
	// as it is in STS; "" = it must be.
	constantRoleID string
	creds          aws.Credentials
	assumedARN     string // AssumedRoleUser/Arn of the issued credentials
	assumedRoleID  string // AssumedRoleUser/AssumedRoleId
}

// issue asks the implementation for the credentials signed requests use.
func (impl *stsImpl) issue(t *testing.T, form url.Values) {
	t.Helper()
	a := impl.send(t, form, nil)
	if a.outcome() != "success" {
		t.Fatalf("%s does not issue credentials for a valid request: %s", impl.name, a)
	}
	const r = "AssumeRoleWithWebIdentityResult/"
	impl.creds = aws.Credentials{
		AccessKeyID:     a.values[r+"Credentials/AccessKeyId"],
		SecretAccessKey: a.values[r+"Credentials/SecretAccessKey"],
		SessionToken:    a.values[r+"Credentials/SessionToken"],
	}
	impl.assumedARN = a.values[r+"AssumedRoleUser/Arn"]
	impl.assumedRoleID = a.values[r+"AssumedRoleUser/AssumedRoleId"]
}

// send POSTs the form as an SDK does, signed with sign(impl.creds) unless
// sign is nil, and reads the answer.
func (impl *stsImpl) send(t *testing.T, form url.Values, sign func(aws.Credentials) aws.Credentials) stsAnswer {
	t.Helper()
	if impl.checkSignatures != nil {
		impl.checkSignatures(t, sign != nil)
	}
	body := form.Encode()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, impl.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sent := time.Now()
	if sign != nil {
		sum := sha256.Sum256([]byte(body))
		if err := v4.NewSigner().SignHTTP(t.Context(), sign(impl.creds), req, hex.EncodeToString(sum[:]), "sts", "us-east-1", sent); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", impl.name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: read the answer: %v", impl.name, err)
	}
	return readSTSAnswer(resp, data, sent)
}

// motoAuth turns moto's signature checks on or off (moto/moto_api/_internal/
// responses.py reset_auth_response: the number of requests to let through
// unchecked).
func motoAuth(t *testing.T, motoURL string, on bool) {
	t.Helper()
	count := "inf"
	if on {
		count = "0"
	}
	resp, err := http.Post(motoURL+"/moto-api/reset-auth", "text/plain", strings.NewReader(count))
	if err != nil {
		t.Fatalf("moto reset-auth: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto reset-auth %s: %s %s", count, resp.Status, body)
	}
}

// stsAnswer is an HTTP answer with its XML body read as element paths.
type stsAnswer struct {
	status    int
	mediaType string
	root      xml.Name          // zero if the body is not XML
	values    map[string]string // element path below the root ("Error/Code") → text
	body      string
	sent      time.Time // when the request was sent
}

func readSTSAnswer(resp *http.Response, body []byte, sent time.Time) stsAnswer {
	a := stsAnswer{status: resp.StatusCode, values: map[string]string{}, body: string(body), sent: sent}
	a.mediaType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return a
		}
		if err != nil { // HTML, say: no XML answer
			a.root, a.values = xml.Name{}, map[string]string{}
			return a
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				a.root = el.Name
			}
			stack = append(stack, el.Name.Local)
			text.Reset()
		case xml.CharData:
			text.Write(el)
		case xml.EndElement:
			if len(stack) > 1 {
				a.values[strings.Join(stack[1:], "/")] = strings.TrimSpace(text.String())
			}
			stack = stack[:len(stack)-1]
			text.Reset()
		}
	}
}

// code is the error Code, from the Query envelope (ErrorResponse/Error) or
// the EC2 one (Response/Errors/Error) moto uses for signature errors.
func (a stsAnswer) code() string {
	return a.values["Error/Code"] + a.values["Errors/Error/Code"]
}

func (a stsAnswer) isSTSError() bool {
	return a.root.Local == "ErrorResponse" && a.code() != ""
}

// outcome is what the answer amounts to: "success", "error CODE" or
// "no STS answer (...)".
func (a stsAnswer) outcome() string {
	switch {
	case a.isSTSError():
		return "error " + a.code()
	case a.status == http.StatusOK && strings.HasSuffix(a.root.Local, "Response"):
		return "success"
	}
	return fmt.Sprintf("no STS answer (HTTP %d, %s, root %q)", a.status, a.mediaType, a.root.Local)
}

func outcomeFor(code string) string {
	if code == "" {
		return "success"
	}
	return "error " + code
}

// queryShape checks the answer against the Query protocol: text/xml in the
// STS namespace, a result under ActionResult with ResponseMetadata/RequestId,
// or ErrorResponse/Error/{Type,Code,Message} and RequestId, as
// aws-sdk-go-v2 reads it (aws/protocol/xml/error_utils.go,
// wrappedErrorResponse) and the API reference's Common Errors show it.
func (a stsAnswer) queryShape() error {
	var want []string
	switch {
	case a.root.Local == "ErrorResponse":
		want = []string{"Error/Type", "Error/Code", "Error/Message", "RequestId"}
		if a.status < 400 {
			return fmt.Errorf("an error with HTTP %d", a.status)
		}
	case a.status == http.StatusOK:
		action := strings.TrimSuffix(a.root.Local, "Response")
		want = []string{action + "Result", "ResponseMetadata/RequestId"}
	default:
		return fmt.Errorf("HTTP %d with root %q", a.status, a.root.Local)
	}
	if a.mediaType != "text/xml" {
		return fmt.Errorf("Content-Type %q, not text/xml", a.mediaType)
	}
	if a.root.Space != stsNamespace {
		return fmt.Errorf("root %s in namespace %q, not %q", a.root.Local, a.root.Space, stsNamespace)
	}
	for _, p := range want {
		if _, ok := a.values[p]; !ok {
			return fmt.Errorf("no %s", p)
		}
	}
	return nil
}

// paths are the element paths present, sorted.
func (a stsAnswer) paths() []string {
	return slices.Sorted(maps.Keys(a.values))
}

var secretElement = regexp.MustCompile(`(<(?:SecretAccessKey|SessionToken)>)[^<]*`)

// String shows the answer with its secrets cut out.
func (a stsAnswer) String() string {
	body := secretElement.ReplaceAllString(a.body, "$1…")
	body = strings.Join(strings.Fields(body), " ")
	if len(body) > 700 {
		body = body[:700] + "…"
	}
	return fmt.Sprintf("HTTP %d %s %s", a.status, a.mediaType, body)
}

// Where moto's successful answers differ in shape from the sandbox's for
// reasons the test records but does not hold against either.
var (
	// motoOmits are elements the sandbox answers, as STS does (the API
	// reference's AssumeRoleWithWebIdentity response elements), that moto
	// never writes (moto/sts/responses.py builds only Credentials,
	// AssumedRoleUser and PackedPolicySize).
	motoOmits = map[string]string{
		"AssumeRoleWithWebIdentityResult/SubjectFromWebIdentityToken": "the token's sub",
		"AssumeRoleWithWebIdentityResult/Provider":                    "the token's issuer",
		"AssumeRoleWithWebIdentityResult/Audience":                    "the token's aud",
	}
	// motoAdds are elements moto writes that STS answers only in some cases.
	motoAdds = map[string]string{
		// moto hard-codes 6; it is the packed size of the session
		// policies and tags passed in the request (botocore sts model,
		// AssumeRoleWithWebIdentityResponse.PackedPolicySize), and the
		// requests here pass none.
		"AssumeRoleWithWebIdentityResult/PackedPolicySize": "moto's constant 6 with no session policy",
	}
)

// compareSuccess compares two successful answers: the same shape and the
// same values where they must agree.
func compareSuccess(t *testing.T, form url.Values, moto *stsImpl, m stsAnswer, emulator *stsImpl, s stsAnswer, both string) {
	t.Helper()
	if m.status != s.status || m.mediaType != s.mediaType || m.root != s.root {
		t.Errorf("moto answers HTTP %d %s <%s xmlns=%q>, the sandbox HTTP %d %s <%s xmlns=%q>\n%s",
			m.status, m.mediaType, m.root.Local, m.root.Space, s.status, s.mediaType, s.root.Local, s.root.Space, both)
	}
	for _, p := range s.paths() {
		if _, ok := m.values[p]; ok {
			continue
		}
		if why, ok := motoOmits[p]; ok {
			t.Logf("moto omits %s (the sandbox: %q, %s)", p, s.values[p], why)
			continue
		}
		t.Errorf("the sandbox answers %s, moto does not\n%s", p, both)
	}
	for _, p := range m.paths() {
		if _, ok := s.values[p]; ok {
			continue
		}
		if why, ok := motoAdds[p]; ok {
			t.Logf("moto adds %s = %q (%s)", p, m.values[p], why)
			continue
		}
		t.Errorf("moto answers %s, the sandbox does not\n%s", p, both)
	}
	switch s.root.Local {
	case "AssumeRoleWithWebIdentityResponse":
		mExp := checkIssued(t, moto.name, m, form)
		sExp := checkIssued(t, emulator.name, s, form)
		const arn = "AssumeRoleWithWebIdentityResult/AssumedRoleUser/Arn"
		if m.values[arn] != s.values[arn] {
			t.Errorf("moto answers Arn %q, the sandbox %q", m.values[arn], s.values[arn])
		}
		if d := mExp.Sub(sExp).Abs(); d > 3*time.Second {
			t.Errorf("the credentials expire %s apart: moto %s, the sandbox %s", d, mExp, sExp)
		}
		const exp = "AssumeRoleWithWebIdentityResult/Credentials/Expiration"
		if mf, sf := describeTimestamp(m.values[exp]), describeTimestamp(s.values[exp]); mf != sf {
			// STS writes whole seconds (the API reference's example:
			// 2014-10-24T23:00:23Z); SDKs read both.
			t.Logf("Expiration: moto %s, the sandbox %s", mf, sf)
		}
	case "GetCallerIdentityResponse":
		checkCaller(t, moto, m)
		checkCaller(t, emulator, s)
	}
	t.Logf("RequestId: moto %q, the sandbox %q", requestID(m), requestID(s))
}

func requestID(a stsAnswer) string {
	return a.values["ResponseMetadata/RequestId"] + a.values["RequestId"]
}

var (
	// accessKeyRE is a temporary access key ID: ASIA, then 16 of [A-Z0-9]
	// (IAM User Guide, "IAM identifiers", unique ID prefixes).
	accessKeyRE = regexp.MustCompile(`^ASIA[A-Z0-9]{16}$`)
	// roleIDRE is an assumed role ID: the role's unique ID, ":", the session.
	roleIDRE = regexp.MustCompile(`^([A-Z0-9]+):(.+)$`)
)

// checkIssued checks one implementation's credentials against the request
// and returns their expiry.
func checkIssued(t *testing.T, name string, a stsAnswer, form url.Values) time.Time {
	t.Helper()
	const r = "AssumeRoleWithWebIdentityResult/"
	session := form.Get("RoleSessionName")
	role := form.Get("RoleArn")
	account := strings.Split(role, ":")[4]
	roleName := role[strings.LastIndex(role, "/")+1:]
	if got, want := a.values[r+"AssumedRoleUser/Arn"], "arn:aws:sts::"+account+":assumed-role/"+roleName+"/"+session; got != want {
		t.Errorf("%s: AssumedRoleUser/Arn %q, want %q", name, got, want)
	}
	if m := roleIDRE.FindStringSubmatch(a.values[r+"AssumedRoleUser/AssumedRoleId"]); m == nil || m[2] != session {
		t.Errorf("%s: AssumedRoleId %q, want ROLEID:%s", name, a.values[r+"AssumedRoleUser/AssumedRoleId"], session)
	} else if !strings.HasPrefix(m[1], "AROA") {
		t.Logf("%s: AssumedRoleId %q: the role's ID does not start AROA, as IAM's do", name, m[0])
	}
	if id := a.values[r+"Credentials/AccessKeyId"]; !accessKeyRE.MatchString(id) {
		t.Errorf("%s: AccessKeyId %q, want ASIA and 16 of [A-Z0-9]", name, id)
	}
	if n := len(a.values[r+"Credentials/SecretAccessKey"]); n != 40 {
		t.Errorf("%s: SecretAccessKey of %d characters, want 40", name, n)
	}
	if a.values[r+"Credentials/SessionToken"] == "" {
		t.Errorf("%s: empty SessionToken", name)
	}
	// DurationSeconds defaults to 3600 (botocore sts model,
	// AssumeRoleWithWebIdentityRequest.DurationSeconds).
	d := time.Hour
	if v := form.Get("DurationSeconds"); v != "" {
		secs, _ := strconv.Atoi(v)
		d = time.Duration(secs) * time.Second
	}
	exp, err := time.Parse(time.RFC3339Nano, a.values[r+"Credentials/Expiration"])
	if err != nil {
		t.Errorf("%s: Expiration: %v", name, err)
		return exp
	}
	lo, hi := a.sent.Truncate(time.Second).Add(d-time.Second), time.Now().Add(d+time.Second)
	if exp.Before(lo) || exp.After(hi) {
		t.Errorf("%s: Expiration %s is %s after the request, want DurationSeconds %s",
			name, exp.Format(time.RFC3339Nano), exp.Sub(a.sent).Round(time.Second), d)
	}
	return exp
}

// checkCaller checks that GetCallerIdentity names the session the
// credentials were issued for, as STS does: the assumed-role ARN, and as
// UserId the AssumedRoleId (IAM User Guide, aws:userid of a role session).
func checkCaller(t *testing.T, impl *stsImpl, a stsAnswer) {
	t.Helper()
	const r = "GetCallerIdentityResult/"
	for _, c := range []struct{ field, want string }{
		{"Arn", impl.assumedARN},
		{"UserId", impl.assumedRoleID},
		{"Account", sandbox.DefaultAccountID},
	} {
		got := a.values[r+c.field]
		switch {
		case got == c.want:
		case c.field == "UserId" && impl.constantRoleID != "":
			t.Logf("%s: GetCallerIdentity UserId %q, AssumedRoleId %q: %s", impl.name, got, c.want, impl.constantRoleID)
		default:
			t.Errorf("%s: GetCallerIdentity %s %q, want %q as its AssumeRoleWithWebIdentity answered", impl.name, c.field, got, c.want)
		}
	}
	_, session, _ := strings.Cut(impl.assumedRoleID, ":")
	if m := roleIDRE.FindStringSubmatch(a.values[r+"UserId"]); m == nil || !strings.HasPrefix(m[1], "AROA") || m[2] != session {
		t.Errorf("%s: GetCallerIdentity UserId %q, want AROA…:%s", impl.name, a.values[r+"UserId"], session)
	}
}

// compareErrors compares two error answers with the same Code: the HTTP
// status and Type must agree; messages may differ and are logged.
func compareErrors(t *testing.T, m, s stsAnswer, both string) {
	t.Helper()
	if m.status != s.status {
		t.Errorf("moto answers %s with HTTP %d, the sandbox with %d\n%s", m.code(), m.status, s.status, both)
	}
	mType := m.values["Error/Type"] + m.values["Errors/Error/Type"]
	if sType := s.values["Error/Type"]; mType != "" && mType != sType {
		t.Errorf("moto answers Type %q, the sandbox %q\n%s", mType, sType, both)
	}
	if _, ec2 := m.values["Errors/Error/Code"]; ec2 {
		// moto raises signature errors as its generic _RESTError
		// (moto/core/exceptions.py), in EC2's envelope, which
		// aws-sdk-go-v2 reads only for ec2query
		// (aws/protocol/ec2query/error_utils.go); the sandbox's is the
		// Query envelope checked above.
		t.Logf("moto answers %s in EC2's error envelope (ErrorResponse/Errors/Error, %s, root namespace %q, no RequestId), not the Query one",
			m.code(), m.mediaType, m.root.Space)
	} else if err := m.queryShape(); err != nil {
		t.Errorf("moto's error is not in the Query protocol's shape either: %v\n%s", err, both)
	} else if !slices.Equal(m.paths(), s.paths()) {
		t.Errorf("the error envelopes differ: moto %v, the sandbox %v\n%s", m.paths(), s.paths(), both)
	}
	mMsg := m.values["Error/Message"] + m.values["Errors/Error/Message"]
	if sMsg := s.values["Error/Message"]; mMsg == sMsg {
		t.Logf("both say %q", sMsg)
	} else {
		t.Logf("messages differ:\nmoto:    %q\nsandbox: %q", mMsg, sMsg)
	}
}
