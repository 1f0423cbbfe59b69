package githubapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The "required" lists below are taken from GitHub's REST API description,
// github/rest-api-description, descriptions/api.github.com/api.github.com.json
// (commit 0000036e42b5e7121c2b1ac244cb7bba1d2f3914), components/schemas.
// public-user's list is the one the clients generated from that description
// mark as non-optional.
var (
	simpleUserRequired = []string{
		"avatar_url", "events_url", "followers_url", "following_url", "gists_url", "gravatar_id",
		"html_url", "id", "node_id", "login", "organizations_url", "received_events_url", "repos_url",
		"site_admin", "starred_url", "subscriptions_url", "type", "url",
	}
	publicUserRequired = append(slices.Clone(simpleUserRequired),
		"bio", "blog", "company", "email", "followers", "following", "hireable", "location", "name",
		"public_gists", "public_repos", "created_at", "updated_at",
	)
	privateUserRequired = append(slices.Clone(publicUserRequired),
		"collaborators", "disk_usage", "owned_private_repos", "private_gists", "total_private_repos",
		"two_factor_authentication",
	)
	privateUserPlanRequired = []string{"collaborators", "name", "space", "private_repos"}
	fullRepositoryRequired  = []string{
		"archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url",
		"commits_url", "compare_url", "contents_url", "contributors_url", "deployments_url", "description",
		"downloads_url", "events_url", "fork", "forks_url", "full_name", "git_commits_url", "git_refs_url",
		"git_tags_url", "hooks_url", "html_url", "id", "node_id", "issue_comment_url", "issue_events_url",
		"issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url", "name",
		"notifications_url", "owner", "private", "pulls_url", "releases_url", "stargazers_url",
		"statuses_url", "subscribers_url", "subscription_url", "tags_url", "teams_url", "trees_url", "url",
		"clone_url", "default_branch", "forks", "forks_count", "git_url", "has_issues", "has_projects",
		"has_wiki", "has_pages", "has_discussions", "homepage", "language", "archived", "disabled",
		"mirror_url", "open_issues", "open_issues_count", "license", "pushed_at", "size", "ssh_url",
		"stargazers_count", "svn_url", "watchers", "watchers_count", "created_at", "updated_at",
		"network_count", "subscribers_count",
	}
	repoPermissionsRequired = []string{"admin", "pull", "push"}
	authorizationRequired   = []string{
		"app", "id", "note", "note_url", "scopes", "token", "hashed_token", "token_last_eight",
		"fingerprint", "url", "created_at", "updated_at", "expires_at",
	}
	authorizationAppRequired = []string{"client_id", "name", "url"}
)

// requireKeys fails for each required key the object lacks.
func requireKeys(t *testing.T, schema string, obj any, keys []string) {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s: %T is not an object", schema, obj)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: required %q missing", schema, k)
		}
	}
}

