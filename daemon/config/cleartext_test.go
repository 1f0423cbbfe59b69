package config

import (
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon"
)

func TestCleartext(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want bool
	}{
		{"https://token.actions.githubusercontent.com", false},
		{"HTTPS://idp.example.com/realms/dev", false},
		{"https://sts.eu-west-1.amazonaws.com", false},
		{"http://idp.example.com", true},
		{"HTTP://idp.example.com:8080/path", true},
		{"http://sts.amazonaws.com", true},
		{"http://10.0.0.5:4566", true},      // a LocalStack on another host
		{"http://[2001:db8::1]:8080", true}, // not loopback
		{"http://localhost.evil.example", true},
		{"http://127.0.0.1.nip.io", true},
		{"http://user:pw@idp.example.com", true},
		{"http://127.0.0.1:4566", false},
		{"http://127.9.8.7", false}, // all of 127.0.0.0/8
		{"http://localhost:8080", false},
		{"http://LOCALHOST.", false},
		{"http://[::1]:9000", false},
		{"http://[::ffff:127.0.0.1]:9000", false},
		{"http://[fe80::1%25lo]:80", true},
		{"", false},           // not set
		{"not a url", false},  // validation refuses it
		{"http://%zz", false}, // unparsable
		{"ftp://idp.example.com", true},
	} {
		if got := Cleartext(tt.url); got != tt.want {
			t.Errorf("Cleartext(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

func TestCleartextEndpoints(t *testing.T) {
	cfg := Config{Roles: []Role{
		{Name: "default", Issuer: "http://alice:s3cret@idp.example.com/realms/dev", STSEndpoint: "http://sts.example.com",
			Origins: map[string]string{"issuer": "flag --issuer", "sts-endpoint": "environment AWS_ENDPOINT_URL_STS"}},
		{Name: "local", Issuer: "http://127.0.0.1:8080", STSEndpoint: "http://localhost:4566"},
		{Name: "prod", Issuer: "https://idp.example.com", STSEndpoint: "https://sts.eu-west-1.amazonaws.com"},
		{Name: "env", STSEndpoint: "http://10.1.2.3:4566", Origins: map[string]string{"sts-endpoint": "environment AWS_ENDPOINT_URL"}},
	}}
	ws := CleartextEndpoints(cfg)
	type key struct{ role, setting, url, origin string }
	var got []key
	for _, w := range ws {
		got = append(got, key{w.Role, w.Setting, w.URL, w.Origin})
		if w.Fix != CleartextFix || !strings.Contains(w.String(), "use https://, or a loopback address for a local test server") {
			t.Errorf("%s: fix %q", w.Message, w.Fix)
		}
		if strings.Contains(w.String(), "s3cret") || strings.Contains(w.String(), "alice") {
			t.Errorf("the warning shows the URL's userinfo: %s", w)
		}
		if !strings.HasPrefix(w.Message, "role "+w.Role+": --"+w.Setting+" "+w.URL) || !strings.Contains(w.Message, "in the clear") {
			t.Errorf("message %q", w.Message)
		}
	}
	want := []key{
		{"default", "issuer", "http://idp.example.com/realms/dev", "flag --issuer"},
		{"default", "sts-endpoint", "http://sts.example.com", "environment AWS_ENDPOINT_URL_STS"},
		{"env", "sts-endpoint", "http://10.1.2.3:4566", "environment AWS_ENDPOINT_URL"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d warnings %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("warning %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !strings.Contains(ws[1].Message, "(from environment AWS_ENDPOINT_URL_STS)") || !strings.Contains(ws[1].Message, "identity token") {
		t.Errorf("the STS warning does not say where the URL came from or what it carries: %s", ws[1].Message)
	}
	if !strings.Contains(ws[0].Message, "client secret") || !strings.Contains(ws[0].Message, "refresh and ID tokens") {
		t.Errorf("the issuer warning does not say what it carries: %s", ws[0].Message)
	}
}

// The control socket's clients judge the settings the daemon reports by the
// same rule; other settings are never judged.
func TestCleartextSettings(t *testing.T) {
	ws := CleartextSettings("dev", []daemon.Setting{
		{Name: "token-command", Value: "curl http://idp.example.com/token"},
		{Name: "issuer", Value: "http://idp.example.com", Origin: "defaults file /usr/local/share/credd/feature.toml"},
		{Name: "sts-endpoint", Value: "https://sts.amazonaws.com"},
	})
	if len(ws) != 1 || ws[0].Setting != "issuer" || ws[0].Role != "dev" {
		t.Fatalf("got %+v", ws)
	}
}
