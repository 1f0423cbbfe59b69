package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
	"github.com/credd-dev/credd/daemon/control"
	"github.com/credd-dev/credd/daemon/server"
)

// targetFlags are the flags of the commands that point a client at the
// daemon: env, exec and credential-process.
type targetFlags struct{ stateDir, profile *string }

func addTargetFlags(fs *flag.FlagSet) targetFlags {
	return targetFlags{
		stateDir: fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)"),
		profile:  fs.String("profile", "", "a named role from the daemon's config file (default: the default role)"),
	}
}

// resolve finds the daemon the flags name; see resolveTarget.
func (f targetFlags) resolve(ctx context.Context, getenv func(string) string) (target, error) {
	return resolveTarget(ctx, config.StateDir(*f.stateDir, getenv), *f.profile, getenv)
}

// target is what a client needs to reach the daemon: the credentials URL
// of one role and the authorization token.
type target struct {
	URL       string
	Token     string
	TokenFile string
	// STSURL is the sandbox's STS emulator, when the daemon runs one.
	STSURL string
	// Warning is set when the daemon could not be asked and the target
	// was derived from the state dir and the defaults instead.
	Warning string
}

// resolveTarget asks the daemon over its control socket where it serves
// the role named profile ("" for the default role). When the daemon is not
// running it falls back to the token file and the configured --listen, so
// a shell can be set up before the daemon starts.
func resolveTarget(ctx context.Context, stateDir, profile string, getenv func(string) string) (target, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	trust := clientTrust(stateDir, getenv)
	tokenFile := filepath.Join(stateDir, authtoken.FileName)
	tok, err := authtoken.Read(ctx, stateDir, trust)
	if err != nil {
		return target{}, err
	}
	t := target{Token: tok, TokenFile: tokenFile}

	st, err := control.Client{StateDir: stateDir, Trust: trust}.Status(ctx)
	if err != nil {
		if !errors.Is(err, control.ErrNotRunning) {
			return target{}, err
		}
		listen := getenv(config.EnvName("listen"))
		if listen == "" {
			listen = config.DefaultListen
		}
		t.URL = "http://" + listen + server.RolePath(profile)
		t.Warning = "the credd daemon is not running; these settings assume it will listen on " + listen
		return t, nil
	}
	u, err := url.Parse(st.Endpoint)
	if err != nil {
		return target{}, fmt.Errorf("daemon reported a bad endpoint %q", st.Endpoint)
	}
	name := orDefaultRole(profile)
	var names []string
	for _, r := range st.Roles {
		names = append(names, r.Name)
		if r.Name == name {
			u.Path = r.Path
			t.URL = u.String()
		}
	}
	if t.URL == "" {
		slices.Sort(names)
		return target{}, fmt.Errorf("no role named %q; the daemon serves: %s", name, strings.Join(names, ", "))
	}
	if st.Sandbox != nil {
		t.STSURL = st.Sandbox.STSURL
	}
	return t, nil
}

// clientTrust is how far a client command trusts stateDir (see
// authtoken.Trust): root may use another user's state dir when the user
// named it, not when it is the computed default, which anyone can create
// first. Naming the default itself does not count, so that this needs
// only the resolved dir.
func clientTrust(stateDir string, getenv func(string) string) authtoken.Trust {
	return authtoken.Trust{Explicit: filepath.Clean(stateDir) != filepath.Clean(config.DefaultStateDir(getenv))}
}

func orDefaultRole(profile string) string {
	if profile == "" {
		return config.DefaultRoleName
	}
	return profile
}

// vars are the client environment SDK-COMPAT.md calls for: FULL_URI on
// 127.0.0.1, the token both inline (old SDKs) and as a file (new ones).
func (t target) vars() [][2]string {
	v := [][2]string{
		{"AWS_CONTAINER_CREDENTIALS_FULL_URI", t.URL},
		{"AWS_CONTAINER_AUTHORIZATION_TOKEN", t.Token},
		{"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", t.TokenFile},
	}
	if t.STSURL != "" {
		v = append(v, [2]string{"AWS_ENDPOINT_URL_STS", t.STSURL})
	}
	return v
}

// unsetVars would shadow the container provider in some SDKs.
var unsetVars = []string{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"}

// endpointCredentials is the body the endpoint serves.
type endpointCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	Token           string
	Expiration      string
	RoleArn         string
	AccountID       string `json:"AccountId"`
}

// fetchCredentials gets credentials from the endpoint as an SDK would.
func fetchCredentials(ctx context.Context, t target) (daemon.Credentials, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return daemon.Credentials{}, err
	}
	req.Header.Set("Authorization", t.Token)
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return daemon.Credentials{}, fmt.Errorf("ask the endpoint: %w (is the daemon running? `credd status` tells)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return daemon.Credentials{}, err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Code, Message string }
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			return daemon.Credentials{}, fmt.Errorf("endpoint answered %d %s: %s", resp.StatusCode, e.Code, e.Message)
		}
		return daemon.Credentials{}, fmt.Errorf("endpoint answered %s", resp.Status)
	}
	var ec endpointCredentials
	if err := json.Unmarshal(body, &ec); err != nil {
		return daemon.Credentials{}, fmt.Errorf("endpoint answered a body that is not credentials JSON: %w", err)
	}
	exp, err := time.Parse(daemon.ExpirationLayout, ec.Expiration)
	if err != nil {
		return daemon.Credentials{}, fmt.Errorf("endpoint answered a bad Expiration %q", ec.Expiration)
	}
	return daemon.Credentials{
		AccessKeyID: ec.AccessKeyID, SecretAccessKey: ec.SecretAccessKey, SessionToken: ec.Token,
		Expiration: exp, RoleARN: ec.RoleArn, AccountID: ec.AccountID,
	}, nil
}
