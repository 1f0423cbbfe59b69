// Package ecsenv resolves an ECS task definition container's environment
// and secrets, as the ECS agent injects them, with the role's credentials.
package ecsenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/sync/errgroup"

	"github.com/credd-dev/credd/daemon/internal/awsapi"
	"github.com/credd-dev/credd/daemon/sts"
)

// Config says where and as whom to read secrets.
type Config struct {
	// Region is the task definition's region: where a parameter given by
	// name (not ARN) is looked up. ARNs carry their own region.
	Region string
	// SSMEndpoint is the base URL of SSM, such as http://127.0.0.1:4566;
	// "" means the SDK's endpoint for the region. The caller resolves
	// AWS_ENDPOINT_URL_SSM (this package reads no environment).
	SSMEndpoint string
	// SecretsManagerEndpoint is likewise (AWS_ENDPOINT_URL_SECRETS_MANAGER).
	SecretsManagerEndpoint string
	// Credentials are the role's credentials, the ones credd serves
	// (required). Never the SDK's default chain: inside the container it
	// points at credd itself.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; nil means a client with dial, TLS,
	// response-header and overall timeouts.
	HTTPClient *http.Client
}

// Var is one variable of the container.
type Var struct {
	Name string
	// Value may be a secret: never log it, never put it in an error.
	Value string
	// From is "" for the environment, the valueFrom for a secret.
	From   string
	Secret bool
}

// String shows a Var without a secret's value, so that a Var that ends up
// in a log line or an error by mistake does not leak it.
func (v Var) String() string {
	if v.Secret {
		return v.Name + "=[secret from " + v.From + "]"
	}
	return v.Name + "=" + v.Value
}

// GoString is String, for %#v.
func (v Var) GoString() string { return v.String() }

// appID is sent in the User-Agent (app/credd), as daemon/sts does.
const appID = "credd"

// maxCallsAtOnce bounds the calls in flight: enough to read a container's
// secrets quickly, few enough not to be throttled.
const maxCallsAtOnce = 4

// Resolve returns the container's environment, then its secrets, each in
// the definition's order. It resolves every secret it can: the error, a
// *Error, lists every variable that failed, with why and what to do, and
// the variables returned are the others. An invalid cfg gives a plain
// error before anything is read.
//
// Precedence: ECS refuses a task definition with a secret named like an
// environment variable (RegisterTaskDefinition: "The secret name must be
// unique and not shared with any new or existing environment variables
// set on the container", quoted in compose-x/ecs_composex#707), so Resolve
// reports such a secret as a failure, does not read it, and keeps the
// environment variable. (The agent itself would let the secret win: it
// merges secrets over the environment, amazon-ecs-agent
// agent/api/container/container.go, MergeEnvironmentVariables.)
func Resolve(ctx context.Context, cfg Config, c ecstypes.ContainerDefinition) ([]Var, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	var vars []Var
	var failures []Failure
	envNames := make(map[string]bool, len(c.Environment))
	for i, kv := range c.Environment {
		name := aws.ToString(kv.Name)
		if name == "" {
			failures = append(failures, Failure{Name: fmt.Sprintf("environment[%d]", i),
				Reason: "the environment entry has no name", Hint: "give it a name in the task definition"})
			continue
		}
		envNames[name] = true
		vars = append(vars, Var{Name: name, Value: aws.ToString(kv.Value)})
	}
	// ECS reads environmentFiles (.env objects in S3) before the container
	// starts, and their variables yield to the environment's (agent:
	// MergeEnvironmentVariablesFromEnvfiles). credd does not read S3 yet;
	// say so rather than leave the variables out silently.
	for i, f := range c.EnvironmentFiles {
		failures = append(failures, Failure{
			Name:      fmt.Sprintf("environmentFiles[%d]", i),
			ValueFrom: aws.ToString(f.Value),
			Reason:    fmt.Sprintf("environmentFiles are not supported yet: the variables of this %s file were not read", f.Type),
			Hint:      "copy them into the container's environment or secrets, or set them yourself",
		})
	}

	secrets := make([]pendingSecret, 0, len(c.Secrets))
	for i, s := range c.Secrets {
		p := pendingSecret{name: aws.ToString(s.Name), valueFrom: aws.ToString(s.ValueFrom)}
		switch {
		case p.name == "":
			p.name = fmt.Sprintf("secrets[%d]", i)
			p.fail = &problem{"the secret has no name", "give it the name of the variable to set"}
		case envNames[p.name]:
			p.fail = &problem{"a secret and an environment variable share this name, which ECS refuses (\"The secret name must be unique and not shared with any new or existing environment variables set on the container\"); the secret was not read",
				"rename one of them in the task definition"}
		default:
			p.ref, p.fail = parseValueFrom(p.valueFrom, cfg.Region)
		}
		secrets = append(secrets, p)
	}

	results := fetch(ctx, cfg, secrets)
	for _, p := range secrets {
		o := outcome{fail: p.fail}
		if o.fail == nil {
			o = results[p.ref.key()]
		}
		if o.fail != nil {
			failures = append(failures, Failure{Name: p.name, ValueFrom: p.valueFrom, Reason: o.fail.reason, Hint: o.fail.hint})
			continue
		}
		vars = append(vars, Var{Name: p.name, Value: o.value, From: p.valueFrom, Secret: true})
	}
	if len(failures) > 0 {
		return vars, &Error{Failures: failures}
	}
	return vars, nil
}