// What a strict client decodes, field types as the description gives them.
type (
	simpleUserDoc struct {
		Login      string  `json:"login"`
		ID         int64   `json:"id"`
		NodeID     string  `json:"node_id"`
		AvatarURL  string  `json:"avatar_url"`
		GravatarID *string `json:"gravatar_id"`
		URL        string  `json:"url"`
		HTMLURL    string  `json:"html_url"`
		Type       string  `json:"type"`
		SiteAdmin  bool    `json:"site_admin"`
	}
	privateUserDoc struct {
		Login                   string    `json:"login"`
		ID                      int64     `json:"id"`
		NodeID                  string    `json:"node_id"`
		URL                     string    `json:"url"`
		HTMLURL                 string    `json:"html_url"`
		Type                    string    `json:"type"`
		Name                    *string   `json:"name"`
		Company                 *string   `json:"company"`
		Blog                    *string   `json:"blog"`
		Email                   *string   `json:"email"`
		Hireable                *bool     `json:"hireable"`
		PublicRepos             int       `json:"public_repos"`
		TotalPrivateRepos       int       `json:"total_private_repos"`
		CreatedAt               time.Time `json:"created_at"`
		UpdatedAt               time.Time `json:"updated_at"`
		TwoFactorAuthentication bool      `json:"two_factor_authentication"`
		Plan                    struct {
			Name         string `json:"name"`
			Space        int64  `json:"space"`
			PrivateRepos int64  `json:"private_repos"`
		} `json:"plan"`
	}
	fullRepositoryDoc struct {
		ID          int64         `json:"id"`
		NodeID      string        `json:"node_id"`
		Name        string        `json:"name"`
		FullName    string        `json:"full_name"`
		Private     bool          `json:"private"`
		Description *string       `json:"description"`
		URL         string        `json:"url"`
		HTMLURL     string        `json:"html_url"`
		CloneURL    string        `json:"clone_url"`
		Owner       simpleUserDoc `json:"owner"`
		Permissions *struct {
			Admin, Maintain, Push, Triage, Pull bool
		} `json:"permissions"`
		Visibility string     `json:"visibility"`
		PushedAt   *time.Time `json:"pushed_at"`
		CreatedAt  *time.Time `json:"created_at"`
		UpdatedAt  *time.Time `json:"updated_at"`
	}
	authorizationDoc struct {
		ID             int64    `json:"id"`
		URL            string   `json:"url"`
		Scopes         []string `json:"scopes"`
		Token          string   `json:"token"`
		TokenLastEight *string  `json:"token_last_eight"`
		HashedToken    *string  `json:"hashed_token"`
		App            struct {
			ClientID string `json:"client_id"`
			Name     string `json:"name"`
			URL      string `json:"url"`
		} `json:"app"`
		Note      *string        `json:"note"`
		CreatedAt time.Time      `json:"created_at"`
		UpdatedAt time.Time      `json:"updated_at"`
		ExpiresAt *time.Time     `json:"expires_at"`
		User      *simpleUserDoc `json:"user"`
	}
)

func TestGetUserAnswersPrivateUserWithEveryRequiredField(t *testing.T) {
	f := newFixture(t)
	u := f.s.AddUser("octocat")
	f.s.AddRepo("octocat/hello", false)
	f.s.AddRepo("octocat/secret", true)
	token := f.s.IssueToken("octocat", "app-user", "Iv1.app", 8*time.Hour)

	resp, body := f.get(t, "/user", token)
	wantStatus(t, resp, body, http.StatusOK)
	m := decodeMap(t, body)
	requireKeys(t, "private-user", m, privateUserRequired)
	requireKeys(t, "public-user", m, publicUserRequired)
	requireKeys(t, "private-user.plan", m["plan"], privateUserPlanRequired)

	var doc privateUserDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	if doc.Login != "octocat" || doc.ID != u.ID || doc.Type != "User" {
		t.Errorf("user = %s/%d/%s, want octocat/%d/User", doc.Login, doc.ID, doc.Type, u.ID)
	}
	if doc.PublicRepos != 1 || doc.TotalPrivateRepos != 1 {
		t.Errorf("repo counts = %d public, %d private; want 1 and 1", doc.PublicRepos, doc.TotalPrivateRepos)
	}
	if !doc.CreatedAt.Equal(start) {
		t.Errorf("created_at = %s, want %s", doc.CreatedAt, start)
	}
	if doc.URL != f.srv.URL+"/users/octocat" || doc.HTMLURL != f.srv.URL+"/octocat" {
		t.Errorf("urls = %s, %s; want them on the server's base URL", doc.URL, doc.HTMLURL)
	}
}

