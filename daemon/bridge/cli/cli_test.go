package bridgecli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon/bridge"
	"github.com/credd-dev/credd/daemon/internal/syncbuf"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func keyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signing.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFlagsBeatEnvironmentWhichBeatsDefaults(t *testing.T) {
	env := envOf(map[string]string{
		"CREDD_BRIDGE_ISSUER":             "https://from-env.example.com",
		"CREDD_BRIDGE_ALLOW":              "env-org, env-org2/repo",
		"CREDD_BRIDGE_AUDIENCES":          "a,b",
		"CREDD_BRIDGE_TOKEN_LIFETIME":     "10m",
		"CREDD_BRIDGE_RATE_LIMIT":         "7",
		"CREDD_BRIDGE_PREVIOUS_KEY":       "/k1,/k2",
		"CREDD_BRIDGE_ACCEPT_TOKEN_KINDS": "app-user,classic-pat",
	})
	s, err := parseSettings([]string{"--issuer", "https://from-flag.example.com", "--allow", "f1", "--allow=f2,f3/r", "--rate-limit", "9"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.issuer != "https://from-flag.example.com" {
		t.Errorf("issuer = %q", s.issuer)
	}
	if !slices.Equal(s.allow, []string{"f1", "f2", "f3/r"}) {
		t.Errorf("allow = %q: a flag must replace the environment's list", s.allow)
	}
	if s.rateLimit != 9 || s.tokenLifetime != 10*time.Minute {
		t.Errorf("rate %d lifetime %s", s.rateLimit, s.tokenLifetime)
	}
	if !slices.Equal(s.audiences, []string{"a", "b"}) || !slices.Equal(s.previousKeys, []string{"/k1", "/k2"}) ||
		!slices.Equal(s.acceptTokenKinds, []string{"app-user", "classic-pat"}) {
		t.Errorf("lists from env = %q %q %q", s.audiences, s.previousKeys, s.acceptTokenKinds)
	}
	if s.listen != DefaultListen {
		t.Errorf("listen = %q", s.listen)
	}
}

func TestBadValuesNameTheFlagOrVariable(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--token-lifetime", "5"}, nil, "token-lifetime"},
		{nil, map[string]string{"CREDD_BRIDGE_TOKEN_LIFETIME": "soon"}, "CREDD_BRIDGE_TOKEN_LIFETIME"},
		{nil, map[string]string{"CREDD_BRIDGE_RATE_LIMIT": "many"}, "CREDD_BRIDGE_RATE_LIMIT"},
		{[]string{"--no-such-flag"}, nil, "no-such-flag"},
		{[]string{"serve"}, nil, "flags only"},
	} {
		var stderr bytes.Buffer
		code := Main(context.Background(), tt.args, envOf(tt.env), io.Discard, &stderr, Hooks{})
		if code != ExitUsage || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v %v: exit %d, stderr %q, want %q", tt.args, tt.env, code, stderr.String(), tt.want)
		}
	}
}

