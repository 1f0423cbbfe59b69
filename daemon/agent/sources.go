package agent

import (
	"context"
	"fmt"

	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/login"
	"github.com/credd-dev/credd/daemon/sandbox"
	"github.com/credd-dev/credd/daemon/source"
)

// builtSource is a role's token source and what the agent needs to know of
// it. A source that can tell when its token changed says so itself, by
// implementing source.Notifier, and the refresher listens; one that must
// watch something to know it also implements watcher, and the agent runs
// its Watch.
type builtSource struct {
	src source.Source
	// audience is what the token's aud claim must be, when it is not the
	// role's audience (an ID token from a login names its client).
	audience string
	login    *login.Session
}

// sourceBuilder builds a role's token source. It may fill in settings the
// source implies (the sandbox's role ARN and STS endpoint, say).
type sourceBuilder func(ctx context.Context, a *Agent, rc *config.Role) (builtSource, error)

// sourceBuilders holds a builder for each of config.TokenSources.
var sourceBuilders = map[string]sourceBuilder{
	config.SourceFile: func(_ context.Context, a *Agent, rc *config.Role) (builtSource, error) {
		return builtSource{src: source.NewFile(rc.TokenFile, a.log.With("role", rc.Name))}, nil
	},
	config.SourceCommand: func(_ context.Context, a *Agent, rc *config.Role) (builtSource, error) {
		// Only the variables config kept for the command (SourceEnv), never
		// the daemon's whole environment with its secrets.
		return builtSource{src: source.NewCommand(rc.TokenCommand, 0, rc.SourceEnv, a.log.With("role", rc.Name))}, nil
	},
	config.SourceActions: func(_ context.Context, _ *Agent, rc *config.Role) (builtSource, error) {
		// The layered environment the role was resolved from, so that a
		// handed-off ACTIONS_ID_TOKEN_REQUEST_* is used.
		act, err := source.ActionsFromEnv(rc.Audience, func(k string) string { return rc.SourceEnv[k] })
		return builtSource{src: act}, err
	},
	config.SourceGitHub: buildGitHub,
	config.SourceLogin: func(_ context.Context, a *Agent, rc *config.Role) (builtSource, error) {
		ls, err := a.loginSource(*rc)
		if err != nil {
			return builtSource{}, err
		}
		// An ID token's audience is the client it was issued to.
		return builtSource{src: ls, audience: rc.ClientID, login: ls.Session()}, nil
	},
	config.SourceSandbox: func(ctx context.Context, a *Agent, rc *config.Role) (builtSource, error) {
		sb, err := a.ensureSandbox(ctx)
		if err != nil {
			return builtSource{}, err
		}
		rc.RoleARN = effectiveARN(*rc)
		if rc.STSEndpoint == "" {
			rc.STSEndpoint = sb.STSURL
			// The embedded STS creates the role it is told to assume, so
			// the sandbox works with the role ARN a user configured (a
			// Codespaces secret, say); its trust policy is the sandbox's.
			if err := sb.STS.AddRole(sandbox.Role{ARN: rc.RoleARN, Audience: rc.Audience}); err != nil {
				return builtSource{}, err
			}
		}
		if rc.Issuer == "" {
			rc.Issuer = sb.IssuerURL
		}
		audience := rc.Audience
		return builtSource{src: &source.Func{SourceName: config.SourceSandbox, Fn: func(context.Context) (string, error) {
			return sb.Issuer.Mint(audience, nil)
		}}}, nil
	},
}

// buildGitHub builds the github source. The GitHub token is the one the
// role was resolved with (a GITHUB_TOKEN handed over by `credd reload
// --from-env`, kept in SourceEnv): a new one rebuilds the role. Without
// one, a role with a client ID signs in with GitHub's device flow
// (`credd login`); any other role still starts, and its status says how
// to get a token.
func buildGitHub(_ context.Context, a *Agent, rc *config.Role) (builtSource, error) {
	handed := rc.SourceEnv["GITHUB_TOKEN"]
	repository := rc.GitHubRepository
	if repository == "" {
		repository = rc.SourceEnv["GITHUB_REPOSITORY"]
	}
	ua := "credd"
	if a.opts.Version != "" {
		ua += "/" + a.opts.Version
	}
	cfg := source.GitHubConfig{
		BridgeURL:   rc.BridgeURL,
		Repository:  repository,
		Audience:    rc.Audience,
		GitHubToken: func(context.Context) (string, error) { return handed, nil },
		UserAgent:   ua,
		Clock:       a.opts.Clock,
		Logger:      a.log.With("role", rc.Name),
	}
	var ls *login.Source
	if handed == "" && rc.ClientID != "" {
		var err error
		if ls, err = a.githubLoginSource(*rc); err != nil {
			return builtSource{}, err
		}
		cfg.GitHubToken, cfg.TokenRefused = ls.Token, ls.TokenRefused
	}
	gh, err := source.NewGitHub(cfg)
	if err != nil {
		return builtSource{}, err
	}
	if ls == nil {
		return builtSource{src: gh}, nil
	}
	return builtSource{src: githubLogin{gh, ls}, login: ls.Session()}, nil
}

// githubLogin is the github source fed by a GitHub login: a new login or
// renewal is a new GitHub token, which the refresher should use at once.
type githubLogin struct {
	*source.GitHub
	login *login.Source
}

func (g githubLogin) Changed() <-chan struct{} { return g.login.Changed() }

// buildSource builds the role's token source with its registered builder.
func (a *Agent) buildSource(ctx context.Context, rc *config.Role) (builtSource, error) {
	build, ok := sourceBuilders[rc.TokenSource]
	if !ok {
		return builtSource{}, fmt.Errorf("unknown token source %q", rc.TokenSource)
	}
	b, err := build(ctx, a, rc)
	if err != nil {
		return builtSource{}, err
	}
	if b.audience == "" {
		b.audience = rc.Audience
	}
	return b, nil
}
