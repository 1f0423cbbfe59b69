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
	"github.com/credd-dev/credd/daemon/sts"
)

// targetFlags are the flags of the commands that point a client at the
// daemon: env, exec and credential-process.
type targetFlags struct {
	stateDir, profile *string
	wait              *time.Duration
}

func addTargetFlags(fs *flag.FlagSet) targetFlags {
	return targetFlags{
		stateDir: fs.String("state-dir", "", "the daemon's state directory (default as the daemon's)"),
		profile:  fs.String("profile", "", "a named role from the daemon's config file (default: the default role)"),
		wait:     fs.Duration("wait", 0, "wait up to this long for a daemon that is starting, e.g. 10s right after `credd daemon &` (default: no wait)"),
	}
}

// check refuses values the flag package accepts but resolve cannot use.
func (f targetFlags) check() error {
	if *f.wait < 0 {
		return fmt.Errorf("--wait %s is negative: give how long to wait, such as 10s, or 0 not to wait", *f.wait)
	}
	return nil
}

// resolve finds the daemon the flags name, first waiting for it when
// --wait asks to; see resolveTarget.
func (f targetFlags) resolve(ctx context.Context, getenv func(string) string) (target, error) {
	dir := config.StateDir(*f.stateDir, getenv)
	if *f.wait > 0 {
		c := control.Client{StateDir: dir, Trust: clientTrust(dir, getenv)}
		if err := waitForDaemon(ctx, c, *f.wait, daemonPoll); err != nil {
			return target{}, err
		}
	}
	return resolveTarget(ctx, dir, *f.profile, getenv)
}

// daemonPoll is how often waitForDaemon asks: a daemon starts in tens of
// milliseconds, and a local socket costs nothing to try.
const daemonPoll = 75 * time.Millisecond

// waitForDaemon returns once a daemon answers on c's control socket, or
// fails after wait. A daemon answers only after it has written its token
// (agent.Start writes it; the socket is served from Run), so the token
// read afterwards is the one it serves, not one an earlier run left.
func waitForDaemon(ctx context.Context, c control.Client, wait, poll time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		_, err := c.Status(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() == nil && !errors.Is(err, control.ErrNotRunning):
			return err // a refusal (ownership, permissions) waiting will not cure
		}
		select {
		case <-ctx.Done():
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("stopped waiting for the credd daemon: %w", ctx.Err())
			}
			return fmt.Errorf("waited %s for a credd daemon to write its token to %s and answer on %s, in vain: start it with `%s daemon` (with this --state-dir), or wait longer with --wait",
				wait, authtoken.Path(c.StateDir), control.SocketPath(c.StateDir), selfCommand())
		case <-tick.C:
		}
	}
}

// target is what a client needs to reach the daemon: the credentials URL
// of one role and the authorization token.
type target struct {
	URL       string
	Token     string
	TokenFile string
	// STSURL is the sandbox's STS emulator, when the daemon runs one.
	STSURL string
	// MetadataV4 and MetadataV3 are the task metadata URIs, when the
	// daemon mirrors an ECS task definition.
	MetadataV4, MetadataV3 string
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
	if st.ECS != nil {
		t.MetadataV4, t.MetadataV3 = st.ECS.MetadataURIV4, st.ECS.MetadataURI
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
		// The sandbox's keys are good only at its STS emulator, so a
		// region there only needs to make clients start: botocore (boto3,
		// AWS CLI) reads AWS_DEFAULT_REGION, not AWS_REGION
		// (botocore/configprovider.py, BOTOCORE_DEFAUT_SESSION_VARIABLES
		// 'region'), the other SDKs AWS_REGION. Outside the sandbox the
		// region is the user's own: credd's --region is where it calls
		// STS, not where their resources live, so it is left alone.
		v = append(v,
			[2]string{"AWS_ENDPOINT_URL_STS", t.STSURL},
			[2]string{"AWS_REGION", sts.DefaultRegion},
			[2]string{"AWS_DEFAULT_REGION", sts.DefaultRegion})
	}
	if t.MetadataV4 != "" {
		// What ECS sets in every container (task metadata v4 and v3), for
		// the readers of the mirrored task: OpenTelemetry's ECS detectors,
		// log routers, apps that log their task ARN.
		v = append(v,
			[2]string{"ECS_CONTAINER_METADATA_URI_V4", t.MetadataV4},
			[2]string{"ECS_CONTAINER_METADATA_URI", t.MetadataV3})
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
		return daemon.Credentials{}, fmt.Errorf("ask the endpoint: %w (is the daemon running? `%s status` tells)", err, selfCommand())
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
