// Package sts exchanges an identity token for AWS credentials with STS
// AssumeRoleWithWebIdentity and classifies its failures; it is the only
// package that knows the AWS SDK's STS types.
//
// It owns the rules of the STS API, which everyone else calls: a role ARN
// (ParseRoleARN), a session name (CheckSessionName, SessionNameFrom), a
// duration (CheckDuration), a region (CheckRegion, DefaultRegion) and the
// STS URL a region leads to (EndpointURL).
package sts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/awsapi"
)

// Defaults for the zero values of Config.
const (
	DefaultDuration       = time.Hour
	DefaultRegion         = "us-east-1"
	DefaultAttemptTimeout = 10 * time.Second

	// MinDuration and MaxDuration bound DurationSeconds as STS does; the
	// role's own maximum session duration (1h unless raised) may be lower.
	MinDuration = 15 * time.Minute
	MaxDuration = 12 * time.Hour
)

// appID is sent in the User-Agent (app/credd) so CloudTrail shows who called.
const appID = "credd"

// Config configures a Client. Zero values mean the documented defaults.
type Config struct {
	// RoleARN is the role to assume (required).
	RoleARN string
	// SessionName is RoleSessionName (required, 2-64 of [\w+=,.@-]); the
	// caller derives a default from the user's identity.
	SessionName string
	// Duration is DurationSeconds; 0 means 1h. STS accepts 15m to 12h.
	Duration time.Duration
	// Region selects the regional STS endpoint; "" means us-east-1.
	Region string
	// UseFIPS and UseDualStack select the region's FIPS or dual-stack STS
	// endpoint, as AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT do
	// for the SDKs (the caller reads them; this package reads no
	// environment).
	UseFIPS, UseDualStack bool
	// Endpoint, if set, is the base URL of STS, such as http://127.0.0.1:1234.
	// It is used as given: the caller resolves --sts-endpoint and
	// AWS_ENDPOINT_URL_STS (this package reads no environment).
	Endpoint string
	// HTTPClient sends the requests; nil means a client with dial, TLS and
	// response-header timeouts that honours HTTP(S)_PROXY/NO_PROXY, which
	// never proxy loopback.
	HTTPClient *http.Client
	// AttemptTimeout bounds each Exchange on top of its context; 0 means 10s.
	AttemptTimeout time.Duration
	// Policy is an optional inline session policy (JSON).
	Policy string
	// PolicyARNs are optional managed session policies.
	PolicyARNs []string
	// Now tells the time credentials were obtained; nil means time.Now.
	Now func() time.Time
}

// Client exchanges identity tokens for credentials. It is safe for
// concurrent use. It never resolves the default AWS credential chain: inside
// the container that chain would point at credd itself.
type Client struct {
	api            *awssts.Client
	roleARN        string
	roleAccount    string
	sessionName    string
	durationSec    int32
	policy         string
	policyARNs     []types.PolicyDescriptorType
	attemptTimeout time.Duration
	now            func() time.Time
}

// New validates cfg and returns a Client. Invalid settings give a
// *daemon.Error of KindPermanent, code "InvalidConfig", that says what to fix.
func New(cfg Config) (*Client, error) {
	account, _, err := ParseRoleARN(cfg.RoleARN)
	if err != nil {
		return nil, invalidConfig(err.Error(), "set --role-arn to the ARN of the IAM role to assume")
	}
	if err := CheckSessionName(cfg.SessionName); err != nil {
		return nil, invalidConfig(err.Error(), "set --session-name")
	}

	d := cfg.Duration
	if d == 0 {
		d = DefaultDuration
	}
	if err := CheckDuration(d); err != nil {
		return nil, invalidConfig(fmt.Sprintf("duration %s: %s", d, err), "set --duration")
	}

	region := RegionOrDefault(cfg.Region)
	if err := CheckRegion(region); err != nil {
		return nil, invalidConfig(err.Error(), "set --region")
	}

	var baseEndpoint *string
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, invalidConfig(fmt.Sprintf("STS endpoint %q is not a base URL", cfg.Endpoint),
				"set --sts-endpoint (or AWS_ENDPOINT_URL_STS) to a URL such as https://sts.eu-west-1.amazonaws.com or http://127.0.0.1:4566")
		}
		baseEndpoint = aws.String(cfg.Endpoint)
	}

	timeout := cfg.AttemptTimeout
	if timeout == 0 {
		timeout = DefaultAttemptTimeout
	}
	if timeout < 0 {
		return nil, invalidConfig(fmt.Sprintf("attempt timeout %s is negative", timeout),
			"use a positive timeout, or 0 for the default of 10s")
	}

	var arns []types.PolicyDescriptorType
	for _, a := range cfg.PolicyARNs {
		if !policyARNRE.MatchString(a) {
			return nil, invalidConfig(fmt.Sprintf("policy ARN %q is not an IAM policy ARN", a),
				"use arn:aws:iam::<account ID or aws>:policy/<name>")
		}
		arns = append(arns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}

	hc := cfg.HTTPClient
	if hc == nil {
		hc = awsapi.HTTPClient(4, 0)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}

	api := awssts.New(awssts.Options{
		Region:       region,
		BaseEndpoint: baseEndpoint,
		// AssumeRoleWithWebIdentity is unsigned; anonymous credentials make
		// sure nothing ever consults the default chain.
		Credentials: aws.AnonymousCredentials{},
		// The refresher owns retries and backoff: exactly one HTTP request
		// per Exchange.
		Retryer:    aws.NopRetryer{},
		HTTPClient: hc,
		AppID:      appID,
		EndpointOptions: awssts.EndpointResolverOptions{
			UseFIPSEndpoint:      fipsState(cfg.UseFIPS),
			UseDualStackEndpoint: dualStackState(cfg.UseDualStack),
		},
	})
	if baseEndpoint == nil {
		if EndpointURL(cfg) == "" {
			return nil, invalidConfig(fmt.Sprintf("region %s has no STS endpoint with these settings (FIPS %t, dual-stack %t)", region, cfg.UseFIPS, cfg.UseDualStack),
				"unset AWS_USE_FIPS_ENDPOINT or AWS_USE_DUALSTACK_ENDPOINT, or set --sts-endpoint")
		}
	}

	return &Client{
		api:            api,
		roleARN:        cfg.RoleARN,
		roleAccount:    account,
		sessionName:    cfg.SessionName,
		durationSec:    int32(d / time.Second),
		policy:         cfg.Policy,
		policyARNs:     arns,
		attemptTimeout: timeout,
		now:            now,
	}, nil
}

