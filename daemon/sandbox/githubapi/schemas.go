package githubapi

import (
	"encoding/base64"
	"strconv"
	"time"
)

// The answers below follow GitHub's published REST API description
// (github/rest-api-description, descriptions/api.github.com/api.github.com.json,
// components/schemas): every field a schema marks required is present,
// nullable ones as null. Field order follows the description's examples.

// simpleUser is the "simple-user" schema (owner of a repository, user of an
// authorization).
type simpleUser struct {
	Login             string `json:"login"`
	ID                int64  `json:"id"`
	NodeID            string `json:"node_id"`
	AvatarURL         string `json:"avatar_url"`
	GravatarID        string `json:"gravatar_id"`
	URL               string `json:"url"`
	HTMLURL           string `json:"html_url"`
	FollowersURL      string `json:"followers_url"`
	FollowingURL      string `json:"following_url"`
	GistsURL          string `json:"gists_url"`
	StarredURL        string `json:"starred_url"`
	SubscriptionsURL  string `json:"subscriptions_url"`
	OrganizationsURL  string `json:"organizations_url"`
	ReposURL          string `json:"repos_url"`
	EventsURL         string `json:"events_url"`
	ReceivedEventsURL string `json:"received_events_url"`
	Type              string `json:"type"`
	UserViewType      string `json:"user_view_type"`
	SiteAdmin         bool   `json:"site_admin"`
}

// nodeID is a legacy global node ID, base64 of "<len>:<Type><id>", e.g.
// "MDQ6VXNlcjE=" for user 1 (https://docs.github.com/en/graphql/guides/using-global-node-ids).
func nodeID(typ string, id int64) string {
	s := typ + strconv.FormatInt(id, 10)
	return base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(len(typ)) + ":" + s))
}

func newSimpleUser(st site, a *account, view string) simpleUser {
	u := st.api + "/users/" + a.login
	return simpleUser{
		Login:             a.login,
		ID:                a.id,
		NodeID:            nodeID(string(a.typ), a.id),
		AvatarURL:         st.web + "/avatars/u/" + strconv.FormatInt(a.id, 10) + "?v=4",
		GravatarID:        "",
		URL:               u,
		HTMLURL:           st.web + "/" + a.login,
		FollowersURL:      u + "/followers",
		FollowingURL:      u + "/following{/other_user}",
		GistsURL:          u + "/gists{/gist_id}",
		StarredURL:        u + "/starred{/owner}{/repo}",
		SubscriptionsURL:  u + "/subscriptions",
		OrganizationsURL:  u + "/orgs",
		ReposURL:          u + "/repos",
		EventsURL:         u + "/events{/privacy}",
		ReceivedEventsURL: u + "/received_events",
		Type:              string(a.typ),
		UserViewType:      view,
		SiteAdmin:         false,
	}
}

// privateUser is the "private-user" schema, GET /user's answer for the
// token's own account.
type privateUser struct {
	simpleUser
	Name                    *string  `json:"name"`
	Company                 *string  `json:"company"`
	Blog                    *string  `json:"blog"`
	Location                *string  `json:"location"`
	Email                   *string  `json:"email"`
	NotificationEmail       *string  `json:"notification_email"`
	Hireable                *bool    `json:"hireable"`
	Bio                     *string  `json:"bio"`
	TwitterUsername         *string  `json:"twitter_username"`
	PublicRepos             int      `json:"public_repos"`
	PublicGists             int      `json:"public_gists"`
	Followers               int      `json:"followers"`
	Following               int      `json:"following"`
	CreatedAt               string   `json:"created_at"`
	UpdatedAt               string   `json:"updated_at"`
	PrivateGists            int      `json:"private_gists"`
	TotalPrivateRepos       int      `json:"total_private_repos"`
	OwnedPrivateRepos       int      `json:"owned_private_repos"`
	DiskUsage               int      `json:"disk_usage"`
	Collaborators           int      `json:"collaborators"`
	TwoFactorAuthentication bool     `json:"two_factor_authentication"`
	Plan                    userPlan `json:"plan"`
}

