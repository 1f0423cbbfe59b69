package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/test/internal/harness"
)

// Secrets of other programs that reach credd in their own words.
const (
	vaultToken  = "hvs.CAESIabcdefghijklmnopqrstuvwxyz0123456789"
	cmdPassword = "hunter2"
	bearerCred  = "abc.def"
)

// hostileLink is an OSC 8 hyperlink: a terminal would show "click" and
// open http://evil.
const hostileLink = "\x1b]8;;http://evil\x07click\x1b]8;;\x07"

// statusDoc is what these tests read of `credd status --json`.
type statusDoc struct {
	Roles []struct {
		Claims *struct {
			Extra map[string]string `json:"extra"`
		} `json:"claims"`
		LastError *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"lastError"`
	} `json:"roles"`
}

// statusOf runs `credd status` with args against d and returns its
// output, and the JSON document when args has --json.
func statusOf(t *testing.T, d *harness.Daemon, env []string, args ...string) (string, statusDoc) {
	t.Helper()
	out, stderr, _ := binary(t).Run(t, env, append([]string{"status", "--state-dir", d.StateDir}, args...)...)
	var doc statusDoc
	if len(args) > 0 && args[0] == "--json" {
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("status --json: %v\n%s%s", err, out, stderr)
		}
	}
	return out + stderr, doc
}

// waitForError polls `credd status --json` until the first role's last
// error has the code.
func waitForError(t *testing.T, d *harness.Daemon, env []string, code string) statusDoc {
	t.Helper()
	var doc statusDoc
	waitFor(t, 15*time.Second, "a "+code+" in the status", func() bool {
		_, doc = statusOf(t, d, env, "--json")
		return len(doc.Roles) > 0 && doc.Roles[0].LastError != nil && doc.Roles[0].LastError.Code == code
	})
	return doc
}

func TestTrustTokenCommandStderrIsRedacted(t *testing.T) {
	row := record(t, "Local trust", "15", "the real binary with a token command that fails after printing `token=hvs.CAESIabc… password=hunter2 Authorization: Bearer abc.def` on stderr; then the daemon's debug log, `credd status` and `credd status --json`",
		"none of the three values anywhere; the message still says the command failed, with its exit status and the stderr, each secret replaced by [redacted] (hvs.[redacted] for the Vault token)")
	// A script, so that the secrets are not in the command line (a
	// setting that status shows) but only on stderr.
	script := filepath.Join(t.TempDir(), "get-token.sh")
	body := "#!/bin/sh\necho 'vault: token=" + vaultToken + " password=" + cmdPassword + "' >&2\necho 'curl: Authorization: Bearer " + bearerCred + "' >&2\nexit 1\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	env := harness.BaseEnv("CREDD_ROLE_ARN="+sandbox.DefaultRoleARN, "AWS_ENDPOINT_URL_STS=http://127.0.0.1:1")
	d := binary(t).StartDaemon(t, env, "--token-command", "sh "+script)
	doc := waitForError(t, d, env, "TokenCommandFailed")
	text, _ := statusOf(t, d, env)
	js, _ := statusOf(t, d, env, "--json")
	d.Stop(t)
	logs := d.Logs()

	for what, out := range map[string]string{"the daemon log": logs, "credd status": text, "credd status --json": js} {
		for _, secret := range []string{vaultToken[4:], cmdPassword, bearerCred} {
			if strings.Contains(out, secret) {
				t.Errorf("%s holds %q", what, secret)
			}
		}
	}
	msg := doc.Roles[0].LastError.Message
	for _, want := range []string{"token command failed: exit status 1", "vault: token=hvs.[redacted] password=[redacted]", "curl: Authorization: Bearer [redacted]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the status message %q lacks %q", msg, want)
		}
		if !strings.Contains(text, want) {
			t.Errorf("credd status lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(logs, "exit status 1") {
		t.Errorf("the log does not show the failure:\n%s", logs)
	}
	row.Observe("status message: %q; no secret in %d log lines, the status or the JSON", msg, strings.Count(logs, "\n"))
}

func TestTrustSTSErrorMessageIsRedactedAndEscaped(t *testing.T) {
	row := record(t, "Local trust", "16", "an STS endpoint (a proxy, an emulator) answering AccessDenied with a message that echoes `password=hunter2`, an `X-Amz-Security-Token=…`, an access key ID, an 8-bit CSI (U+009B) and a bidi override (U+202E)",
		"neither secret in the daemon log, `credd status` or `--json`; `credd status` shows the controls as \\u009b and \\u202e; the role ARN and the rest of the message intact")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	tok, err := sb.Issuer.Mint(config.DefaultAudience, nil)
	if err != nil {
		t.Fatal(err)
	}
	const sessionTok = "FQoGZXIvYXdzEJr0123abcd"
	msg := "proxy says password=" + cmdPassword + " X-Amz-Security-Token=" + sessionTok + " AKIAIOSFODNN7EXAMPLE \u009b31m\u202efor " + sandbox.DefaultRoleARN
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, msg)
	}))
	defer sts.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	env := harness.BaseEnv("CREDD_ROLE_ARN="+sandbox.DefaultRoleARN, "AWS_ENDPOINT_URL_STS="+sts.URL, "CREDD_TOKEN_FILE="+tokenFile)
	d := binary(t).StartDaemon(t, env)
	doc := waitForError(t, d, env, "AccessDenied")
	text, _ := statusOf(t, d, env)
	js, _ := statusOf(t, d, env, "--json")
	d.Stop(t)
	logs := d.Logs()
	for what, out := range map[string]string{"the daemon log": logs, "credd status": text, "credd status --json": js} {
		for _, secret := range []string{cmdPassword, sessionTok, "IOSFODNN7EXAMPLE", tok} {
			if strings.Contains(out, secret) {
				t.Errorf("%s holds %q", what, secret[:min(len(secret), 20)])
			}
		}
	}
	if strings.ContainsAny(text, "\u009b\u202e") {
		t.Errorf("credd status prints a raw control character:\n%q", text)
	}
	want := `proxy says password=[redacted] X-Amz-Security-Token=[redacted] AKIA[redacted] \u009b31m\u202efor ` + sandbox.DefaultRoleARN
	if !strings.Contains(text, want) {
		t.Errorf("credd status lacks %q:\n%s", want, text)
	}
	row.Observe("status message: %q; shown as %q", doc.Roles[0].LastError.Message, want)
}

func TestTrustTokenCommandGetsAMinimalEnvironment(t *testing.T) {
	row := record(t, "Local trust", "17", "the real binary, its environment holding CREDD_CLIENT_SECRET, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN, GITHUB_TOKEN, VAULT_ADDR and VAULT_TOKEN, with `--token-command-env VAULT_ADDR,VAULT_TOKEN`; the token command saves its environment",
		"the command sees PATH, HOME, USER, VAULT_ADDR and VAULT_TOKEN, and none of the others")
	dir := t.TempDir()
	saved := filepath.Join(dir, "env")
	env := harness.BaseEnv("CREDD_ROLE_ARN="+sandbox.DefaultRoleARN, "AWS_ENDPOINT_URL_STS=http://127.0.0.1:1",
		"CREDD_CLIENT_SECRET=client-secret-xyz", "AWS_SECRET_ACCESS_KEY=aws-secret-xyz", "AWS_SESSION_TOKEN=aws-session-xyz",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=auth-token-xyz", "GITHUB_TOKEN=github-token-xyz",
		"VAULT_ADDR=https://vault.example.com", "VAULT_TOKEN=vault-token-listed")
	d := binary(t).StartDaemon(t, env, "--token-command", "env > "+saved+"; exit 1", "--token-command-env", "VAULT_ADDR,VAULT_TOKEN")
	var got map[string]string
	waitFor(t, 15*time.Second, "the token command to run", func() bool {
		b, err := os.ReadFile(saved)
		if err != nil || !strings.Contains(string(b), "VAULT_TOKEN=") {
			return false
		}
		got = map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				got[k] = v
			}
		}
		return true
	})
	d.Stop(t)
	for _, k := range []string{"CREDD_CLIENT_SECRET", "CREDD_ROLE_ARN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_ENDPOINT_URL_STS", "GITHUB_TOKEN"} {
		if v, ok := got[k]; ok {
			t.Errorf("the token command sees %s=%s", k, v)
		}
	}
	for _, k := range []string{"PATH", "HOME", "USER", "VAULT_ADDR", "VAULT_TOKEN"} {
		if got[k] == "" {
			t.Errorf("the token command does not see %s", k)
		}
	}
	var names []string
	for k := range got {
		names = append(names, k)
	}
	row.Observe("the command saw %d variables: %s", len(names), strings.Join(sortedStrings(names), ", "))
}

func TestTrustClaimsWithTerminalEscapesAreShownEscaped(t *testing.T) {
	row := record(t, "Local trust", "18", "a token (signed by the sandbox issuer, accepted by its STS) whose repository claim is an OSC 8 hyperlink `\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07` and whose actor is `\\rOK`; then `credd status`, `credd doctor` and the daemon log",
		"status and doctor print the claims with the controls as visible escapes (\\x1b, \\x07, \\r) and no raw ESC, BEL or CR; `status --json` holds the exact claim; the log no raw control character")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	tok, err := sb.Issuer.Mint(config.DefaultAudience, map[string]any{"repository": hostileLink, "actor": "\rOK"})
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	env := harness.BaseEnv("CREDD_ROLE_ARN="+sandbox.DefaultRoleARN, "AWS_ENDPOINT_URL_STS="+sb.STSURL, "CREDD_TOKEN_FILE="+tokenFile)
	d := binary(t).StartDaemon(t, env)
	var doc statusDoc
	waitFor(t, 15*time.Second, "the claims in the status", func() bool {
		_, doc = statusOf(t, d, env, "--json")
		return len(doc.Roles) > 0 && doc.Roles[0].Claims != nil
	})
	if got := doc.Roles[0].Claims.Extra["repository"]; got != hostileLink {
		t.Errorf("status --json repository = %q, want the claim as it is", got)
	}
	text, _ := statusOf(t, d, env)
	doctorOut, doctorErr, _ := binary(t).Run(t, env, "doctor", "--state-dir", d.StateDir)
	d.Stop(t)
	logs := d.Logs()
	for what, out := range map[string]string{"credd status": text, "credd doctor": doctorOut + doctorErr, "the daemon log": logs} {
		if i := strings.IndexAny(out, "\x1b\x07\r"); i >= 0 {
			t.Errorf("%s prints a raw control character: %q", what, out[max(0, i-40):min(len(out), i+40)])
		}
	}
	for what, out := range map[string]string{"credd status": text, "credd doctor": doctorOut} {
		for _, want := range []string{`repository \x1b]8;;http://evil\x07click\x1b]8;;\x07`, `actor \rOK`} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %s:\n%s", what, want, out)
			}
		}
	}
	line := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "repository") {
			line = strings.TrimSpace(l)
		}
	}
	row.Observe("status shows %q; doctor likewise; the JSON holds the claim exactly", line)
}

func sortedStrings(ss []string) []string {
	out := append([]string(nil), ss...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
