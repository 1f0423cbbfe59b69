package compat

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/moto"
)

// TestThirdPartySTS runs credd's exchange against moto_server, an STS that
// is not the project's emulator and formats Expiration its own way.
func TestThirdPartySTS(t *testing.T) {
	t.Parallel()
	res := &motoResult{}
	matrix.mu.Lock()
	matrix.moto = res
	matrix.mu.Unlock()
	fail := func(cell *string) func(string, ...any) { return failer(t, cell) }

	motoBin, where, err := motoServer.find()
	if err != nil {
		res.version = "not installed"
		missing(t, "moto_server", err)
	}
	t.Logf("moto_server: %s (found in %s)", motoBin, where)
	out, err := exec.Command(scriptPython(motoBin), "-c", "import moto; print(moto.__version__)").Output()
	if err != nil {
		t.Fatalf("moto version, with %s's Python: %v", motoBin, err)
	}
	res.version = strings.TrimSpace(string(out))
	stsURL := moto.Start(t, motoBin)

	const roleARN = "arn:aws:iam::123456789012:role/x"
	// What moto itself answers, to record its Expiration format.
	raw := motoExpiration(t, stsURL, roleARN, fail(&res.stsFormat))
	res.stsFormat = describeTimestamp(raw)

	// An identity token credd's local checks accept (exp ahead, aud
	// sts.amazonaws.com), minted by the sandbox issuer.
	sb := startSandbox(t, sandbox.Options{})
	jwt, err := sb.Issuer.Mint(sandbox.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "USER=compat"},
		"--token-source", "command",
		"--token-command", "echo "+jwt,
		"--sts-endpoint", stsURL,
		"--role-arn", roleARN,
		"--session-name", sessionName,
		"--region", "us-east-1")
	h := &fixture{sb: sb, daemon: d, exports: credEnv(t, d)}

	// credd serves the expiry in the one format every SDK accepts.
	failServed := fail(&res.served)
	status, body := get(t, h, h.exports["AWS_CONTAINER_AUTHORIZATION_TOKEN"])
	served := regexp.MustCompile(`"Expiration":"([^"]*)"`).FindSubmatch(body)
	if status != http.StatusOK || served == nil {
		failServed("credd answered %d %s", status, body)
	}
	exp, err := time.Parse(daemon.ExpirationLayout, string(served[1]))
	if err != nil {
		failServed("credd serves Expiration %q, not %s", served[1], daemon.ExpirationLayout)
	}
	if left := time.Until(exp); left < 55*time.Minute || left > 61*time.Minute {
		failServed("credd serves Expiration %s, %s from now; moto gives 1h credentials", exp, left.Round(time.Second))
	}
	res.served = "✅ " + describeTimestamp(string(served[1]))

	// And a client signs with those credentials against moto.
	failClient := fail(&res.client)
	c := clientNamed(t, "AWS SDK for Go v2")
	argv, err := c.find()
	if err != nil {
		t.Fatal(err)
	}
	h.stsURL = stsURL
	r := c.calls(t, argv, h.clientEnv(t, setups[0]), stsURL, 2)
	want := "arn:aws:sts::123456789012:assumed-role/x/" + sessionName
	if !r.ok || len(r.lines) != 2 || r.lines[0].ARN != want || r.lines[1].ARN != want {
		failClient("%s against moto: %s (want ARN %s)", c.name, errorOf(r), want)
	}
	res.client = "✅ " + c.name + ": 2 `GetCallerIdentity` calls, ARN `" + want + "`"
}

// scriptPython is the interpreter a pip console script (moto_server) runs
// with: the absolute path pip wrote in its #! line, else (a /bin/sh
// trampoline, written for a path too long for #!) the python3 beside it.
func scriptPython(script string) string {
	if f, err := os.Open(script); err == nil {
		defer f.Close()
		first, _ := bufio.NewReader(f).ReadString('\n')
		if interp, ok := strings.CutPrefix(strings.TrimSpace(first), "#!"); ok {
			if fields := strings.Fields(interp); len(fields) == 1 && filepath.IsAbs(fields[0]) && strings.HasPrefix(filepath.Base(fields[0]), "python") {
				return fields[0]
			}
		}
	}
	return filepath.Join(filepath.Dir(script), "python3")
}

func clientNamed(t *testing.T, name string) client {
	t.Helper()
	for _, c := range clients {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no client named %q", name)
	return client{}
}

// motoExpiration asks moto for credentials directly and returns the
// Expiration text it answers.
func motoExpiration(t *testing.T, stsURL, roleARN string, fail func(string, ...any)) string {
	t.Helper()
	form := url.Values{
		"Action": {"AssumeRoleWithWebIdentity"}, "Version": {"2011-06-15"},
		"RoleArn": {roleARN}, "RoleSessionName": {"probe"}, "WebIdentityToken": {"x"}, "DurationSeconds": {"3600"},
	}
	resp, err := http.PostForm(stsURL, form)
	if err != nil {
		fail("ask moto: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Expiration string `xml:"AssumeRoleWithWebIdentityResult>Credentials>Expiration"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&out); err != nil || out.Expiration == "" {
		fail("moto answered %s without an Expiration (%v)", resp.Status, err)
	}
	return out.Expiration
}

var timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$`)

// describeTimestamp says how an ISO 8601 time is written without the time
// itself, which changes from run to run: "`YYYY-MM-DDThh:mm:ss.ffffffZ`
// (fractional seconds, zone Z)".
func describeTimestamp(s string) string {
	m := timestampRE.FindStringSubmatch(s)
	if m == nil {
		return fmt.Sprintf("not ISO 8601: %q", s)
	}
	layout, how := "YYYY-MM-DDThh:mm:ss", []string{"whole seconds"}
	if m[1] != "" {
		layout += "." + strings.Repeat("f", len(m[1])-1)
		how[0] = "fractional seconds"
	}
	switch {
	case m[2] == "":
		how = append(how, "no zone")
	case m[2] == "Z":
		layout += "Z"
		how = append(how, "zone Z")
	default:
		layout += m[2]
		how = append(how, "offset "+m[2])
	}
	return fmt.Sprintf("`%s` (%s)", layout, strings.Join(how, ", "))
}
