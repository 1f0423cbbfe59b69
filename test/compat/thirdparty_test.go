package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// thirdParty is a client users tried against credd that is not one of the
// AWS SDKs of the main matrix: a library or tool with a credential chain
// of its own. Each one runs in the clean environment of clientEnv, gets
// credentials from credd and signs requests that a stand-in verifies: the
// sandbox STS (GetCallerIdentity) or, for S3 clients, s3Stub.
type thirdParty struct {
	name      string // as the matrix shows it
	installed string // where it comes from
	// find returns the command that runs the client, built or installed
	// for this run, or an error wrapping errMissing. bin is a directory for
	// what the suite builds. nil: the client is not run here (see notRun).
	find func(bin string) ([]string, error)
	// version reports the client's version; nil: ask `argv version`.
	version func(argv []string) (string, error)
	// s3: the client signs S3 requests for s3Stub, not STS ones.
	s3 bool
	// runs, for a CLI, makes n runs, each a process of its own (so credd
	// sees n fetches, not one). nil: argv speaks the protocol of
	// goclient/protocol, `calls N ENDPOINT`, in one process.
	// name is new for each set of runs, the same from one test run to
	// the next (it shows in error messages).
	runs func(t *testing.T, argv, env []string, endpoint, name string, n int) run
	// readsTokenFile: the client reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
	readsTokenFile bool
	// showsMessage: with a wrong token, the client's error carries credd's
	// 401 message.
	showsMessage bool
	// credentialProcess: the client ignores AWS_CONTAINER_CREDENTIALS_FULL_URI
	// (the suite checks that it never asks credd), and works through
	// `credential_process = credd credential-process` in its AWS config.
	credentialProcess bool
	// fetchesPerProcess is how often one process fetches (0 means once).
	fetchesPerProcess int64
	notes             string
	// notRun says why a client is not run here and what a user reported.
	notRun string
}

