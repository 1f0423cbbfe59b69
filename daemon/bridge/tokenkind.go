package bridge

import "strings"

// Token kinds, named after what GitHub issued the token to. GitHub's
// prefixes are documented in
// https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
const (
	// KindAppUser is a GitHub App user-to-server token (ghu_), also
	// Codespaces' GITHUB_TOKEN: the default and only accepted kind.
	KindAppUser = "app-user"
	// KindOAuthApp is an OAuth App access token (gho_).
	KindOAuthApp = "oauth-app"
	// KindClassicPAT is a classic personal access token (ghp_).
	KindClassicPAT = "classic-pat"
	// KindFineGrainedPAT is a fine-grained personal access token (github_pat_).
	KindFineGrainedPAT = "fine-grained-pat"
	// KindAppInstallation is a GitHub App installation token (ghs_), also
	// Actions' GITHUB_TOKEN: it acts for no user, so it is always refused.
	KindAppInstallation = "app-installation"
	// KindUnknown is any other token.
	KindUnknown = "unknown"
)

// tokenKinds maps GitHub's token prefixes to kind names.
var tokenKinds = []struct{ prefix, kind string }{
	{"ghu_", KindAppUser},
	{"gho_", KindOAuthApp},
	{"ghp_", KindClassicPAT},
	{"github_pat_", KindFineGrainedPAT},
	{"ghs_", KindAppInstallation},
}

// TokenKinds lists every kind name TokenKind returns.
func TokenKinds() []string {
	return []string{KindAppUser, KindOAuthApp, KindClassicPAT, KindFineGrainedPAT, KindAppInstallation, KindUnknown}
}

// TokenKind names the kind of a GitHub token by its prefix (KindAppUser, …,
// KindUnknown). It reads only the prefix, so it is safe on any input.
func TokenKind(token string) string {
	for _, k := range tokenKinds {
		if strings.HasPrefix(token, k.prefix) {
			return k.kind
		}
	}
	return KindUnknown
}

// isPAT reports whether kind is a personal access token, which stands for a
// person everywhere, not for a sign-in through an app.
func isPAT(kind string) bool { return kind == KindClassicPAT || kind == KindFineGrainedPAT }
