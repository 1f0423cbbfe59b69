package githubapi

import (
	"fmt"
	"strings"
	"time"
)

// User is an account added with AddUser.
type User struct {
	ID    int64
	Login string
}

// Repo is a repository added with AddRepo.
type Repo struct {
	ID       int64
	FullName string
}

// accountType is simple-user's "type": a person or an organization.
type accountType string

const (
	typeUser         accountType = "User"
	typeOrganization accountType = "Organization"
)

type account struct {
	id      int64
	login   string // canonical case
	typ     accountType
	created time.Time
}

type repo struct {
	id      int64
	owner   *account
	name    string // canonical case
	private bool
	created time.Time
	grants  map[int64]permission // by user id
}

func (r *repo) fullName() string { return r.owner.login + "/" + r.name }

// permission is a repository role, ordered as GitHub's are: each includes
// the ones below it (https://docs.github.com/en/organizations/managing-user-access-to-your-organizations-repositories/managing-repository-roles/repository-roles-for-an-organization).
type permission int

const (
	permNone permission = iota
	permPull
	permTriage
	permPush
	permMaintain
	permAdmin
)

var permissionNames = map[string]permission{
	"pull": permPull, "triage": permTriage, "push": permPush, "maintain": permMaintain, "admin": permAdmin,
}

// nextID hands out ids from one sequence, as GitHub's users, organizations
// and repositories never share an id within a type; one sequence keeps them
// apart across types too. Callers hold s.mu.
func (s *Server) nextID() int64 {
	s.lastID++
	return 1000 + s.lastID
}

// AddUser adds a personal account, or returns the existing account with that
// login (logins are case-insensitive on GitHub; the first spelling wins).
func (s *Server) AddUser(login string) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.ensureAccount(login, typeUser)
	return User{ID: a.id, Login: a.login}
}

// ensureAccount returns the account for login, creating it with typ if
// needed. Callers hold s.mu.
func (s *Server) ensureAccount(login string, typ accountType) *account {
	if login == "" || strings.ContainsAny(login, "/ ") {
		panic(fmt.Sprintf("githubapi: %q is not a GitHub login", login))
	}
	key := strings.ToLower(login)
	if a, ok := s.accounts[key]; ok {
		return a
	}
	a := &account{id: s.nextID(), login: login, typ: typ, created: s.clock.Now().UTC().Truncate(time.Second)}
	s.accounts[key] = a
	return a
}

// AddRepo adds the repository OWNER/NAME, creating OWNER as an organization
// unless an account by that login exists. Adding it again returns the
// existing repository and sets its visibility to private. It panics on a
// name that is not OWNER/NAME: that is a mistake in the test.
func (s *Server) AddRepo(fullName string, private bool) Repo {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("githubapi: AddRepo(%q): want OWNER/NAME", fullName))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.repos[strings.ToLower(fullName)]; ok {
		r.private = private
		return Repo{ID: r.id, FullName: r.fullName()}
	}
	r := &repo{
		owner:   s.ensureAccount(owner, typeOrganization),
		name:    name,
		private: private,
		created: s.clock.Now().UTC().Truncate(time.Second),
		grants:  map[int64]permission{},
	}
	r.id = s.nextID()
	s.repos[strings.ToLower(fullName)] = r
	return Repo{ID: r.id, FullName: r.fullName()}
}

// Grant gives login the role permission (pull, triage, push, maintain or
// admin) on the repository fullName, replacing any earlier grant. The user
// is added if unknown. It panics on an unknown repository or role: call
// AddRepo first, and spell the role as GitHub does.
func (s *Server) Grant(login, fullName, permission string) {
	p, ok := permissionNames[permission]
	if !ok {
		panic(fmt.Sprintf("githubapi: Grant: role %q is not one of pull, triage, push, maintain, admin", permission))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.repos[strings.ToLower(fullName)]
	if !ok {
		panic(fmt.Sprintf("githubapi: Grant: no repository %q; call AddRepo first", fullName))
	}
	u := s.ensureAccount(login, typeUser)
	r.grants[u.id] = p
}

// access is what user u may do on r: the owner is an admin, anyone may pull
// a public repository, and a grant raises that. permNone means GitHub
// answers 404, as it does for private repositories one cannot see. u may be
// nil for a request with no user (no token, or an installation token).
func (r *repo) access(u *account) permission {
	p := permNone
	if !r.private {
		p = permPull
	}
	if u == nil {
		return p
	}
	if u == r.owner {
		return permAdmin
	}
	return max(p, r.grants[u.id])
}