// pendingSecret is a secret of the definition on its way to a Var.
type pendingSecret struct {
	name, valueFrom string
	ref             reference
	fail            *problem // set when it will not be read
}

// key identifies what a reference reads, so that each is read once.
func (r reference) key() string {
	if r.store == storeSSM {
		return "ssm\x00" + r.region + "\x00" + r.parameter
	}
	return "secretsmanager\x00" + r.region + "\x00" + r.secretID + "\x00" + r.versionStage + "\x00" + r.versionID + "\x00" + r.jsonKey
}

// fetch reads every secret not already failed, each distinct reference
// once: SSM parameters in GetParameters calls of up to 10 per region,
// Secrets Manager secrets one GetSecretValue each, a few calls at a time.
// It returns an outcome per reference key.
func fetch(ctx context.Context, cfg Config, secrets []pendingSecret) map[string]outcome {
	// Clients made with New do not cache; one cache for all of them asks
	// for the credentials once.
	creds := aws.NewCredentialsCache(roleCredentials{cfg.Credentials})
	hc := cfg.HTTPClient
	if hc == nil {
		hc = awsapi.HTTPClient(maxCallsAtOnce, 30*time.Second)
		defer hc.CloseIdleConnections() // the next Resolve makes its own
	}

	seen := map[string]bool{}
	parameters := map[string][]reference{} // by region, in order
	var secretRefs []reference
	for _, p := range secrets {
		if p.fail != nil || seen[p.ref.key()] {
			continue
		}
		seen[p.ref.key()] = true
		if p.ref.store == storeSSM {
			parameters[p.ref.region] = append(parameters[p.ref.region], p.ref)
		} else {
			secretRefs = append(secretRefs, p.ref)
		}
	}

	var mu sync.Mutex
	results := make(map[string]outcome, len(seen))
	g := new(errgroup.Group)
	g.SetLimit(maxCallsAtOnce)
	for region, refs := range parameters {
		api := ssm.New(ssm.Options{Region: region, Credentials: creds, HTTPClient: hc,
			BaseEndpoint: endpoint(cfg.SSMEndpoint), AppID: appID})
		for batch := range chunks(refs, maxNamesPerCall) {
			g.Go(func() error {
				got := getParameters(ctx, api, batch)
				mu.Lock()
				defer mu.Unlock()
				for _, ref := range batch {
					results[ref.key()] = got[ref.parameter]
				}
				return nil
			})
		}
	}
	secretsAPI := map[string]*secretsmanager.Client{}
	for _, ref := range secretRefs {
		api := secretsAPI[ref.region]
		if api == nil {
			api = secretsmanager.New(secretsmanager.Options{Region: ref.region, Credentials: creds, HTTPClient: hc,
				BaseEndpoint: endpoint(cfg.SecretsManagerEndpoint), AppID: appID})
			secretsAPI[ref.region] = api
		}
		g.Go(func() error {
			got := getSecret(ctx, api, ref)
			mu.Lock()
			defer mu.Unlock()
			results[ref.key()] = got
			return nil
		})
	}
	_ = g.Wait() // the calls record failures; none returns an error
	return results
}

// roleCredentials tells a failure to get the role's credentials apart
// from a failing call: the SDK wraps it with %w on its way to the caller
// (aws/credential_cache.go, the client's getIdentityMiddleware).
type roleCredentials struct{ aws.CredentialsProvider }

func (r roleCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := r.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &credentialsError{err}
	}
	return c, nil
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// chunks yields refs in slices of at most n.
func chunks(refs []reference, n int) func(yield func([]reference) bool) {
	return func(yield func([]reference) bool) {
		for len(refs) > 0 {
			size := min(n, len(refs))
			if !yield(refs[:size:size]) {
				return
			}
			refs = refs[size:]
		}
	}
}

func endpoint(base string) *string {
	if base == "" {
		return nil
	}
	return aws.String(base)
}

// check refuses a Config that cannot work, saying what to fix.
func (cfg Config) check() error {
	if cfg.Credentials == nil {
		return errors.New("ecsenv: no credentials: the role's credentials are needed to read secrets (never the default chain, which points at credd itself)")
	}
	if cfg.Region != "" {
		if err := sts.CheckRegion(cfg.Region); err != nil {
			return fmt.Errorf("ecsenv: the task definition's %w", err)
		}
	}
	for _, e := range []struct{ url, env string }{
		{cfg.SSMEndpoint, "AWS_ENDPOINT_URL_SSM"},
		{cfg.SecretsManagerEndpoint, "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
	} {
		if e.url == "" {
			continue
		}
		u, err := url.Parse(e.url)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return fmt.Errorf("ecsenv: endpoint %q is not a base URL: set %s to a URL such as https://host or http://127.0.0.1:4566", e.url, e.env)
		}
	}
	return nil
}