var thirdParties = []thirdParty{
	{
		name: "minio-go 7.4", installed: "Go module `github.com/minio/minio-go/v7` (test/compat/goclient/minio, go.mod)",
		find: goModule("minio", "go.mod"), s3: true,
		readsTokenFile: true, showsMessage: false,
		notes: "Its IAM provider, `credentials.NewIAM(\"\")`. The file wins when both are set (an EKS Pod Identity branch of `IAM.Retrieve`). A non-200 answer becomes `errors.New(resp.Status)`, so the body is dropped (pkg/credentials/iam_aws.go, getEcsTaskCredentials). PutObject over http is sent with aws-chunked signed chunks.",
	},
	{
		name: "minio-go 7.0.46", installed: "Go module `github.com/minio/minio-go/v7` (test/compat/goclient/minio, go.minio-7.0.46.mod)",
		find: goModule("minio", "go.minio-7.0.46.mod"), s3: true,
		readsTokenFile: false, showsMessage: false,
		notes: "The version Debian's restic 0.14 is built with. Reads only AWS_CONTAINER_AUTHORIZATION_TOKEN; drops the 401 body as 7.4 does.",
	},
	{
		name: "restic 0.14", installed: "Debian `restic` (apt), /usr/bin/restic",
		find: onPath("restic", "apt-get install restic"), version: restic0Version, s3: true,
		runs:           resticRuns,
		readsTokenFile: false, showsMessage: false,
		notes: "`restic -r s3:<endpoint>/<bucket>/<repo> init`, then `snapshots`. Built with minio-go 7.0.46, whose credential chain ends in anonymous credentials: when credd refuses the token, restic sends unsigned requests and shows S3's `Access Denied`.",
	},
	{
		name: "rclone 1.60", installed: "Debian `rclone` (apt), /usr/bin/rclone",
		find: onPath("rclone", "apt-get install rclone"), version: rcloneVersion, s3: true,
		runs:           rcloneRuns,
		readsTokenFile: false, showsMessage: false,
		notes: "`env_auth = true` (RCLONE_S3_ENV_AUTH), which hands credentials to aws-sdk-go 1.44.133 (Debian's build): reads only AWS_CONTAINER_AUTHORIZATION_TOKEN (file support came in 1.47.11).",
	},
	{
		name: "aws-sdk-go-base v2 (Terraform)", installed: "Go module `github.com/hashicorp/aws-sdk-go-base/v2` (test/compat/goclient/gobase, go.mod)",
		find:           goModule("gobase", "go.mod"),
		readsTokenFile: true, showsMessage: true,
		notes: "`awsbase.GetAwsConfig` with no keys, profile or role, then the provider's credential check (`GetAwsAccountIDAndPartition`, a GetCallerIdentity) on the first call: over aws-sdk-go-v2's chain, so the file wins when both are set.",
	},
	{
		name: "aws-sdk-go-v2 config 1.18", installed: "Go module `github.com/aws/aws-sdk-go-v2/config` v1.18.45 (test/compat/goclient/config118, go.mod)",
		find:           goModule("config118", "go.mod"),
		readsTokenFile: false, showsMessage: true,
		notes: "Reads only AWS_CONTAINER_AUTHORIZATION_TOKEN (the file came in config v1.25.0) and ignores AWS_ENDPOINT_URL_STS.",
	},
	{
		name: "awscrt (Python) 0.16", installed: "Debian `python3-awscrt` (apt), /usr/bin/python3",
		find: crtPython, version: crtPythonVersion,
		readsTokenFile: false, showsMessage: false,
		notes: "`AwsCredentialsProvider.new_default_chain()` and `aws_sign_request`. The CRT's ECS provider reports its own error code, not the answer's body.",
	},
	{
		name: "aws-crt (Node) 1.33", installed: "npm `aws-crt` (test/compat/node-thirdparty, package-lock.json)",
		find:           nodeThirdParty("crt", "aws-crt"),
		readsTokenFile: true, showsMessage: false,
		notes: "`AwsCredentialsProvider.newDefault()` and `aws_sign_request`; the same C runtime as awscrt, newer.",
	},
	{
		name: "@smithy/credential-provider-imds fromContainerMetadata", installed: "npm `@smithy/credential-provider-imds` (test/compat/node-thirdparty, package-lock.json)",
		find:           nodeThirdParty("smithy", "@smithy/credential-provider-imds"),
		readsTokenFile: false, showsMessage: false,
		notes: "The JavaScript SDK v3's container provider before `fromHttp`; accepts only `localhost` and `127.0.0.1` over http and reads only AWS_CONTAINER_AUTHORIZATION_TOKEN (src/fromContainerMetadata.ts). It reports a 401 as a generic error without the body.",
	},
	{
		name: "aws-sdk-core (Ruby) 3.168", installed: "Debian `ruby-aws-sdk-core` (apt), /usr/bin/ruby",
		find: rubyClient, credentialProcess: true,
		// ProcessCredentials#initialize runs the process, then calls
		// RefreshingCredentials#initialize, whose refresh runs it again
		// (lib/aws-sdk-core/process_credentials.rb, refreshing_credentials.rb).
		fetchesPerProcess: 2,
		notes:             "Its chain uses the container provider only for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (lib/aws-sdk-core/credential_provider_chain.rb, `instance_profile_credentials`), which credd cannot serve: use `credential_process = credd credential-process` in ~/.aws/config. Ruby runs the process twice when it builds the provider (process_credentials.rb, then refreshing_credentials.rb's refresh).",
	},
	{
		name: "aws-cdk 2.1148", installed: "npm `aws-cdk`; not installed here: hundreds of MB",
		notRun: "A user tried it against credd; it is not run here. Its CLI bundles the AWS SDK for JavaScript v3; if its credential chain is the SDK's default Node chain, the JavaScript v3 row above applies. Not verified by this suite.",
	},
}

// --- the test

// thirdPartyResult is one third-party client's row in the matrix.
type thirdPartyResult struct {
	version, skipped              string
	signed, tokenFile, wrongToken string
}

var thirdPartyResults struct {
	mu   sync.Mutex
	rows map[string]*thirdPartyResult
}

func recordThirdParty(c thirdParty) *thirdPartyResult {
	r := &thirdPartyResult{}
	thirdPartyResults.mu.Lock()
	defer thirdPartyResults.mu.Unlock()
	if thirdPartyResults.rows == nil {
		thirdPartyResults.rows = map[string]*thirdPartyResult{}
	}
	thirdPartyResults.rows[c.name] = r
	return r
}