// Configuration mistakes are refused before listening, naming the flag.
func TestConfigurationErrorsNameTheFlag(t *testing.T) {
	key := keyFile(t)
	worldReadable := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(worldReadable, []byte("s3cr3t-value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--issuer", "https://bridge.example.com", "--signing-key", key, "--allow", "credd-dev", "--listen", "127.0.0.1:0"}
	for _, tt := range []struct {
		name  string
		args  []string
		hooks Hooks
		want  string
	}{
		{"no allow", []string{"--issuer", "https://bridge.example.com", "--signing-key", key}, Hooks{}, "--allow: required"},
		{"no key", []string{"--issuer", "https://bridge.example.com", "--allow", "o"}, Hooks{}, "--signing-key: required"},
		{"missing key file", []string{"--issuer", "https://b.example.com", "--allow", "o", "--signing-key", "/nonexistent.pem"}, Hooks{}, "--signing-key"},
		{"http issuer", append(slices.Clone(base), "--issuer", "http://bridge.example.com"), Hooks{}, "--issuer"},
		{"kms without hook", []string{"--issuer", "https://b.example.com", "--allow", "o", "--kms-key-id", "alias/x"}, Hooks{}, "--kms-key-id: KMS signing is not available in this build"},
		{"kms and file", append(slices.Clone(base), "--kms-key-id", "alias/x"), Hooks{}, "give one of them"},
		{"ssm secret without hook", append(slices.Clone(base), "--github-app-client-id", "Iv1.x", "--github-app-client-secret", "ssm:/p"), Hooks{}, "not available in this build"},
		{"secret given raw", append(slices.Clone(base), "--github-app-client-id", "Iv1.x", "--github-app-client-secret", "s3cr3t-value"), Hooks{}, "not the secret itself"},
		{"secret file readable by others", append(slices.Clone(base), "--github-app-client-id", "Iv1.x", "--github-app-client-secret", "file:"+worldReadable), Hooks{}, "chmod 600"},
		{"client id without secret", append(slices.Clone(base), "--github-app-client-id", "Iv1.x"), Hooks{}, "--github-app-client-secret: required"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := Main(context.Background(), tt.args, envOf(nil), io.Discard, &stderr, tt.hooks)
			if code != ExitUsage || !strings.Contains(stderr.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr.String(), tt.want)
			}
			if strings.Contains(stderr.String(), "s3cr3t-value") {
				t.Errorf("the secret is in the output: %s", stderr.String())
			}
		})
	}
}

