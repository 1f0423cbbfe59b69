package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
)

func TestSetRolesSwapsTheServedSetAndKeepsCounts(t *testing.T) {
	creds := func(arn string) *daemon.Credentials {
		return &daemon.Credentials{AccessKeyID: "ASIA" + arn, SecretAccessKey: "s", SessionToken: "t",
			Expiration: time.Now().Add(time.Hour), RoleARN: arn}
	}
	h, err := New(Config{Roles: map[string]Provider{"": benchProvider{creds("one")}, "ops": benchProvider{creds("ops")}}, Token: benchToken})
	if err != nil {
		t.Fatal(err)
	}
	do := func(path string) (int, string) {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9911"+path, nil)
		r.Header.Set("Authorization", benchToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	do("/v1/credentials/ops")
	if err := h.SetRoles(map[string]Provider{"default": benchProvider{creds("two")}}); err != nil {
		t.Fatal(err)
	}
	if code, body := do("/v1/credentials"); code != 200 || !strings.Contains(body, `"RoleArn":"two"`) {
		t.Errorf("default after the swap: %d %s", code, body)
	}
	if code, body := do("/v1/credentials/ops"); code != 404 || strings.Contains(body, "ops") {
		t.Errorf("removed role: %d %s", code, body)
	}
	found := false
	for _, c := range h.Counts() {
		found = found || (c.Path == "/v1/credentials/ops" && c.Status == 200 && c.Count == 1)
	}
	if !found {
		t.Errorf("counts lost the removed role's requests: %+v", h.Counts())
	}
	// A daemon waiting for its settings serves no role: 503, saying what
	// to do, on every credentials path.
	if err := h.SetRoles(nil); err != nil {
		t.Fatalf("SetRoles(nil): %v", err)
	}
	for _, path := range []string{"/v1/credentials", "/v1/credentials/ops"} {
		if code, body := do(path); code != 503 || !strings.Contains(body, "NoRoleConfigured") || !strings.Contains(body, "credd reload --from-env") {
			t.Errorf("no role configured: GET %s = %d %s", path, code, body)
		}
	}
}