// TestThirdPartyClients runs each third-party client three ways: with what
// `credd env` prints, with the token file only, and with a wrong token.
func TestThirdPartyClients(t *testing.T) {
	bin := t.TempDir() // removed once every client's subtests end
	for _, c := range thirdParties {
		if c.find == nil {
			continue // rendered from c.notRun
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			res := recordThirdParty(c)
			argv, err := c.find(bin)
			if err != nil {
				res.skipped = err.Error()
				missing(t, c.name, err)
			}
			if res.version, err = thirdPartyVersion(c, argv); err != nil {
				t.Fatal(err)
			}
			h := newFixture(t, 0)
			stub := newS3Stub(t)
			creds := servedCredentials(t, h)
			stub.accept(creds.AccessKeyID, creds.SecretAccessKey, creds.Token)
			tp := &thirdPartyRun{c: c, argv: argv, h: h, stub: stub, akid: creds.AccessKeyID}
			if c.credentialProcess {
				t.Run("credential_process", func(t *testing.T) { tp.testCredentialProcess(t, &res.signed) })
				res.tokenFile = "— (reads neither variable)"
				res.wrongToken = "— (`credd credential-process` reads the token from credd's state directory)"
				return
			}
			t.Run("both variables", func(t *testing.T) { tp.testSigned(t, &res.signed) })
			t.Run("token file only", func(t *testing.T) { tp.testTokenFile(t, &res.tokenFile) })
			t.Run("wrong token", func(t *testing.T) { tp.testWrongToken(t, &res.wrongToken) })
		})
	}
}

// thirdPartyRun is one client against one daemon and its stand-ins.
type thirdPartyRun struct {
	c    thirdParty
	argv []string
	h    *fixture
	stub *s3Stub
	akid string // the access key credd serves
	sets int    // sets of calls made so far
}

// endpoint is where the client sends its signed requests.
func (tp *thirdPartyRun) endpoint() string {
	if tp.c.s3 {
		return tp.stub.URL
	}
	return tp.h.stsURL
}

// verified counts the requests whose signature the stand-in verified.
func (tp *thirdPartyRun) verified() int64 {
	if tp.c.s3 {
		return tp.stub.Verified()
	}
	return tp.h.sb.STS.VerifiedCalls()
}

// outcome is what one run of the client did, as credd and the stand-in saw it.
type outcome struct {
	r                      run
	fetches, unauthorized  int64
	verified, stubRefusals int
}

// calls makes n signed requests with env and counts what credd and the
// stand-in saw.
func (tp *thirdPartyRun) calls(t *testing.T, env []string, n int) outcome {
	t.Helper()
	before, verified, refused := requests(t, tp.h.daemon), tp.verified(), len(tp.stub.Refused())
	var r run
	tp.sets++
	if tp.c.runs != nil {
		r = tp.c.runs(t, tp.argv, env, tp.endpoint(), fmt.Sprintf("set%d", tp.sets), n)
	} else {
		r = protocolCalls(t, tp.argv, env, tp.endpoint(), n)
	}
	after := requests(t, tp.h.daemon)
	o := outcome{
		r:            r,
		fetches:      after[200] - before[200],
		unauthorized: after[401] - before[401],
		verified:     int(tp.verified() - verified),
		stubRefusals: len(tp.stub.Refused()) - refused,
	}
	t.Logf("%s: %d fetches, %d unauthorized, %d signatures verified, %d refused by the stand-in; output:\n%s",
		tp.c.name, o.fetches, o.unauthorized, o.verified, o.stubRefusals, r.output)
	if tp.c.s3 {
		t.Logf("S3 stand-in: verified %s; refused %q", tp.stub.Calls(), tp.stub.Refused())
	}
	return o
}