// userPlan is private-user's "plan" (all four fields required); the values
// are GitHub Free's.
type userPlan struct {
	Name          string `json:"name"`
	Space         int64  `json:"space"`
	Collaborators int    `json:"collaborators"`
	PrivateRepos  int64  `json:"private_repos"`
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (s *Server) newPrivateUser(st site, a *account) privateUser {
	var public, private int
	for _, r := range s.repos {
		switch {
		case r.owner != a:
		case r.private:
			private++
		default:
			public++
		}
	}
	blog := "" // GitHub sends "" rather than null for an empty blog
	return privateUser{
		simpleUser:              newSimpleUser(st, a, "private"),
		Blog:                    &blog,
		PublicRepos:             public,
		CreatedAt:               timestamp(a.created),
		UpdatedAt:               timestamp(a.created),
		TotalPrivateRepos:       private,
		OwnedPrivateRepos:       private,
		TwoFactorAuthentication: true,
		Plan:                    userPlan{Name: "free", Space: 976562499, PrivateRepos: 10000},
	}
}

// fullRepository is the "full-repository" schema, GET /repos/{owner}/{repo}'s
// answer. Permissions is present when the request has a user, as on GitHub.
type fullRepository struct {
	ID                       int64            `json:"id"`
	NodeID                   string           `json:"node_id"`
	Name                     string           `json:"name"`
	FullName                 string           `json:"full_name"`
	Owner                    simpleUser       `json:"owner"`
	Private                  bool             `json:"private"`
	HTMLURL                  string           `json:"html_url"`
	Description              *string          `json:"description"`
	Fork                     bool             `json:"fork"`
	URL                      string           `json:"url"`
	ArchiveURL               string           `json:"archive_url"`
	AssigneesURL             string           `json:"assignees_url"`
	BlobsURL                 string           `json:"blobs_url"`
	BranchesURL              string           `json:"branches_url"`
	CollaboratorsURL         string           `json:"collaborators_url"`
	CommentsURL              string           `json:"comments_url"`
	CommitsURL               string           `json:"commits_url"`
	CompareURL               string           `json:"compare_url"`
	ContentsURL              string           `json:"contents_url"`
	ContributorsURL          string           `json:"contributors_url"`
	DeploymentsURL           string           `json:"deployments_url"`
	DownloadsURL             string           `json:"downloads_url"`
	EventsURL                string           `json:"events_url"`
	ForksURL                 string           `json:"forks_url"`
	GitCommitsURL            string           `json:"git_commits_url"`
	GitRefsURL               string           `json:"git_refs_url"`
	GitTagsURL               string           `json:"git_tags_url"`
	GitURL                   string           `json:"git_url"`
	IssueCommentURL          string           `json:"issue_comment_url"`
	IssueEventsURL           string           `json:"issue_events_url"`
	IssuesURL                string           `json:"issues_url"`
	KeysURL                  string           `json:"keys_url"`
	LabelsURL                string           `json:"labels_url"`
	LanguagesURL             string           `json:"languages_url"`
	MergesURL                string           `json:"merges_url"`
	MilestonesURL            string           `json:"milestones_url"`
	NotificationsURL         string           `json:"notifications_url"`
	PullsURL                 string           `json:"pulls_url"`
	ReleasesURL              string           `json:"releases_url"`
	SSHURL                   string           `json:"ssh_url"`
	StargazersURL            string           `json:"stargazers_url"`
	StatusesURL              string           `json:"statuses_url"`
	SubscribersURL           string           `json:"subscribers_url"`
	SubscriptionURL          string           `json:"subscription_url"`
	TagsURL                  string           `json:"tags_url"`
	TeamsURL                 string           `json:"teams_url"`
	TreesURL                 string           `json:"trees_url"`
	CloneURL                 string           `json:"clone_url"`
	MirrorURL                *string          `json:"mirror_url"`
	HooksURL                 string           `json:"hooks_url"`
	SVNURL                   string           `json:"svn_url"`
	Homepage                 *string          `json:"homepage"`
	Language                 *string          `json:"language"`
	ForksCount               int              `json:"forks_count"`
	StargazersCount          int              `json:"stargazers_count"`
	WatchersCount            int              `json:"watchers_count"`
	Size                     int              `json:"size"`
	DefaultBranch            string           `json:"default_branch"`
	OpenIssuesCount          int              `json:"open_issues_count"`
	IsTemplate               bool             `json:"is_template"`
	Topics                   []string         `json:"topics"`
	HasIssues                bool             `json:"has_issues"`
	HasProjects              bool             `json:"has_projects"`
	HasWiki                  bool             `json:"has_wiki"`
	HasPages                 bool             `json:"has_pages"`
	HasDownloads             bool             `json:"has_downloads"`
	HasDiscussions           bool             `json:"has_discussions"`
	Archived                 bool             `json:"archived"`
	Disabled                 bool             `json:"disabled"`
	Visibility               string           `json:"visibility"`
	PushedAt                 string           `json:"pushed_at"`
	CreatedAt                string           `json:"created_at"`
	UpdatedAt                string           `json:"updated_at"`
	Permissions              *repoPermissions `json:"permissions,omitempty"`
	AllowForking             bool             `json:"allow_forking"`
	WebCommitSignoffRequired bool             `json:"web_commit_signoff_required"`
	License                  *struct{}        `json:"license"`
	Organization             *simpleUser      `json:"organization,omitempty"`
	Forks                    int              `json:"forks"`
	OpenIssues               int              `json:"open_issues"`
	Watchers                 int              `json:"watchers"`
	NetworkCount             int              `json:"network_count"`
	SubscribersCount         int              `json:"subscribers_count"`
}

// repoPermissions is full-repository's "permissions" (admin, pull and push
// required; GitHub sends all five).
type repoPermissions struct {
	Admin    bool `json:"admin"`
	Maintain bool `json:"maintain"`
	Push     bool `json:"push"`
	Triage   bool `json:"triage"`
	Pull     bool `json:"pull"`
}

func newPermissions(p permission) *repoPermissions {
	return &repoPermissions{
		Admin:    p >= permAdmin,
		Maintain: p >= permMaintain,
		Push:     p >= permPush,
		Triage:   p >= permTriage,
		Pull:     p >= permPull,
	}
}

func newFullRepository(st site, r *repo) fullRepository {
	full := r.fullName()
	u := st.api + "/repos/" + full
	created := timestamp(r.created)
	visibility := "public"
	if r.private {
		visibility = "private"
	}
	fr := fullRepository{
		ID:               r.id,
		NodeID:           nodeID("Repository", r.id),
		Name:             r.name,
		FullName:         full,
		Owner:            newSimpleUser(st, r.owner, "public"),
		Private:          r.private,
		HTMLURL:          st.web + "/" + full,
		URL:              u,
		ArchiveURL:       u + "/{archive_format}{/ref}",
		AssigneesURL:     u + "/assignees{/user}",
		BlobsURL:         u + "/git/blobs{/sha}",
		BranchesURL:      u + "/branches{/branch}",
		CollaboratorsURL: u + "/collaborators{/collaborator}",
		CommentsURL:      u + "/comments{/number}",
		CommitsURL:       u + "/commits{/sha}",
		CompareURL:       u + "/compare/{base}...{head}",
		ContentsURL:      u + "/contents/{+path}",
		ContributorsURL:  u + "/contributors",
		DeploymentsURL:   u + "/deployments",
		DownloadsURL:     u + "/downloads",
		EventsURL:        u + "/events",
		ForksURL:         u + "/forks",
		GitCommitsURL:    u + "/git/commits{/sha}",
		GitRefsURL:       u + "/git/refs{/sha}",
		GitTagsURL:       u + "/git/tags{/sha}",
		GitURL:           "git://" + st.host + "/" + full + ".git",
		IssueCommentURL:  u + "/issues/comments{/number}",
		IssueEventsURL:   u + "/issues/events{/number}",
		IssuesURL:        u + "/issues{/number}",
		KeysURL:          u + "/keys{/key_id}",
		LabelsURL:        u + "/labels{/name}",
		LanguagesURL:     u + "/languages",
		MergesURL:        u + "/merges",
		MilestonesURL:    u + "/milestones{/number}",
		NotificationsURL: u + "/notifications{?since,all,participating}",
		PullsURL:         u + "/pulls{/number}",
		ReleasesURL:      u + "/releases{/id}",
		SSHURL:           "git@" + st.host + ":" + full + ".git",
		StargazersURL:    u + "/stargazers",
		StatusesURL:      u + "/statuses/{sha}",
		SubscribersURL:   u + "/subscribers",
		SubscriptionURL:  u + "/subscription",
		TagsURL:          u + "/tags",
		TeamsURL:         u + "/teams",
		TreesURL:         u + "/git/trees{/sha}",
		CloneURL:         st.web + "/" + full + ".git",
		HooksURL:         u + "/hooks",
		SVNURL:           st.web + "/" + full,
		DefaultBranch:    "main",
		Topics:           []string{},
		HasIssues:        true,
		HasProjects:      true,
		HasWiki:          true,
		HasDownloads:     true,
		Visibility:       visibility,
		PushedAt:         created,
		CreatedAt:        created,
		UpdatedAt:        created,
		AllowForking:     true,
	}
	if r.owner.typ == typeOrganization {
		org := newSimpleUser(st, r.owner, "public")
		fr.Organization = &org
	}
	return fr
}

// authorization is the "authorization" schema, the check-token answer
// (https://docs.github.com/en/rest/apps/oauth-applications#check-a-token).
type authorization struct {
	ID             int64            `json:"id"`
	URL            string           `json:"url"`
	Scopes         []string         `json:"scopes"`
	Token          string           `json:"token"`
	TokenLastEight string           `json:"token_last_eight"`
	HashedToken    string           `json:"hashed_token"`
	App            authorizationApp `json:"app"`
	Note           *string          `json:"note"`
	NoteURL        *string          `json:"note_url"`
	UpdatedAt      string           `json:"updated_at"`
	CreatedAt      string           `json:"created_at"`
	Fingerprint    *string          `json:"fingerprint"`
	User           *simpleUser      `json:"user"`
	Installation   *struct{}        `json:"installation"`
	ExpiresAt      *string          `json:"expires_at"`
}

// authorizationApp is authorization's "app" (client_id, name, url required).
type authorizationApp struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
}

// newAuthorization describes rec; token is the token as the caller sent it,
// which GitHub returns in "token".
func newAuthorization(st site, rec *tokenRecord, a *app, token string) authorization {
	scopes := rec.scopes
	if scopes == nil {
		scopes = []string{}
	}
	auth := authorization{
		ID:             rec.id,
		URL:            st.api + "/authorizations/" + strconv.FormatInt(rec.id, 10),
		Scopes:         scopes,
		Token:          token,
		TokenLastEight: rec.lastEight,
		HashedToken:    rec.hashHex,
		App:            authorizationApp{ClientID: a.clientID, Name: a.name(), URL: st.web + "/apps/" + a.slug()},
		UpdatedAt:      timestamp(rec.created),
		CreatedAt:      timestamp(rec.created),
	}
	if rec.user != nil {
		u := newSimpleUser(st, rec.user, "public")
		auth.User = &u
	}
	if !rec.expires.IsZero() {
		e := timestamp(rec.expires)
		auth.ExpiresAt = &e
	}
	return auth
}
