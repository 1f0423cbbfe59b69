package bridge

import (
	"fmt"
	"strings"
)

// Name rules of GitHub accounts and repositories: an owner is 1-39 letters,
// digits and hyphens; a repository 1-100 letters, digits, ".", "_" and "-",
// and neither "." nor "..". Checking them before any GitHub call keeps junk
// (and path tricks) out of the URL the bridge builds.
const (
	maxOwnerLen = 39
	maxRepoLen  = 100
)

// splitRepository parses OWNER/REPO.
func splitRepository(s string) (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(s, "/")
	s = shorten(s)
	if !ok {
		return "", "", fmt.Errorf("repository %q is not OWNER/REPO", s)
	}
	if !validOwner(owner) {
		return "", "", fmt.Errorf("repository %q: the owner must be 1-%d letters, digits or hyphens", s, maxOwnerLen)
	}
	if !validRepo(repo) {
		return "", "", fmt.Errorf("repository %q: the name must be 1-%d letters, digits, '.', '_' or '-', and not '.' or '..'", s, maxRepoLen)
	}
	return owner, repo, nil
}

func validOwner(s string) bool {
	return len(s) >= 1 && len(s) <= maxOwnerLen && allIn(s, "-")
}

func validRepo(s string) bool {
	return len(s) >= 1 && len(s) <= maxRepoLen && s != "." && s != ".." && allIn(s, "._-")
}

// allIn reports whether s has only ASCII letters, digits and extra.
func allIn(s, extra string) bool {
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// allowRule is one --allow: an owner, or one repository of it.
type allowRule struct {
	owner, repo string // repo "" = every repository of owner
}

// parseAllowRule parses OWNER or OWNER/REPO.
func parseAllowRule(s string) (allowRule, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		if !validOwner(s) {
			return allowRule{}, fmt.Errorf("%q is not OWNER or OWNER/REPO (an owner is 1-%d letters, digits or hyphens)", s, maxOwnerLen)
		}
		return allowRule{owner: s}, nil
	}
	owner, repo, err := splitRepository(s)
	if err != nil {
		return allowRule{}, fmt.Errorf("not OWNER or OWNER/REPO: %w", err)
	}
	return allowRule{owner: owner, repo: repo}, nil
}

// matches compares case-insensitively, as GitHub does for names.
func (a allowRule) matches(owner, repo string) bool {
	return strings.EqualFold(a.owner, owner) && (a.repo == "" || strings.EqualFold(a.repo, repo))
}

func (a allowRule) String() string {
	if a.repo == "" {
		return a.owner
	}
	return a.owner + "/" + a.repo
}

// allowed reports whether any rule matches owner/repo.
func allowed(rules []allowRule, owner, repo string) bool {
	for _, a := range rules {
		if a.matches(owner, repo) {
			return true
		}
	}
	return false
}
