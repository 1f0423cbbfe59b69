package reliability

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/cli"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/sandbox"
)

func TestNoSecretInLogsErrorsOrStatus(t *testing.T) {
	row := record(t, "Secrets", "01", "the whole flow at debug level, in process: token file source, credentials served and refreshed, wrong tokens and refused requests, STS errors of every kind, a token with the wrong audience, a rotation; then the control socket's JSON, `credd status` and `credd status --json` (with the shell's environment holding the token)",
		"no secret access key, session token, authorization token or JWT (`eyJ…\\.eyJ`) in any log line, error body or status output")
	r := newRig(t, rigOptions{tokenFile: true})
	r.waitServing(5 * time.Second)
	tok := r.agent.AuthToken()

	errorBodies := 0
	for _, auth := range []string{"", "wrong", "Bearer " + tok, tok + "x"} {
		if res := r.getWith(r.client, r.agent.URL(), auth); res.status == http.StatusUnauthorized {
			errorBodies++
		}
	}
	for _, req := range []string{
		"GET /v1/credentials HTTP/1.1\r\nHost: evil.example\r\nAuthorization: " + tok + "\r\n\r\n",
		"GET /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://x\r\nAuthorization: " + tok + "\r\n\r\n",
		"POST /v1/credentials HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nAuthorization: " + tok + "\r\n\r\n",
		"GET /v1/credentials/no-such-role HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: " + tok + "\r\n\r\n",
		"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
	} {
		_, body := r.raw(t, req)
		if what := r.leak(string(body)); what != "" {
			t.Errorf("error body holds the %s: %s", what, body)
		}
		errorBodies++
	}

	// Every kind of STS error, one attempt each, in the refreshes to come.
	for _, k := range []sandbox.FaultKind{sandbox.FaultInvalidIdentityToken, sandbox.FaultExpiredToken, sandbox.FaultIDPCommunication, sandbox.FaultIDPKeysUnreachable,
		sandbox.FaultMalformedXML, sandbox.FaultThrottling, sandbox.FaultInternalError, sandbox.FaultServiceUnavailable, sandbox.FaultAccessDenied} {
		r.sb.STS.InjectFault(sandbox.Fault{Kind: k, Count: 1})
	}
	callsBefore := r.sb.STS.Calls("AssumeRoleWithWebIdentity")
	waitFor(t, 15*time.Second, "the faults to be used up", func() bool {
		return r.sb.STS.Calls("AssumeRoleWithWebIdentity")-callsBefore >= 8
	})
	// A token for the wrong audience, then a rotation to a good one.
	r.writeToken(r.mint(map[string]any{"aud": "https://evil.example"}))
	time.Sleep(2 * time.Second) // at least one refresh reads it
	r.writeToken(r.mint(map[string]any{"sub": "repo:credd-dev/rotated:ref:refs/heads/main"}))
	r.waitServing(5 * time.Second)

	// Status as every client sees it.
	var outputs []string
	resp, err := (control.Client{StateDir: r.stateDir}).Do(context.Background(), http.MethodGet, control.StatusPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	outputs = append(outputs, string(raw))
	env := map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     r.agent.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":      tok,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": filepath.Join(r.stateDir, "token"),
		"AWS_WEB_IDENTITY_TOKEN_FILE":            r.tokenFile,
	}
	for _, args := range [][]string{{"status", "--state-dir", r.stateDir}, {"status", "--state-dir", r.stateDir, "--json"}} {
		var out bytes.Buffer
		cli.Run(context.Background(), args, cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string { return env[k] }})
		if out.Len() == 0 {
			t.Errorf("credd %v printed nothing", args)
		}
		outputs = append(outputs, out.String())
	}
	for i, out := range outputs {
		if what := r.leak(out); what != "" {
			t.Errorf("status output %d holds the %s", i, what)
		}
	}
	// The rig's cleanup scans every log line the same way.
	lines := strings.Count(r.logs.String(), "\n")
	r.mu.Lock()
	known := len(r.secrets)
	r.mu.Unlock()
	if !strings.Contains(r.logs.String(), "AccessDenied") || !strings.Contains(r.logs.String(), "AudienceMismatch") {
		t.Errorf("the logs do not show the errors the test caused")
	}
	row.Observe("%d distinct secrets and the JWT pattern searched in %d log lines, %d error bodies, %d status outputs: none found", known, lines, errorBodies, len(outputs))
}

// waitFor polls cond every 10ms until it holds, or fails after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
