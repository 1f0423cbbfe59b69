package daemon

import "time"

// StatusVersion is the version of the Status JSON document. Bump it when a
// field changes meaning or disappears; adding fields does not bump it.
const StatusVersion = 1

// Status is what the daemon reports over its control socket and what
// `credd status --json` prints. It never holds a secret.
type Status struct {
	SchemaVersion int       `json:"schemaVersion"`
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"startedAt"`
	Now           time.Time `json:"now"`
	// Endpoint is the advertised base URL, e.g. http://127.0.0.1:9911/v1/credentials.
	Endpoint string `json:"endpoint"`
	// StateDir holds the authorization-token file and the control socket.
	StateDir  string `json:"stateDir"`
	TokenFile string `json:"tokenFile"`
	// Sandbox is set when the daemon runs the embedded issuer and STS emulator.
	Sandbox  *SandboxStatus `json:"sandbox,omitempty"`
	Roles    []RoleStatus   `json:"roles"`
	Requests []RequestCount `json:"requests,omitempty"`
	// Clients counts credentials requests by client family (from the
	// User-Agent), with how many came in the last minute.
	Clients []ClientCount `json:"clients,omitempty"`
	// Refusals counts the endpoint's refused requests since the daemon
	// started, one entry per reason and client family (so a fixed, small
	// number of entries), with the first and the last time each was seen.
	Refusals []RefusalCount `json:"refusals,omitempty"`
	// HandedOff names the variables the last `credd reload --from-env`
	// handed over (never their values).
	HandedOff []string `json:"handedOff,omitempty"`
	// LastReload is the last reload (credd reload or SIGHUP), if any.
	LastReload *ReloadStatus `json:"lastReload,omitempty"`
	// NoRole says why no role is served while none is configured: the
	// daemon started without one and waits for a reload to hand it over.
	NoRole string `json:"noRole,omitempty"`
	// ECS is the mirrored ECS task (--ecs-task-definition), if any.
	ECS *ECSStatus `json:"ecs,omitempty"`
}

// ECSStatus describes the mirrored ECS task definition and the task
// metadata served from it. It never holds a secret: the definition's
// environment and secrets are not part of it.
type ECSStatus struct {
	// TaskDefinition is what --ecs-task-definition asked for, such as
	// "web" (its latest revision, followed) or "web:3".
	TaskDefinition string `json:"taskDefinition"`
	// Mirrored is the task definition ARN now mirrored, "" until fetched.
	Mirrored  string `json:"mirrored,omitempty"`
	Revision  int    `json:"revision,omitempty"`
	Cluster   string `json:"cluster"`
	Container string `json:"container,omitempty"`
	// TaskARN is the development task's ARN, as the metadata serves it.
	TaskARN string `json:"taskArn,omitempty"`
	Region  string `json:"region"`
	// MetadataURIV4 and MetadataURI are what ECS_CONTAINER_METADATA_URI_V4
	// and ECS_CONTAINER_METADATA_URI are set to.
	MetadataURIV4 string    `json:"metadataUriV4"`
	MetadataURI   string    `json:"metadataUri"`
	LastFetch     time.Time `json:"lastFetch,omitzero"`
	NextFetch     time.Time `json:"nextFetch,omitzero"`
	// LastChange is the last time the followed revision changed.
	LastChange *ECSChange `json:"lastChange,omitempty"`
	// Note says what matters about a revision fetched fine: that it was
	// deregistered, say. TagsDenied: the role may not read its tags, so
	// /taskWithTags has none.
	Note       string `json:"note,omitempty"`
	TagsDenied bool   `json:"tagsDenied,omitempty"`
	// Error is why the last fetch failed, or why the fetched definition
	// cannot be mirrored, with what to do; Failures counts fetches failed
	// in a row.
	Error    string `json:"error,omitempty"`
	Failures int    `json:"failures,omitempty"`
}

// ECSChange is one change of the mirrored revision.
type ECSChange struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	To   string    `json:"to"`
}

// Setting is one resolved setting of a role and the layer it came from,
// such as "flag --role-arn" or "session CREDD_ROLE_ARN". Secrets have the
// value "(set)".
type Setting struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Origin string `json:"origin"`
}

// What a reload did to a role.
const (
	ChangeUnchanged = "unchanged"
	ChangeAdded     = "added"
	ChangeRemoved   = "removed"
	// ChangeRoleARN: the role ARN changed; the old role's credentials are
	// no longer served, the new role's are served once obtained.
	ChangeRoleARN = "role changed"
	// ChangeUpdated: other settings changed; the current credentials are
	// served until the rebuilt role has its first ones.
	ChangeUpdated = "updated"
)

// RoleChange is what a reload did to one role.
type RoleChange struct {
	Role   string `json:"role"`
	Change string `json:"change"`
	// Settings names the settings whose value changed.
	Settings []string `json:"settings,omitempty"`
}

// ReloadStatus describes one reload.
type ReloadStatus struct {
	At time.Time `json:"at"`
	// Trigger is "credd reload", "credd reload --from-env" or "SIGHUP".
	Trigger string `json:"trigger"`
	// Error says why the reload was refused; nothing was applied then.
	Error   string       `json:"error,omitempty"`
	Changes []RoleChange `json:"changes,omitempty"`
	// RestartNeeded names settings that changed but take effect only when
	// the daemon restarts (listen, state-dir, ...).
	RestartNeeded []string `json:"restartNeeded,omitempty"`
}

// RoleStatus describes one served role.
type RoleStatus struct {
	// Name is "default" for the default role, or the configured name.
	Name        string   `json:"name"`
	Path        string   `json:"path"`
	RoleARN     string   `json:"roleArn"`
	SessionName string   `json:"sessionName"`
	TokenSource string   `json:"tokenSource"`
	Duration    Duration `json:"duration"`
	// STSEndpoint is the URL AssumeRoleWithWebIdentity is sent to: the
	// configured endpoint, or the region's.
	STSEndpoint string `json:"stsEndpoint,omitempty"`
	// Audience is the aud requested from the token source and checked locally.
	Audience string `json:"audience,omitempty"`
	// Settings are the role's resolved settings with their origins.
	Settings []Setting `json:"settings,omitempty"`
	// Next is the role rebuilt by a reload with new settings: it takes over
	// once it has credentials, and until then this role keeps serving.
	Next *RoleStatus `json:"next,omitempty"`

	// Serving is true while valid credentials are held.
	Serving        bool      `json:"serving"`
	AssumedRoleARN string    `json:"assumedRoleArn,omitempty"`
	AccountID      string    `json:"accountId,omitempty"`
	Expiration     time.Time `json:"expiration,omitzero"`
	Obtained       time.Time `json:"obtained,omitzero"`
	NextRefresh    time.Time `json:"nextRefresh,omitzero"`

	// Claims of the last identity token used (never the token itself).
	Claims *Claims `json:"claims,omitempty"`

	LastAttempt time.Time    `json:"lastAttempt,omitzero"`
	LastSuccess time.Time    `json:"lastSuccess,omitzero"`
	LastError   *ErrorStatus `json:"lastError,omitempty"`
	// STSCalls counts AssumeRoleWithWebIdentity attempts.
	STSCalls int64 `json:"stsCalls"`
}

// ErrorStatus is the JSON form of an *Error (see Error.Status).
type ErrorStatus struct {
	Kind Kind `json:"kind"`
	Code Code `json:"code"`
	// Stage is the step that failed, absent when none is known (from a
	// daemon older than the field, say).
	Stage   Stage     `json:"stage,omitempty"`
	Message string    `json:"message"`
	Hint    string    `json:"hint,omitempty"`
	At      time.Time `json:"at"`
}

// RequestCount counts endpoint requests by path and status code.
type RequestCount struct {
	Path   string `json:"path"`
	Status int    `json:"status"`
	Count  int64  `json:"count"`
}

// ClientCount counts credentials requests from one client family.
type ClientCount struct {
	// Client is a family such as "aws-cli/botocore", "aws-sdk-go-v2" or
	// "none" (no User-Agent: the JS SDK v3 sends none).
	Client string `json:"client"`
	Count  int64  `json:"count"`
	// LastMinute counts requests in the minute before Status.Now, up to
	// the number of timestamps kept per client (see server.RecentWindow).
	LastMinute int       `json:"lastMinute"`
	LastSeen   time.Time `json:"lastSeen,omitzero"`
}

// Refusal is why the endpoint refused a request.
type Refusal string

// The reasons the endpoint refuses a request. A 503 (no credentials yet,
// or no role configured) is not a refusal: the client did nothing wrong.
const (
	RefusedNoToken     Refusal = "no-token"     // 401: no Authorization header
	RefusedWrongToken  Refusal = "wrong-token"  // 401: not the daemon's current token
	RefusedTokenScheme Refusal = "token-scheme" // 401: the token behind a scheme such as "Bearer "
	RefusedHost        Refusal = "bad-host"     // 403: a Host other than a loopback address or localhost
	RefusedBrowser     Refusal = "browser"      // 403: an Origin or Sec-Fetch-* header
	RefusedProxy       Refusal = "proxy"        // 403: X-Forwarded-For, Forwarded or X-Real-IP
	RefusedMethod      Refusal = "method"       // 405: not GET
	RefusedUnknownRole Refusal = "unknown-role" // 404: a role name that is not configured
	RefusedUnknownPath Refusal = "unknown-path" // 404: a path credd does not serve
)

// refusalWords say what the client did and what the user can do about it.
// The endpoint's log and `credd status` share them, so both say the same.
var refusalWords = map[Refusal]struct{ did, fix string }{
	RefusedNoToken: {"sent no token",
		"that process's environment lacks AWS_CONTAINER_AUTHORIZATION_TOKEN and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: run it under `credd exec -- CMD`, or start it from a new shell or one where eval \"$(credd env)\" has run"},
	RefusedWrongToken: {"sent a token that is not the daemon's",
		"credd writes a new token at each start, so a process or shell started before the restart holds the old one: re-read it with eval \"$(credd env)\" and restart the process (SDKs that read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE pick the new token up by themselves, except JS v2 and Java, which prefer a stale AWS_CONTAINER_AUTHORIZATION_TOKEN)"},
	RefusedTokenScheme: {"sent the token behind a scheme such as Bearer",
		"the Authorization header must be the raw token; AWS SDKs send it so, so the client is a hand-written one: drop the \"Bearer \" prefix"},
	RefusedHost: {"reached credd through a name other than 127.0.0.1 or localhost",
		"point AWS_CONTAINER_CREDENTIALS_FULL_URI at 127.0.0.1 as `credd env` prints it, not at a host name or a forwarded port; credd refuses other names so that a web page cannot reach it through DNS rebinding"},
	RefusedBrowser: {"came from a web browser (Origin or Sec-Fetch header)",
		"a web page tried to read credentials and was refused, as it should be; nothing to fix unless you expected it"},
	RefusedProxy: {"came through a proxy (X-Forwarded-For, Forwarded or X-Real-IP header)",
		"call credd directly on 127.0.0.1: add 127.0.0.1 and localhost to NO_PROXY (and no_proxy), or stop the relay"},
	RefusedMethod: {"used a method other than GET",
		"the container-credentials endpoint answers GET only"},
	RefusedUnknownRole: {"asked for a role credd does not serve",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI names a role that is not configured: use one of the role paths `credd status` lists (`credd env --profile NAME` prints its URL)"},
	RefusedUnknownPath: {"asked for a path credd does not serve",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI must end in /v1/credentials or /v1/credentials/<role>: use the URL `credd env` prints"},
}

// Did says what the refused requests did, in words that fit one request or
// many: "3 requests sent no token".
func (r Refusal) Did() string {
	if w, ok := refusalWords[r]; ok {
		return w.did
	}
	return "were refused (" + string(r) + ")" // from a newer daemon
}

// Fix says what to do about it.
func (r Refusal) Fix() string {
	if w, ok := refusalWords[r]; ok {
		return w.fix
	}
	return "run `credd doctor`"
}

// RefusalCount counts the refused requests of one reason from one client
// family.
type RefusalCount struct {
	Reason Refusal `json:"reason"`
	// Client is the family, as in ClientCount.Client.
	Client string `json:"client"`
	// Status is the HTTP status the requests were answered with.
	Status    int       `json:"status"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Duration marshals as a Go duration string ("1h0m0s").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// SandboxStatus tells clients where the embedded sandbox listens.
type SandboxStatus struct {
	IssuerURL string `json:"issuerUrl"`
	STSURL    string `json:"stsUrl"`
}