// checkSigned fails unless the n requests of o succeeded, signed with the
// key credd serves, each process fetching once.
func (tp *thirdPartyRun) checkSigned(o outcome, n int, fail func(string, ...any)) {
	if !o.r.ok || len(o.r.lines) != n {
		fail("failed: %s", errorOf(o.r))
	}
	for _, l := range o.r.lines {
		if !tp.c.s3 && l.ARN != wantARN {
			fail("call %d: ARN %q, want %q", l.N, l.ARN, wantARN)
		}
		if l.AKID != "" && l.AKID != tp.akid {
			fail("call %d signed with access key %q, credd serves %q", l.N, l.AKID, tp.akid)
		}
	}
	wantFetches := max(tp.c.fetchesPerProcess, 1)
	if tp.c.runs != nil {
		wantFetches *= int64(n)
	}
	switch {
	case o.verified < n:
		fail("the stand-in verified %d signatures, want at least %d", o.verified, n)
	case o.stubRefusals != 0:
		fail("the S3 stand-in refused %d requests: %q", o.stubRefusals, tp.stub.Refused())
	case o.fetches != wantFetches || o.unauthorized != 0:
		fail("%d credentials fetches and %d 401s, want %d and 0", o.fetches, o.unauthorized, wantFetches)
	}
}

// signedCell describes a successful outcome.
func (tp *thirdPartyRun) signedCell(o outcome, n int) string {
	// The number of requests is left out: S3 clients vary it.
	what := "GetCallerIdentity"
	if tp.c.s3 {
		what = "every S3 request"
	}
	how := fmt.Sprintf("%d calls", n)
	if tp.c.runs != nil {
		how = fmt.Sprintf("%d runs", n)
	}
	fetches := fmt.Sprintf("%d fetches", o.fetches)
	if o.fetches == 1 {
		fetches = "1 fetch"
	}
	return fmt.Sprintf("✅ %s, %s; %s signed and verified", how, fetches, what)
}

// testSigned runs the client with what `credd env` prints.
func (tp *thirdPartyRun) testSigned(t *testing.T, cell *string) {
	fail := failer(t, cell)
	const n = 2
	o := tp.calls(t, tp.h.clientEnv(t, setups[0]), n)
	tp.checkSigned(o, n, fail)
	*cell = tp.signedCell(o, n)
}

// testTokenFile runs the client with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
// only: it works, or it sends no token and fails on credd's 401.
func (tp *thirdPartyRun) testTokenFile(t *testing.T, cell *string) {
	fail := failer(t, cell)
	env := tp.h.clientEnv(t, setups[2])
	if tp.c.readsTokenFile {
		const n = 2
		o := tp.calls(t, env, n)
		tp.checkSigned(o, n, fail)
		*cell = "✅ yes: " + strings.TrimPrefix(tp.signedCell(o, n), "✅ ")
		return
	}
	o := tp.calls(t, env, 1)
	switch {
	case o.r.ok:
		fail("works, but the table says it ignores the token file: update thirdparty_test.go")
	case o.fetches != 0 || o.unauthorized == 0:
		fail("want only 401 answers, got %d fetches and %d 401s", o.fetches, o.unauthorized)
	}
	*cell = "no: sends no token → 401 (expected failure verified)"
}

// testWrongToken runs the client with a token credd does not know and
// records whether credd's message reaches the user.
func (tp *thirdPartyRun) testWrongToken(t *testing.T, cell *string) {
	fail := failer(t, cell)
	message := unauthorizedMessage(t, tp.h, "not-the-token")
	o := tp.calls(t, tp.h.wrongTokenEnv(t), 1)
	if o.r.ok || o.fetches != 0 || o.unauthorized == 0 {
		fail("want a failure after 401s only; got ok=%v, %d fetches, %d 401s", o.r.ok, o.fetches, o.unauthorized)
	}
	seen := errorOf(o.r)
	shown := false
	for _, m := range message {
		if strings.Contains(seen, m) {
			shown = true
			seen = strings.ReplaceAll(seen, m, "<credd's message>")
		}
	}
	seen = sanitize(seen, tp.h.daemon.StateDir)
	switch {
	case tp.c.showsMessage && !shown:
		fail("credd's message does not reach the user: %s", seen)
	case !tp.c.showsMessage && shown:
		fail("credd's message now reaches the user (update thirdparty_test.go): %s", seen)
	case shown:
		*cell = fmt.Sprintf("✅ shown, after %s: `%s`", plural(o.unauthorized, "request"), seen)
	default:
		*cell = fmt.Sprintf("hidden, after %s: `%s`", plural(o.unauthorized, "request"), seen)
	}
}

