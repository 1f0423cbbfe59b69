package githubapi

import (
	"encoding/json"
	"net/http"
	"testing"
)

type permissionsDoc struct {
	Admin    bool `json:"admin"`
	Maintain bool `json:"maintain"`
	Push     bool `json:"push"`
	Triage   bool `json:"triage"`
	Pull     bool `json:"pull"`
}

func TestRepositoryPermissionsFollowTheGrants(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme/private", true)
	f.s.AddRepo("acme/public", false)
	f.s.AddRepo("octocat/own", true)
	for _, role := range []string{"pull", "triage", "push", "maintain", "admin"} {
		f.s.Grant("u-"+role, "acme/private", role)
	}
	f.s.AddUser("octocat")
	f.s.AddUser("stranger")
	token := func(login string) string { return f.s.IssueToken(login, "app-user", "", 0) }

	tests := []struct {
		name       string
		login      string
		repo       string
		wantStatus int
		want       permissionsDoc
	}{
		{"pull is only pull", "u-pull", "acme/private", 200, permissionsDoc{Pull: true}},
		{"triage includes pull", "u-triage", "acme/private", 200, permissionsDoc{Triage: true, Pull: true}},
		{"push includes triage", "u-push", "acme/private", 200, permissionsDoc{Push: true, Triage: true, Pull: true}},
		{"maintain includes push", "u-maintain", "acme/private", 200, permissionsDoc{Maintain: true, Push: true, Triage: true, Pull: true}},
		{"admin is everything", "u-admin", "acme/private", 200, permissionsDoc{true, true, true, true, true}},
		{"the owner of a personal repository is admin", "octocat", "octocat/own", 200, permissionsDoc{true, true, true, true, true}},
		{"anyone may pull a public repository", "stranger", "acme/public", 200, permissionsDoc{Pull: true}},
		{"a private repository without access is not found", "stranger", "acme/private", 404, permissionsDoc{}},
		{"a missing repository is not found", "u-admin", "acme/missing", 404, permissionsDoc{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.get(t, "/repos/"+tt.repo, token(tt.login))
			wantStatus(t, resp, body, tt.wantStatus)
			if tt.wantStatus != http.StatusOK {
				if got := decodeMap(t, body)["message"]; got != "Not Found" {
					t.Errorf("message = %v, want Not Found", got)
				}
				return
			}
			var doc struct {
				Permissions *permissionsDoc `json:"permissions"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Permissions == nil || *doc.Permissions != tt.want {
				t.Errorf("permissions = %+v, want %+v", doc.Permissions, tt.want)
			}
		})
	}
}

func TestRepositoryLookupIgnoresCaseAndAnswersTheCanonicalCase(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("Credd-Dev/Demo-App", false)
	token := f.s.IssueToken("octocat", "app-user", "", 0)
	for _, path := range []string{"/repos/credd-dev/demo-app", "/repos/CREDD-DEV/DEMO-APP", "/repos/Credd-Dev/Demo-App"} {
		resp, body := f.get(t, path, token)
		wantStatus(t, resp, body, http.StatusOK)
		m := decodeMap(t, body)
		owner, _ := m["owner"].(map[string]any)
		if m["full_name"] != "Credd-Dev/Demo-App" || owner["login"] != "Credd-Dev" {
			t.Errorf("%s: full_name %v, owner %v; want the canonical Credd-Dev/Demo-App", path, m["full_name"], owner["login"])
		}
	}
}

func TestAnUnauthenticatedCallerSeesPublicRepositoriesWithoutPermissions(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme/public", false)
	f.s.AddRepo("acme/private", true)

	resp, body := f.get(t, "/repos/acme/public", "")
	wantStatus(t, resp, body, http.StatusOK)
	if _, ok := decodeMap(t, body)["permissions"]; ok {
		t.Error("an unauthenticated answer has permissions; GitHub sends them only for a user")
	}
	if got := resp.Header.Get("x-ratelimit-limit"); got != "60" {
		t.Errorf("x-ratelimit-limit = %q, want GitHub's unauthenticated 60", got)
	}
	resp, body = f.get(t, "/repos/acme/private", "")
	wantStatus(t, resp, body, http.StatusNotFound)
}

func TestARepositoryOwnedByAUserHasNoOrganization(t *testing.T) {
	f := newFixture(t)
	f.s.AddUser("octocat")
	f.s.AddRepo("octocat/hello", false)
	f.s.AddRepo("acme/app", false)
	token := f.s.IssueToken("octocat", "app-user", "", 0)

	_, body := f.get(t, "/repos/octocat/hello", token)
	m := decodeMap(t, body)
	if _, ok := m["organization"]; ok || m["owner"].(map[string]any)["type"] != "User" {
		t.Errorf("owner %v, organization %v; want a User owner and no organization", m["owner"], m["organization"])
	}
	_, body = f.get(t, "/repos/acme/app", token)
	if org, ok := decodeMap(t, body)["organization"].(map[string]any); !ok || org["login"] != "acme" {
		t.Errorf("organization = %v, want acme", org)
	}
}

func TestFixtureMistakesPanicWithAHint(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme/app", false)
	for name, call := range map[string]func(){
		"a repository name without an owner": func() { f.s.AddRepo("app", false) },
		"a grant on an unknown repository":   func() { f.s.Grant("octocat", "acme/missing", "push") },
		"a grant of an unknown role":         func() { f.s.Grant("octocat", "acme/app", "write") },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			call()
		})
	}
}
