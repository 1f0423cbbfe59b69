// Package loaddoc defines the JSON documents the load tool (bench/storm)
// prints for `storm storm` and `storm flood`: the contract between the tool
// and its readers (bench/report, test/reliability), written once so that a
// renamed field cannot read as zero in one of them.
package loaddoc

// Failures counts the requests that got no HTTP response, sorted by why:
// the server dropping a connection it had accepted is a different bug from a
// slow answer, and from a client that could not even connect.
type Failures struct {
	Errors      int    `json:"errors"`       // all of them: the sum of the three below
	Unanswered  int    `json:"unanswered"`   // closed or reset before any response
	Timeouts    int    `json:"timeouts"`     // the client gave up waiting
	OtherErrors int    `json:"other_errors"` // anything else (refused, no descriptors…)
	FirstError  string `json:"first_error,omitempty"`
}

// ---- storm ----

// Wave is one wave of `storm storm`: requests released at once, each on its
// own new connection.
type Wave struct {
	Requests int            `json:"requests"`
	OK       int            `json:"ok"`
	Statuses map[string]int `json:"statuses"`
	Failures
	// Requests written before the first 200 came back.
	SentBeforeReady int              `json:"sent_before_first_credentials"`
	P50Ms           float64          `json:"p50_ms"`
	P99Ms           float64          `json:"p99_ms"`
	MaxMs           float64          `json:"max_ms"`
	WallMs          float64          `json:"wall_ms"`
	STSCalls        map[string]int64 `json:"sts_calls,omitempty"`
}

// StormRun is one start of CMD: the cold wave, then the warm one.
type StormRun struct {
	Cold           Wave    `json:"cold"`
	Warm           Wave    `json:"warm"`
	StartToReadyMs float64 `json:"start_to_first_credentials_ms"`
	ServerHWMKiB   int64   `json:"server_hwm_kib"` // VmHWM of CMD after both waves
}

// Storm is the document `storm storm` prints.
type Storm struct {
	// The worst run, at the top level as when there was only ever one run,
	// so readers of that format judge by the worst.
	StormRun
	Runs     []StormRun `json:"runs"`
	WorstRun int        `json:"worst_run"` // index into Runs
}

// ---- flood ----

// FloodCounts is what became of the flood's connections.
type FloodCounts struct {
	Attempted      int    `json:"attempted"`
	Opened         int    `json:"opened"`
	DialErrors     int    `json:"dial_errors"`
	FirstDialError string `json:"first_dial_error,omitempty"`
	// Dials neither done nor failed when the flood ended: the server's
	// accept queue was full and the kernel was retrying the SYN.
	DialsPending   int `json:"dials_pending_at_end"`
	ClosedByServer int `json:"closed_by_server"`
	OpenAtEnd      int `json:"open_at_end"`
	// The answers to the unauthorized requests (unauth, churn), by status.
	Responses map[string]int `json:"responses,omitempty"`
}

// Probe is what a legitimate client saw during the flood.
type Probe struct {
	Requests int            `json:"requests"`
	OK       int            `json:"ok"`
	Statuses map[string]int `json:"statuses"`
	Failures
	// Latencies of the requests that got a response.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Responses slower than the JS, Java and C++ SDKs' 1 s timeout
	// (SDK-COMPAT.md): those clients would have failed.
	Over1s int `json:"over_1s"`
}

// Flood is the document `storm flood` prints.
type Flood struct {
	Kind            string      `json:"kind"`
	Rate            int         `json:"rate"`
	DurationMs      float64     `json:"duration_ms"`
	ProbeIntervalMs float64     `json:"probe_interval_ms"`
	ProbeTimeoutMs  float64     `json:"probe_timeout_ms"`
	Flood           FloodCounts `json:"flood"`
	Probes          struct {
		KeepAlive Probe `json:"keepalive"` // on a connection opened before the flood
		NewConn   Probe `json:"newconn"`   // a new connection per request
	} `json:"probes"`
	// Maxima over the flood of the server's samples (-pid), every 100 ms.
	ServerFDsMax      int    `json:"server_fds_max,omitempty"`
	ServerRSSMaxKiB   int64  `json:"server_rss_max_kib,omitempty"`
	ServerThreadsMax  int    `json:"server_threads_max,omitempty"`
	ServerSampleError string `json:"server_sample_error,omitempty"`
}