func TestClientSecretSpecs(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("from-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := loadClientSecret(context.Background(), "file:"+file, Hooks{})
	if err != nil || got != "from-file" {
		t.Errorf("file: = %q, %v", got, err)
	}
	var asked string
	hooks := Hooks{LoadSecret: func(_ context.Context, spec string) (string, error) { asked = spec; return "from-hook", nil }}
	for _, spec := range []string{"ssm:/credd/secret", "kms:AQICAHg="} {
		if got, err := loadClientSecret(context.Background(), spec, hooks); err != nil || got != "from-hook" || asked != spec {
			t.Errorf("%s = %q, %v (hook asked %q)", spec, got, err, asked)
		}
	}
	if _, err := loadClientSecret(context.Background(), "vault:x", hooks); err == nil || strings.Contains(err.Error(), "vault:x") {
		t.Errorf("unknown scheme = %v", err)
	}
	failing := Hooks{LoadSecret: func(context.Context, string) (string, error) { return "", errors.New("AccessDenied") }}
	if _, err := loadClientSecret(context.Background(), "ssm:/p", failing); err == nil || !strings.Contains(err.Error(), "--github-app-client-secret") {
		t.Errorf("failing hook = %v", err)
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"--version"}, envOf(nil), &out, io.Discard, Hooks{}); code != ExitOK || !strings.HasPrefix(out.String(), "credd-bridge ") {
		t.Errorf("--version: %d %q", code, out.String())
	}
	out.Reset()
	if code := Main(context.Background(), []string{"-h"}, envOf(nil), &out, io.Discard, Hooks{}); code != ExitOK {
		t.Errorf("-h: exit %d", code)
	}
	for _, want := range []string{"--issuer", "CREDD_BRIDGE_ISSUER", "--allow", "CREDD_BRIDGE_ALLOW", "--github-app-client-secret", "file:PATH", "(default 127.0.0.1:8080)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// runBridge runs Main on 127.0.0.1:0 and returns its address; the bridge
// stops when the test ends.
func runBridge(t *testing.T, args []string, env map[string]string, hooks Hooks) (addr string, stderr *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan net.Addr, 1)
	hooks.Listening = func(a net.Addr) { bound <- a }
	stderr = &syncbuf.Buffer{}
	exited := make(chan int, 1)
	go func() { exited <- Main(ctx, args, envOf(env), io.Discard, stderr, hooks) }()
	t.Cleanup(func() {
		cancel()
		if code := <-exited; code != ExitOK {
			t.Errorf("exit %d; stderr:\n%s", code, stderr.String())
		}
	})
	select {
	case a := <-bound:
		return a.String(), stderr
	case code := <-exited:
		exited <- code
		t.Fatalf("Main exited %d before listening:\n%s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("Main did not listen:\n%s", stderr.String())
	}
	return "", nil
}

func TestRunServesDiscoveryOnLoopback(t *testing.T) {
	key := keyFile(t)
	addr, stderr := runBridge(t, []string{"--listen", "127.0.0.1:0", "--issuer", "http://127.0.0.1:1/gh"},
		map[string]string{"CREDD_BRIDGE_SIGNING_KEY": key, "CREDD_BRIDGE_ALLOW": "credd-dev", "CREDD_BRIDGE_ISSUER": "https://ignored.example.com"}, Hooks{})
	resp, err := http.Get("http://" + addr + "/gh/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v", resp.StatusCode, err)
	}
	if doc["issuer"] != "http://127.0.0.1:1/gh" || doc["jwks_uri"] != "http://127.0.0.1:1/gh/.well-known/jwks.json" {
		t.Errorf("discovery = %v", doc)
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"credd-bridge listening"`, `"msg":"the issuer is not https`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

func TestKMSHookSigns(t *testing.T) {
	var asked string
	hooks := Hooks{NewKMSSigner: func(_ context.Context, keyID string) (bridge.Signer, error) {
		asked = keyID
		return bridge.NewFileSigner(testKey())
	}}
	addr, _ := runBridge(t, []string{"--listen", "127.0.0.1:0", "--issuer", "http://localhost/x", "--allow", "o", "--kms-key-id", "alias/credd-bridge"}, nil, hooks)
	if asked != "alias/credd-bridge" {
		t.Errorf("hook asked for %q", asked)
	}
	resp, err := http.Get("http://" + addr + "/x/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), bridge.KeyID(&testKey().PublicKey)) {
		t.Errorf("JWKS lacks the KMS key: %s", body)
	}
}

func TestLambdaHookServesInsteadOfListening(t *testing.T) {
	key := keyFile(t)
	var served http.Handler
	hooks := Hooks{
		ServeLambda: func(h http.Handler) error { served = h; return nil },
		Listening:   func(net.Addr) { t.Error("listened although running in Lambda") },
	}
	args := []string{"--issuer", "https://abc.lambda-url.eu-west-1.on.aws", "--signing-key", key, "--allow", "o", "--listen", "127.0.0.1:0"}
	code := Main(context.Background(), args, envOf(map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}), io.Discard, io.Discard, hooks)
	if code != ExitOK || served == nil {
		t.Fatalf("exit %d, served %v", code, served != nil)
	}
}

// TestLambdaWithoutIssuerTakesTheFunctionURLs: the deploy template leaves
// CREDD_BRIDGE_ISSUER unset, so the first request's host (the function
// URL's domain) becomes the issuer, and no other host is served.
func TestLambdaWithoutIssuerTakesTheFunctionURLs(t *testing.T) {
	var served http.Handler
	hooks := Hooks{ServeLambda: func(h http.Handler) error { served = h; return nil }}
	args := []string{"--signing-key", keyFile(t), "--allow", "o"}
	if code := Main(context.Background(), args, envOf(map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}), io.Discard, io.Discard, hooks); code != ExitOK || served == nil {
		t.Fatalf("exit %d, served %v", code, served != nil)
	}
	get := func(host string) (int, map[string]any) {
		req := httptest.NewRequest(http.MethodGet, "https://"+host+"/.well-known/openid-configuration", nil)
		rec := httptest.NewRecorder()
		served.ServeHTTP(rec, req)
		var doc map[string]any
		json.Unmarshal(rec.Body.Bytes(), &doc)
		return rec.Code, doc
	}
	const host = "abcdefghij.lambda-url.eu-west-1.on.aws"
	if code, doc := get(host); code != http.StatusOK || doc["issuer"] != "https://"+host || doc["jwks_uri"] != "https://"+host+"/.well-known/jwks.json" {
		t.Errorf("discovery: %d %v", code, doc)
	}
	if code, doc := get("evil.example"); code != http.StatusMisdirectedRequest || !strings.Contains(fmt.Sprint(doc["message"]), "https://"+host) {
		t.Errorf("another host: %d %v", code, doc)
	}
	// Without the function URL, the issuer is required as before.
	if code := Main(context.Background(), args, envOf(nil), io.Discard, io.Discard, hooks); code != ExitUsage {
		t.Errorf("outside Lambda without --issuer: exit %d, want %d", code, ExitUsage)
	}
}