func TestGetRepositoryAnswersFullRepositoryWithEveryRequiredField(t *testing.T) {
	f := newFixture(t)
	f.s.AddUser("octocat")
	repo := f.s.AddRepo("Octo-Org/App", true)
	f.s.Grant("octocat", "Octo-Org/App", "push")
	token := f.s.IssueToken("octocat", "app-user", "", 0)

	resp, body := f.get(t, "/repos/octo-org/app", token)
	wantStatus(t, resp, body, http.StatusOK)
	m := decodeMap(t, body)
	requireKeys(t, "full-repository", m, fullRepositoryRequired)
	requireKeys(t, "full-repository.owner (simple-user)", m["owner"], simpleUserRequired)
	requireKeys(t, "full-repository.permissions", m["permissions"], repoPermissionsRequired)

	var doc fullRepositoryDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	if doc.ID != repo.ID || doc.FullName != "Octo-Org/App" || doc.Name != "App" || doc.Owner.Login != "Octo-Org" {
		t.Errorf("repo = %d %s (%s, owner %s); want %d Octo-Org/App in its canonical case", doc.ID, doc.FullName, doc.Name, doc.Owner.Login, repo.ID)
	}
	if doc.Owner.Type != "Organization" || !doc.Private || doc.Visibility != "private" {
		t.Errorf("owner type %s, private %v, visibility %s; want Organization, true, private", doc.Owner.Type, doc.Private, doc.Visibility)
	}
	if doc.URL != f.srv.URL+"/repos/Octo-Org/App" || doc.CloneURL != f.srv.URL+"/Octo-Org/App.git" {
		t.Errorf("urls = %s, %s; want them on the server's base URL", doc.URL, doc.CloneURL)
	}
	if doc.CreatedAt == nil || !doc.CreatedAt.Equal(start) {
		t.Errorf("created_at = %v, want %s", doc.CreatedAt, start)
	}
}

func TestCheckTokenAnswersAuthorizationWithEveryRequiredField(t *testing.T) {
	f := newFixture(t)
	u := f.s.AddUser("octocat")
	f.s.AddApp("Iv1.app", "app-secret", true)
	token := f.s.IssueToken("octocat", "app-user", "Iv1.app", 8*time.Hour)

	resp, body := f.checkToken(t, "Iv1.app", "Iv1.app", "app-secret", token)
	wantStatus(t, resp, body, http.StatusOK)
	m := decodeMap(t, body)
	requireKeys(t, "authorization", m, authorizationRequired)
	requireKeys(t, "authorization.app", m["app"], authorizationAppRequired)
	requireKeys(t, "authorization.user (simple-user)", m["user"], simpleUserRequired)

	var doc authorizationDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("strict decode: %v", err)
	}
	if doc.Token != token {
		t.Error("token is not the token checked, as GitHub returns it")
	}
	if doc.TokenLastEight == nil || *doc.TokenLastEight != token[len(token)-8:] {
		t.Errorf("token_last_eight = %v, want the token's last eight", doc.TokenLastEight)
	}
	if doc.HashedToken == nil || len(*doc.HashedToken) != 64 {
		t.Errorf("hashed_token = %v, want a SHA-256 in hex", doc.HashedToken)
	}
	if doc.App.ClientID != "Iv1.app" || doc.User == nil || doc.User.ID != u.ID {
		t.Errorf("app %s, user %+v; want Iv1.app and user %d", doc.App.ClientID, doc.User, u.ID)
	}
	if doc.ExpiresAt == nil || !doc.ExpiresAt.Equal(start.Add(8*time.Hour)) {
		t.Errorf("expires_at = %v, want %s", doc.ExpiresAt, start.Add(8*time.Hour))
	}
	if doc.Scopes == nil || !strings.HasPrefix(doc.URL, f.srv.URL+"/authorizations/") {
		t.Errorf("scopes %v, url %s; want [] and a URL on the server", doc.Scopes, doc.URL)
	}
}

func TestBasicErrorsHaveGitHubsShape(t *testing.T) {
	f := newFixture(t)
	resp, body := f.get(t, "/user", "ghu_notatokenatall000000000000000000000")
	wantStatus(t, resp, body, http.StatusUnauthorized)
	var doc struct {
		Message          string `json:"message"`
		DocumentationURL string `json:"documentation_url"`
		Status           string `json:"status"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("decode basic-error: %v", err)
	}
	want := struct{ Message, DocumentationURL, Status string }{"Bad credentials", "https://docs.github.com/rest", "401"}
	if doc.Message != want.Message || doc.DocumentationURL != want.DocumentationURL || doc.Status != want.Status {
		t.Errorf("basic-error = %+v, want %+v", doc, want)
	}
}
