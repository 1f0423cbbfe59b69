package githubapi

import (
	"net/http"
	"testing"
)

func TestTheGHESPrefixServesTheSameAPIWithGHESURLs(t *testing.T) {
	f := newFixture(t)
	f.s.AddRepo("acme/app", true)
	f.s.Grant("octocat", "acme/app", "admin")
	token := f.s.IssueToken("octocat", "app-user", "", 0)

	resp, body := f.get(t, "/api/v3/user", token)
	wantStatus(t, resp, body, http.StatusOK)
	if got := decodeMap(t, body)["url"]; got != f.srv.URL+"/api/v3/users/octocat" {
		t.Errorf("user url = %v, want it under /api/v3", got)
	}

	resp, body = f.get(t, "/api/v3/repos/ACME/app", token)
	wantStatus(t, resp, body, http.StatusOK)
	m := decodeMap(t, body)
	if m["url"] != f.srv.URL+"/api/v3/repos/acme/app" || m["html_url"] != f.srv.URL+"/acme/app" {
		t.Errorf("url %v, html_url %v; want the API under /api/v3 and the web at the root", m["url"], m["html_url"])
	}

	f.s.InjectFault("/user", Fault{Status: http.StatusInternalServerError}, 1)
	resp, body = f.get(t, "/api/v3/user", token)
	wantStatus(t, resp, body, http.StatusInternalServerError)
	if got := f.s.Requests("/user"); got != 2 {
		t.Errorf("Requests(/user) = %d, want the two /api/v3/user calls", got)
	}
	if got := f.s.Requests("/api/v3/user"); got != 2 {
		t.Errorf("Requests(/api/v3/user) = %d, want 2", got)
	}

	resp, body = f.get(t, "/api/v3x/user", token)
	wantStatus(t, resp, body, http.StatusNotFound)
}
