package config

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
)

// detectGitHub picks the github source for a role that names a bridge and
// has a GitHub token to show it: the one a Codespace hands over, or one a
// login with the role's client ID will get.
func detectGitHub(r Role, getenv func(string) string) string {
	switch {
	case r.BridgeURL == "":
		return ""
	case strings.HasPrefix(getenv("GITHUB_TOKEN"), "ghs_") && getenv("ACTIONS_ID_TOKEN_REQUEST_URL") != "":
		// An Actions job's GITHUB_TOKEN is an installation token, which
		// acts for no user: the bridge always refuses it, and the job's
		// own OIDC token (actions, next) is what to use there.
		return ""
	case getenv("GITHUB_TOKEN") != "":
		return "a bridge URL is set and GITHUB_TOKEN is present"
	case r.ClientID != "":
		return "a bridge URL and a client ID are set"
	}
	return ""
}

// checkGitHub says what a github role lacks: a bridge it may send a
// GitHub token to, and a repository. A missing GitHub token is not
// refused here: the role starts and its status says how to hand one over.
func checkGitHub(r Role) error {
	if r.BridgeURL == "" {
		return errors.New("needs --bridge-url: set it to the issuer URL of your credd-bridge")
	}
	if err := validateSecureURL(r.BridgeURL); err != nil {
		return fmt.Errorf("--bridge-url %s (from %s): %w", quote(r.BridgeURL), cmp.Or(r.Origins["bridge-url"], "its settings"), err)
	}
	if r.GitHubRepository == "" {
		return errors.New("needs a repository: set --github-repository (or GITHUB_REPOSITORY, which a Codespace sets) to OWNER/REPO")
	}
	return CheckRepository(r.GitHubRepository)
}

// GitHub's naming rules, which credd-bridge checks too: an account is 1-39
// letters, digits and hyphens; a repository 1-100 letters, digits, '.',
// '_' and '-', and neither "." nor "..".
const (
	maxGitHubOwner = 39
	maxGitHubRepo  = 100
)

// CheckRepository checks that s is OWNER/REPO by GitHub's naming rules.
func CheckRepository(s string) error {
	owner, repo, ok := strings.Cut(s, "/")
	switch {
	case !ok || strings.Contains(repo, "/"):
		return errors.New("use OWNER/REPO, such as octo-org/app")
	case len(owner) < 1 || len(owner) > maxGitHubOwner || !onlyNameChars(owner, "-"):
		return fmt.Errorf("the owner must be 1-%d letters, digits or hyphens: use OWNER/REPO", maxGitHubOwner)
	case len(repo) < 1 || len(repo) > maxGitHubRepo || repo == "." || repo == ".." || !onlyNameChars(repo, "._-"):
		return fmt.Errorf("the repository name must be 1-%d letters, digits, '.', '_' or '-': use OWNER/REPO", maxGitHubRepo)
	}
	return nil
}

func onlyNameChars(s, extra string) bool {
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}