// testCredentialProcess checks that the client does not use
// AWS_CONTAINER_CREDENTIALS_FULL_URI, then runs it with
// `credential_process = credd credential-process` in its AWS config.
func (tp *thirdPartyRun) testCredentialProcess(t *testing.T, cell *string) {
	fail := failer(t, cell)
	o := tp.calls(t, tp.h.clientEnv(t, setups[0]), 1)
	if o.r.ok || o.fetches != 0 || o.unauthorized != 0 {
		fail("with AWS_CONTAINER_CREDENTIALS_FULL_URI: want a failure without asking credd; got ok=%v, %d fetches, %d 401s", o.r.ok, o.fetches, o.unauthorized)
	}
	ignored := sanitize(errorOf(o.r), tp.h.daemon.StateDir)

	config := filepath.Join(t.TempDir(), "config")
	profile := fmt.Sprintf("[default]\ncredential_process = %s credential-process --state-dir %s\n", binary, tp.h.daemon.StateDir)
	if err := os.WriteFile(config, []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	// The later AWS_CONFIG_FILE wins: os/exec keeps the last of duplicates.
	env := append(tp.h.clientEnv(t, setups[0]), "AWS_CONFIG_FILE="+config, "GORACE=atexit_sleep_ms=0")
	const n = 2
	o = tp.calls(t, env, n)
	tp.checkSigned(o, n, fail)
	*cell = fmt.Sprintf("❌ ignores `AWS_CONTAINER_CREDENTIALS_FULL_URI`: `%s`. With `credential_process = credd credential-process`: %s",
		ignored, strings.TrimPrefix(tp.signedCell(o, n), "✅ "))
}

// servedCredentials gets what credd serves now, as an SDK would.
func servedCredentials(t *testing.T, h *fixture) (c struct{ AccessKeyID, SecretAccessKey, Token string }) {
	t.Helper()
	status, body := get(t, h, h.exports["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
	var served struct{ AccessKeyId, SecretAccessKey, Token string }
	if status != http.StatusOK || json.Unmarshal(body, &served) != nil || served.AccessKeyId == "" {
		t.Fatalf("credd answered %d", status)
	}
	c.AccessKeyID, c.SecretAccessKey, c.Token = served.AccessKeyId, served.SecretAccessKey, served.Token
	return c
}

// --- running them

// protocolCalls runs `argv calls N ENDPOINT` (goclient/protocol).
func protocolCalls(t *testing.T, argv, env []string, endpoint string, n int) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := command(ctx, argv, []string{"calls", strconv.Itoa(n), endpoint}, env)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return run{lines: parseLines(stdout.String()), output: stdout.String() + stderr.String(), ok: err == nil}
}

// cliRun runs one CLI process and turns it into a line.
func cliRun(ctx context.Context, argv, args, env []string, n int, result string, r *run) {
	var stdout, stderr bytes.Buffer
	cmd := command(ctx, argv, args, env)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.output += fmt.Sprintf("$ %s %s\n%s%s", filepath.Base(argv[0]), strings.Join(args, " "), stdout.String(), stderr.String())
	l := line{N: n, OK: err == nil, ARN: result}
	if err != nil {
		l.ARN, l.Error = "", logTimeRE.ReplaceAllString(lastLine(stderr.String()), "")
	}
	r.ok = r.ok && l.OK
	r.lines = append(r.lines, l)
}

// logTimeRE is the time rclone puts before its log lines.
var logTimeRE = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d `)

// resticRuns initializes a new repository in the stand-in's bucket, then
// lists its snapshots: each run a restic process.
func resticRuns(t *testing.T, argv, env []string, endpoint, name string, n int) run {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	repo := "s3:" + endpoint + "/" + stubBucket + "/restic-" + name
	env = append(env[:len(env):len(env)], "RESTIC_PASSWORD=credd-compat", "RESTIC_REPOSITORY="+repo)
	r := run{ok: true}
	for i := 1; i <= n; i++ {
		args := []string{"--no-cache", "init"}
		if i > 1 {
			args = []string{"--no-cache", "--no-lock", "snapshots"}
		}
		cliRun(ctx, argv, args, env, i, repo, &r)
	}
	return r
}

// rcloneRuns copies a file to the stand-in's bucket, then lists it: each
// run an rclone process, with an on-the-fly `:s3:` remote that takes its
// credentials from the environment (env_auth) and no config file.
func rcloneRuns(t *testing.T, argv, env []string, endpoint, name string, n int) run {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.txt")
	if err := os.WriteFile(file, []byte("written by rclone\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(env[:len(env):len(env)],
		"RCLONE_CONFIG="+filepath.Join(dir, "rclone.conf"),
		// Provider Other: with AWS, rclone 1.60 puts the bucket in the host
		// name (credd-compat.127.0.0.1), force_path_style or not, and asks
		// DNS for it. The credentials come from the same chain either way.
		"RCLONE_S3_PROVIDER=Other", "RCLONE_S3_ENV_AUTH=true",
		"RCLONE_S3_ENDPOINT="+endpoint, "RCLONE_S3_REGION=us-east-1")
	prefix := ":s3:" + stubBucket + "/rclone-" + name
	quiet := []string{"--retries", "1", "--low-level-retries", "1"}
	r := run{ok: true}
	for i := 1; i <= n; i++ {
		args := append(quiet, "copyto", file, prefix+"/hello.txt")
		if i > 1 {
			args = append(quiet, "lsf", prefix)
		}
		cliRun(ctx, argv, args, env, i, prefix+"/hello.txt", &r)
		if i > 1 && r.lines[i-1].OK && !strings.Contains(r.output, "hello.txt\n") {
			r.lines[i-1].OK, r.lines[i-1].Error, r.ok = false, "lsf does not list hello.txt", false
		}
	}
	return r
}

// --- finding them

// goModule builds a Go client module of goclient/, with modfile (its
// go.mod or another, for another version of the same client).
func goModule(dir, modfile string) func(bin string) ([]string, error) {
	return func(bin string) ([]string, error) {
		out := filepath.Join(bin, dir+"-"+strings.TrimSuffix(modfile, ".mod"))
		build := exec.Command("go", "build", "-C", filepath.Join("goclient", dir), "-modfile", modfile, "-o", out, ".")
		if msg, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%w: go build goclient/%s -modfile %s: %v: %s (its modules come from the Go module proxy: `go mod download` in test/compat/goclient/%s)",
				errMissing, dir, modfile, err, lastLine(string(msg)), dir)
		}
		return []string{out}, nil
	}
}

// onPath finds a program on PATH.
func onPath(name, install string) func(string) ([]string, error) {
	return func(string) ([]string, error) {
		path, err := exec.LookPath(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %s (%s)", errMissing, name, install)
		}
		return []string{path}, nil
	}
}

// crtPython runs python/crt_client.py with Debian's Python, which has
// Debian's awscrt (no pip awscrt: PyPI is out of reach here).
func crtPython(string) ([]string, error) {
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import awscrt.auth").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: awscrt for %s (apt-get install python3-awscrt): %s", errMissing, py, lastLine(string(out)))
	}
	script, err := filepath.Abs("python/crt_client.py")
	return []string{py, script}, err
}

// nodeThirdParty runs node-thirdparty/client.js for client, once `npm ci`
// has installed pkg.
func nodeThirdParty(client, pkg string) func(string) ([]string, error) {
	return func(string) ([]string, error) {
		bin, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("%w: node", errMissing)
		}
		dir, err := filepath.Abs("node-thirdparty")
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			return nil, fmt.Errorf("%w: npm package %s (run `npm ci` in test/compat/node-thirdparty)", errMissing, pkg)
		}
		return []string{bin, filepath.Join(dir, "client.js"), client}, nil
	}
}

// rubyClient runs ruby/client.rb, if Ruby has aws-sdk-core.
func rubyClient(string) ([]string, error) {
	ruby, err := exec.LookPath("ruby")
	if err == nil {
		if out, lerr := exec.Command(ruby, "-e", "require 'aws-sdk-core'").CombinedOutput(); lerr != nil {
			err = fmt.Errorf("%v: %s", lerr, lastLine(string(out)))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: ruby with aws-sdk-core (apt-get install ruby-aws-sdk-core): %v", errMissing, err)
	}
	script, err := filepath.Abs("ruby/client.rb")
	return []string{ruby, script}, err
}

// --- versions

func thirdPartyVersion(c thirdParty, argv []string) (string, error) {
	if c.version != nil {
		return c.version(argv)
	}
	out, err := exec.Command(argv[0], append(argv[1:], "version")...).Output()
	var v struct{ Version string }
	if err != nil || json.Unmarshal(out, &v) != nil || v.Version == "" {
		return "", fmt.Errorf("%v version: %q %v", argv, out, err)
	}
	return v.Version, nil
}

// crtPythonVersion adds the Debian package's version: Debian's build of
// awscrt reports itself as 1.0.0.dev0.
func crtPythonVersion(argv []string) (string, error) {
	v, err := thirdPartyVersion(thirdParty{}, argv)
	if err != nil {
		return "", err
	}
	deb, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "python3-awscrt").Output()
	if err != nil {
		return v, nil
	}
	return "python3-awscrt " + string(deb) + " (" + v + ")", nil
}

func restic0Version(argv []string) (string, error) {
	// restic 0.14.0 compiled with go1.19.8 on linux/amd64
	out, err := exec.Command(argv[0], "version").Output()
	if err != nil {
		return "", fmt.Errorf("restic version: %v", err)
	}
	return strings.Join(strings.Fields(firstLine(string(out)))[:2], " "), nil
}

func rcloneVersion(argv []string) (string, error) {
	// rclone v1.60.1-DEV
	out, err := exec.Command(argv[0], "version").Output()
	if err != nil {
		return "", fmt.Errorf("rclone version: %v", err)
	}
	return firstLine(string(out)), nil
}

// lastLine is the last non-empty line of s: where CLIs put their error.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// --- the matrix section

// renderThirdParty writes the third-party section of the matrix to b and
// returns what makes it incomplete.
func renderThirdParty(b *strings.Builder) []string {
	thirdPartyResults.mu.Lock()
	defer thirdPartyResults.mu.Unlock()
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	var incomplete []string

	w("\n## Third-party clients\n\n")
	w("Libraries and tools users tried against credd, each with a credential chain\n")
	w("of its own, in the same clean environment. STS clients sign\n")
	w("`GetCallerIdentity` for the sandbox STS; S3 clients sign S3 requests for a\n")
	w("loopback S3 stand-in (`test/compat/s3stub_test.go`) that verifies their\n")
	w("SigV4 signatures (service `s3`, aws-chunked uploads included) against the\n")
	w("credentials credd serves. Each endpoint is passed explicitly.\n\n")
	w("- **Fetched and signed:** both token variables, as `credd env` prints them.\n")
	w("- **Reads `_FILE`:** `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` only.\n")
	w("- **Wrong token:** both variables hold a token credd does not know; does\n")
	w("  the user see credd's 401 message (`\"code\":\"Unauthorized\"`, which says\n")
	w("  what to do)?\n\n")
	w("| Client | Version | Installed from | Fetched and signed | Reads `_FILE` | Wrong token: what the user sees |\n")
	w("|---|---|---|---|---|---|\n")
	for _, c := range thirdParties {
		if c.notRun != "" {
			continue
		}
		r := thirdPartyResults.rows[c.name]
		switch {
		case r == nil:
			incomplete = append(incomplete, c.name+" did not run")
			r = &thirdPartyResult{skipped: "did not run"}
		case r.skipped != "":
			incomplete = append(incomplete, c.name+" is not installed")
		}
		cells := []string{r.version, r.signed, r.tokenFile, r.wrongToken}
		for i := range cells {
			if r.skipped != "" {
				cells[i] = "not run"
			} else if cells[i] == "" {
				cells[i] = "not run"
			}
		}
		if r.skipped != "" {
			cells[0] = "not installed"
		}
		w("| %s | %s | %s | %s | %s | %s |\n", cellText(c.name), cellText(cells[0]), cellText(c.installed), cellText(cells[1]), cellText(cells[2]), cellText(cells[3]))
	}
	w("\nNotes (from the clients' source; the suite checks the table, not these):\n\n")
	for _, c := range thirdParties {
		if c.notRun == "" {
			w("- **%s:** %s\n", c.name, c.notes)
		}
	}
	w("\n### Tried by users, not run here\n\n")
	for _, c := range thirdParties {
		if c.notRun != "" {
			w("- **%s** (%s): %s\n", c.name, c.installed, c.notRun)
		}
	}
	return incomplete
}