func invalidConfig(msg, hint string) *daemon.Error {
	return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeInvalidConfig, Message: msg, Hint: hint}
}

// errAttemptTimeout is the cause of the per-attempt deadline, so that it can
// be told apart from the caller's own deadline or cancellation.
var errAttemptTimeout = errors.New("sts attempt timed out")

// Exchange calls AssumeRoleWithWebIdentity once (never retrying) with token
// and returns the credentials. Every error is a *daemon.Error whose Kind says
// what the caller should do; its Message and Hint never contain the token.
// If ctx is canceled first the error has Code "Canceled"; if its deadline
// passes, Code "Timeout"; both wrap ctx's error.
func (c *Client) Exchange(ctx context.Context, token string) (daemon.Credentials, error) {
	if token == "" {
		return daemon.Credentials{}, &daemon.Error{Kind: daemon.KindNewToken, Code: CodeEmptyToken,
			Message: "the identity token is empty", Hint: "check the token source"}
	}

	actx, cancel := context.WithTimeoutCause(ctx, c.attemptTimeout, errAttemptTimeout)
	defer cancel()

	in := &awssts.AssumeRoleWithWebIdentityInput{
		RoleArn:          aws.String(c.roleARN),
		RoleSessionName:  aws.String(c.sessionName),
		WebIdentityToken: aws.String(token),
		DurationSeconds:  aws.Int32(c.durationSec),
		PolicyArns:       c.policyARNs,
	}
	if c.policy != "" {
		in.Policy = aws.String(c.policy)
	}
	out, err := c.api.AssumeRoleWithWebIdentity(actx, in)
	obtained := c.now()
	if err != nil {
		return daemon.Credentials{}, c.classify(ctx, actx, token, err)
	}
	return c.credentials(out, obtained)
}

func (c *Client) credentials(out *awssts.AssumeRoleWithWebIdentityOutput, obtained time.Time) (daemon.Credentials, error) {
	sc := out.Credentials
	if sc == nil || aws.ToString(sc.AccessKeyId) == "" || aws.ToString(sc.SecretAccessKey) == "" ||
		aws.ToString(sc.SessionToken) == "" || sc.Expiration == nil || sc.Expiration.IsZero() {
		return daemon.Credentials{}, &daemon.Error{
			Kind:    daemon.KindRetryable,
			Code:    CodeMalformedResponse,
			Message: "STS answered 200 without complete credentials (access key, secret, session token and expiration)",
			Hint:    hintMalformed,
		}
	}
	creds := daemon.Credentials{
		AccessKeyID:     *sc.AccessKeyId,
		SecretAccessKey: *sc.SecretAccessKey,
		SessionToken:    *sc.SessionToken,
		// Truncate, never round: the served expiry must not be later than STS's.
		Expiration: sc.Expiration.UTC().Truncate(time.Second),
		RoleARN:    c.roleARN,
		AccountID:  c.roleAccount,
		Obtained:   obtained,
	}
	if u := out.AssumedRoleUser; u != nil && u.Arn != nil {
		creds.AssumedRoleARN = *u.Arn
		if a := accountOfARN(*u.Arn); a != "" {
			creds.AccountID = a
		}
	}
	return creds, nil
}

func fipsState(on bool) aws.FIPSEndpointState {
	if on {
		return aws.FIPSEndpointStateEnabled
	}
	return aws.FIPSEndpointStateUnset
}

func dualStackState(on bool) aws.DualStackEndpointState {
	if on {
		return aws.DualStackEndpointStateEnabled
	}
	return aws.DualStackEndpointStateUnset
}
