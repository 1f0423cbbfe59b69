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
	// HandedOff names the variables the last `credd reload --from-env`
	// handed over (never their values).
	HandedOff []string `json:"handedOff,omitempty"`
	// LastReload is the last reload (credd reload or SIGHUP), if any.
	LastReload *ReloadStatus `json:"lastReload,omitempty"`
	// NoRole says why no role is served while none is configured: the
	// daemon started without one and waits for a reload to hand it over.
	NoRole string `json:"noRole,omitempty"`
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
