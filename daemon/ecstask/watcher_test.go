package ecstask

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/credd-dev/credd/daemon/clock"
)

func TestFirstFetchWaitsForCredentialsWithBackoff(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	creds := &credsSwitch{}
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, Credentials: creds})

	st := h.w.Status()
	if st.ErrorCode != CodeWaitingForCredentials || st.Failures != 0 || st.Mirrored != "" {
		t.Errorf("status without credentials = %+v, want WaitingForCredentials, no failure, nothing mirrored", st)
	}
	mustContain(t, "the error", st.Error, "waiting for the role's credentials", "no credentials yet")
	// 2s doubling, capped at 30s: no call leaves the machine meanwhile.
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		if got := h.nextDelay(); got != want {
			t.Fatalf("wait %d: next try in %v, want %v", i+1, got, want)
		}
		h.next()
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("ECS got %d requests without credentials, want none", n)
	}
	if len(h.seen.all()) != 0 {
		t.Fatal("OnChange was called without a fetch")
	}

	creds.set(true)
	h.next()
	st = h.w.Status()
	if st.Error != "" || st.ErrorCode != "" || st.Mirrored != "arn:aws:ecs:us-east-1:012345678910:task-definition/web:3" || st.Revision != 3 {
		t.Fatalf("status once credentials came = %+v", st)
	}
	seen := h.seen.all()
	if len(seen) != 1 || aws.ToString(seen[0].Definition.Family) != "web" || len(seen[0].Definition.ContainerDefinitions) != 2 {
		t.Fatalf("OnChange got %d snapshots, want the first fetch once: %+v", len(seen), seen)
	}
	if got := h.nextDelay(); got != DefaultPollInterval {
		t.Errorf("after the first fetch, the next one is in %v, want %v", got, DefaultPollInterval)
	}
}

func TestRevisionChangeCallsOnChangeAndIsReported(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})

	if d := h.next(); d != DefaultPollInterval {
		t.Errorf("polled after %v, want %v", d, DefaultPollInterval)
	}
	if n := len(h.seen.all()); n != 1 {
		t.Fatalf("OnChange called %d times for an unchanged revision, want once", n)
	}
	if st := h.w.Status(); st.LastChange != nil {
		t.Errorf("LastChange = %+v before any change", st.LastChange)
	}

	f.setAnswer(okAnswer("us-east-1", "web", 4))
	h.next()
	at := h.clk.Now()
	seen := h.seen.all()
	if len(seen) != 2 || seen[1].Definition.Revision != 4 {
		t.Fatalf("OnChange got %d snapshots, want revision 4 second", len(seen))
	}
	st := h.w.Status()
	if st.Revision != 4 || st.Mirrored != "arn:aws:ecs:us-east-1:012345678910:task-definition/web:4" {
		t.Errorf("status after the change = %+v", st)
	}
	if c := st.LastChange; c == nil || c.From != "web:3" || c.To != "web:4" || !c.At.Equal(at) {
		t.Errorf("LastChange = %+v, want web:3 -> web:4 at %v", c, at)
	}
	for _, r := range f.requests() {
		if r.TaskDefinition != "web" {
			t.Errorf("asked for %q, want the family alone (its latest ACTIVE revision)", r.TaskDefinition)
		}
	}
}

func TestErrorsBackOffCappedAndKeepTheLastGoodSnapshot(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, PollInterval: 5 * time.Minute, MaxBackoff: 30 * time.Minute})

	f.setAnswer(func(describeRequest) (int, string) {
		return http.StatusInternalServerError, errorBody("ServerException", "Service Unavailable. Please try again later.")
	})
	h.next()
	// With a snapshot mirrored, failures back off from the poll interval.
	for i, want := range []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute} {
		if got := h.nextDelay(); got != want {
			t.Fatalf("after failure %d the next fetch is in %v, want %v", i+1, got, want)
		}
		h.next()
	}
	st := h.w.Status()
	if st.Failures != 6 || st.ErrorCode != CodeServerException {
		t.Errorf("status = %+v, want 6 failures of ServerException", st)
	}
	mustContain(t, "the error", st.Error, "ServerException", "Service Unavailable", "keeps mirroring")
	if st.Mirrored != "arn:aws:ecs:us-east-1:012345678910:task-definition/web:3" || st.Revision != 3 {
		t.Errorf("status dropped the mirrored revision on errors: %+v", st)
	}
	if snap, ok := h.w.Current(); !ok || snap.Definition.Revision != 3 {
		t.Errorf("Current() = %+v, %t; want revision 3 kept", snap, ok)
	}
	if n := len(h.seen.all()); n != 1 {
		t.Errorf("OnChange called %d times, want once: errors change nothing", n)
	}

	f.setAnswer(okAnswer("us-east-1", "web", 3))
	h.next()
	if st := h.w.Status(); st.Failures != 0 || st.Error != "" || !st.LastSuccess.Equal(h.clk.Now()) {
		t.Errorf("status after recovery = %+v", st)
	}
	if got := h.nextDelay(); got != DefaultPollInterval {
		t.Errorf("after recovery the next fetch is in %v, want %v", got, DefaultPollInterval)
	}
}

func TestFirstFetchErrorsBackOffFromSecondsUpToTheCap(t *testing.T) {
	f := newFakeECS(t, "us-east-1", func(describeRequest) (int, string) {
		return http.StatusBadRequest, errorBody("ThrottlingException", "Rate exceeded")
	})
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, MaxBackoff: 10 * time.Second})
	for i, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		if got := h.nextDelay(); got != want {
			t.Fatalf("after failure %d the next fetch is in %v, want %v", i+1, got, want)
		}
		h.next()
	}
	st := h.w.Status()
	if st.ErrorCode != CodeThrottling || st.Failures != 6 {
		t.Errorf("status = %+v, want 6 ThrottlingException failures", st)
	}
	mustContain(t, "the error", st.Error, "Rate exceeded", "throttling", "shared")
}

func TestJitterStaysWithinTenPercentAndUnderTheCap(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	for _, tc := range []struct {
		u    float64
		want time.Duration
	}{{0, 4*time.Minute + 30*time.Second}, {0.9999999, 5*time.Minute + 30*time.Second}, {-1, 4*time.Minute + 30*time.Second}} {
		h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, Rand: func() float64 { return tc.u }})
		if got := h.nextDelay(); got < tc.want-time.Millisecond || got > tc.want+time.Millisecond {
			t.Errorf("with u=%v the next poll is in %v, want %v", tc.u, got, tc.want)
		}
		h.cancel()
	}
	// The cap holds with jitter: the cap·1.1 would pass it.
	f.setAnswer(func(describeRequest) (int, string) {
		return http.StatusInternalServerError, errorBody("ServerException", "")
	})
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, MaxBackoff: 30 * time.Second, Rand: func() float64 { return 0.9999999 }})
	for range 6 {
		h.next()
	}
	if got := h.nextDelay(); got != 30*time.Second {
		t.Errorf("capped backoff with the highest jitter = %v, want 30s", got)
	}
}

func TestTagsAccessDeniedServesTheDefinitionWithoutTags(t *testing.T) {
	f := newFakeECS(t, "us-east-1", func(r describeRequest) (int, string) {
		if r.withTags() {
			return http.StatusBadRequest, errorBody("AccessDeniedException", "User: arn:aws:sts::012345678910:assumed-role/dev/credd is not authorized to perform: ecs:ListTagsForResource on resource: arn:aws:ecs:us-east-1:012345678910:task-definition/web:3")
		}
		return http.StatusOK, definitionBody("us-east-1", "web", 3, "ACTIVE", nil)
	})
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})

	reqs := f.requests()
	if len(reqs) != 2 || !reqs[0].withTags() || reqs[1].withTags() {
		t.Fatalf("first fetch made requests %+v, want one with include=TAGS, then one without", reqs)
	}
	seen := h.seen.all()
	if len(seen) != 1 || seen[0].TagsAllowed || seen[0].Tags != nil || seen[0].Definition.Revision != 3 {
		t.Fatalf("OnChange got %+v, want the definition with TagsAllowed false", seen)
	}
	if st := h.w.Status(); !st.TagsDenied || st.Error != "" || st.Mirrored == "" {
		t.Errorf("status = %+v, want tags denied, no error, the definition mirrored", st)
	}

	// Within the hour the tags are not asked for again: one call a poll.
	h.next()
	if reqs := f.requests(); len(reqs) != 3 || reqs[2].withTags() {
		t.Fatalf("the next poll made requests %+v, want one without include=TAGS", reqs[2:])
	}
	// After an hour they are, in case the policy was fixed.
	for h.clk.Now().Before(t0.Add(tagsRetryAfter)) {
		h.next()
	}
	reqs = f.requests()
	if last := reqs[len(reqs)-2]; !last.withTags() {
		t.Errorf("an hour later the poll did not ask for tags again: %+v", reqs[len(reqs)-2:])
	}
	if n := len(h.seen.all()); n != 1 {
		t.Errorf("OnChange called %d times, want once: nothing changed", n)
	}

	// The policy is fixed: the tags come, and that is a change.
	f.setAnswer(okAnswer("us-east-1", "web", 3))
	for h.clk.Now().Before(t0.Add(2 * tagsRetryAfter)) {
		h.next()
	}
	seen = h.seen.all()
	last := seen[len(seen)-1]
	if !last.TagsAllowed || len(last.Tags) != 1 || aws.ToString(last.Tags[0].Key) != "team" || aws.ToString(last.Tags[0].Value) != "web" {
		t.Errorf("once tags are allowed OnChange got %+v, want the tag team=web", last)
	}
	if h.w.Status().TagsDenied {
		t.Error("status still says tags are denied")
	}
}

func TestTagsAreReadWhenAllowed(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
	reqs := f.requests()
	if len(reqs) != 1 || !reqs[0].withTags() {
		t.Fatalf("requests = %+v, want one with include=TAGS", reqs)
	}
	seen := h.seen.all()
	if len(seen) != 1 || !seen[0].TagsAllowed || len(seen[0].Tags) != 1 {
		t.Errorf("snapshot = %+v, want the tags", seen)
	}
}

func TestDescribeDeniedAltogetherIsAnError(t *testing.T) {
	f := newFakeECS(t, "us-east-1", func(describeRequest) (int, string) {
		return http.StatusBadRequest, errorBody("AccessDeniedException", "User: arn:aws:sts::012345678910:assumed-role/dev/credd is not authorized to perform: ecs:DescribeTaskDefinition on resource: * because no identity-based policy allows the ecs:DescribeTaskDefinition action")
	})
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
	st := h.w.Status()
	if st.ErrorCode != CodeAccessDenied || st.Failures != 1 || st.TagsDenied {
		t.Errorf("status = %+v, want one AccessDeniedException failure", st)
	}
	mustContain(t, "the error", st.Error, "not authorized to perform: ecs:DescribeTaskDefinition", "the role lacks ecs:DescribeTaskDefinition on web")
	if n := len(h.seen.all()); n != 0 {
		t.Errorf("OnChange called %d times on a failure", n)
	}
}

func TestPinnedRevisionIsRecheckedHourly(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web", Revision: 3}})
	if got := h.nextDelay(); got != pinnedRecheck*DefaultPollInterval {
		t.Errorf("a pinned revision is fetched again in %v, want %v", got, pinnedRecheck*DefaultPollInterval)
	}
	if r := f.requests(); len(r) != 1 || r[0].TaskDefinition != "web:3" {
		t.Fatalf("requests = %+v, want web:3", r)
	}

	// Deregistered since: still mirrored, and status says so.
	f.setAnswer(func(describeRequest) (int, string) {
		return http.StatusOK, definitionBody("us-east-1", "web", 3, "INACTIVE", map[string]string{"team": "web"})
	})
	h.next()
	st := h.w.Status()
	if st.DefinitionStatus != "INACTIVE" || st.Error != "" {
		t.Errorf("status = %+v, want INACTIVE and no error", st)
	}
	mustContain(t, "the note", st.Note, "web:3 is INACTIVE", "only while a task or service still uses it")
	if seen := h.seen.all(); len(seen) != 2 || seen[1].Definition.Status != "INACTIVE" {
		t.Errorf("OnChange got %d snapshots, want the status change too", len(seen))
	}
	if st.LastChange != nil {
		t.Errorf("LastChange = %+v: the revision did not change", st.LastChange)
	}

	// Once no task uses it, ECS cannot describe it.
	f.setAnswer(func(describeRequest) (int, string) {
		return http.StatusBadRequest, errorBody("ClientException", "Unable to describe task definition.")
	})
	h.next()
	st = h.w.Status()
	if st.ErrorCode != CodeClientException || st.Revision != 3 {
		t.Errorf("status = %+v, want ClientException with revision 3 kept", st)
	}
	mustContain(t, "the error", st.Error, "no task definition web:3 in us-east-1", "deregistered (INACTIVE)", `--ecs-task-definition "web"`)
}

func TestAnAnswerForAnotherDefinitionIsRefused(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "api", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web", Revision: 3}})
	st := h.w.Status()
	if st.ErrorCode != CodeMalformedResponse || st.Mirrored != "" {
		t.Errorf("status = %+v, want MalformedResponse and nothing mirrored", st)
	}
	mustContain(t, "the error", st.Error, `family "api"`)

	f.setAnswer(okAnswer("us-east-1", "web", 4))
	h.next()
	mustContain(t, "the error", h.w.Status().Error, "with revision 4")
	if n := len(h.seen.all()); n != 0 {
		t.Errorf("OnChange called %d times with the wrong definition", n)
	}
}

func TestRequestsAreSignedForTheARNsRegion(t *testing.T) {
	// The fake verifies the SigV4 signature with the test credentials'
	// secret and requires the scope's service to be ecs and its region
	// the ARN's, not Config.Region.
	f := newFakeECS(t, "eu-west-1", okAnswer("eu-west-1", "web", 7))
	ref, err := ParseRef("arn:aws:ecs:eu-west-1:012345678910:task-definition/web:7")
	if err != nil {
		t.Fatal(err)
	}
	h := startWatcher(t, f, Config{Ref: ref, Region: "us-east-1"})
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %+v", reqs)
	}
	r := reqs[0]
	if r.AccessKeyID != testCreds.AccessKeyID || r.Region != "eu-west-1" || r.TaskDefinition != ref.ARN {
		t.Errorf("request = %+v, want signed by %s for eu-west-1 and asking for the ARN", r, testCreds.AccessKeyID)
	}
	mustContain(t, "the User-Agent", r.UserAgent, "app/credd")
	if st := h.w.Status(); st.Error != "" || st.Revision != 7 {
		t.Errorf("status = %+v", st)
	}
}

func TestRunReturnsPromptlyWhenCtxEnds(t *testing.T) {
	t.Run("while it sleeps", func(t *testing.T) {
		f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
		h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
		h.cancel()
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("Run = %v, want nil on cancel", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		h.done <- nil // for the cleanup
	})
	t.Run("while ECS does not answer", func(t *testing.T) {
		release := make(chan struct{})
		arrived := make(chan struct{}, 1)
		f := newFakeECS(t, "us-east-1", func(describeRequest) (int, string) {
			arrived <- struct{}{}
			<-release
			return http.StatusInternalServerError, errorBody("ServerException", "")
		})
		defer close(release)
		w, err := NewWatcher(Config{Ref: Ref{Family: "web"}, Region: "us-east-1", Endpoint: f.URL(),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil }),
			Clock:       clock.NewFake(t0)})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		<-arrived
		start := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil on cancel", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Run took %v to return", d)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return while a call hung")
		}
	})
}

func TestRunRefusesASecondRun(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
	if err := h.w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("a second Run = %v, want an error", err)
	}
}

// TestErrorsAreClassified holds each failure of a first fetch to its code
// and to a hint that says what to do.
func TestErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ref    Ref
		status int
		body   string
		code   string
		wants  []string
	}{
		{"no such family", Ref{Family: "web"}, 400, errorBody("ClientException", "Unable to describe task definition."),
			"ClientException", []string{"Unable to describe task definition", `no task definition family "web" with an ACTIVE revision in us-east-1`}},
		{"another client error", Ref{Family: "web"}, 400, errorBody("ClientException", "Something else."),
			"ClientException", []string{"ECS refused to describe web"}},
		{"an invalid parameter", Ref{Family: "web"}, 400, errorBody("InvalidParameterException", "Invalid revision number. Number: 0"),
			"InvalidParameterException", []string{"Invalid revision number", `ECS rejected "web"`}},
		{"the error type in a namespaced form", Ref{Family: "web"}, 400, `{"__type":"com.amazonaws.ecs#ServerException","message":"boom"}`,
			"ServerException", []string{"boom", "credd retries"}},
		{"credentials ECS does not know", Ref{Family: "web"}, 400, errorBody("UnrecognizedClientException", "The security token included in the request is invalid."),
			"UnrecognizedClientException", []string{"did not accept the role's credentials"}},
		{"an HTTP error without a code", Ref{Family: "web"}, 503, "",
			"HTTP503", []string{"HTTP 503", "credd retries"}},
		{"a 200 that is not JSON", Ref{Family: "web"}, 200, "<html>proxy login</html>",
			"MalformedResponse", []string{"could not be parsed", "AWS_ENDPOINT_URL_ECS"}},
		{"a 200 without a definition", Ref{Family: "web"}, 200, "{}",
			"MalformedResponse", []string{"without a task definition ARN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeECS(t, "us-east-1", func(describeRequest) (int, string) { return tc.status, tc.body })
			h := startWatcher(t, f, Config{Ref: tc.ref})
			st := h.w.Status()
			if string(st.ErrorCode) != tc.code || st.Failures != 1 {
				t.Errorf("status = %+v, want one failure of %s", st, tc.code)
			}
			mustContain(t, "the error", st.Error, tc.wants...)
		})
	}

	t.Run("an unreachable endpoint is named", func(t *testing.T) {
		f := newFakeECS(t, "us-east-1", nil)
		url := f.URL()
		f.srv.Close()
		h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}, Endpoint: url})
		st := h.w.Status()
		if st.ErrorCode != CodeNetwork {
			t.Errorf("status = %+v, want NetworkError", st)
		}
		mustContain(t, "the error", st.Error, "cannot reach ECS", url, "AWS_ENDPOINT_URL_ECS")
	})
}

func TestNewWatcherRefusesBadSettings(t *testing.T) {
	creds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return testCreds, nil })
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no task definition", Config{Region: "us-east-1", Credentials: creds}, "--ecs-task-definition"},
		{"no credentials", Config{Ref: Ref{Family: "web"}, Region: "us-east-1"}, "credentials"},
		{"no region", Config{Ref: Ref{Family: "web"}, Credentials: creds}, "set --region"},
		{"a bad region", Config{Ref: Ref{Family: "web"}, Region: "Europe", Credentials: creds}, "not an AWS region"},
		{"an endpoint that is not a base URL", Config{Ref: Ref{Family: "web"}, Region: "us-east-1", Credentials: creds, Endpoint: "ecs.local:4566"}, "AWS_ENDPOINT_URL_ECS"},
		{"a tight poll", Config{Ref: Ref{Family: "web"}, Region: "us-east-1", Credentials: creds, PollInterval: time.Millisecond}, "shared by the whole account"},
		{"a negative backoff", Config{Ref: Ref{Family: "web"}, Region: "us-east-1", Credentials: creds, MaxBackoff: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWatcher(tc.cfg)
			if err == nil {
				t.Fatal("NewWatcher accepted it")
			}
			mustContain(t, "the error", err.Error(), tc.want)
		})
	}
}

func TestStatusJSON(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
	f.setAnswer(okAnswer("us-east-1", "web", 4))
	h.next()
	b, err := json.Marshal(h.w.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"taskDefinition", "mirrored", "revision", "definitionStatus", "lastFetch", "lastSuccess", "nextFetch", "lastChange"} {
		if _, ok := got[key]; !ok {
			t.Errorf("status JSON %s has no %q", b, key)
		}
	}
	for _, key := range []string{"error", "errorCode", "failures", "note", "tagsDenied"} {
		if _, ok := got[key]; ok {
			t.Errorf("status JSON %s has %q though it is empty", b, key)
		}
	}
	// The definition's environment (a secret here) never reaches status.
	if strings.Contains(string(b), "password") || strings.Contains(string(b), "MYSQL_ROOT_PASSWORD") {
		t.Errorf("status JSON %s holds the definition's environment", b)
	}
}

func TestStatusIsSafeFromOtherGoroutines(t *testing.T) {
	f := newFakeECS(t, "us-east-1", okAnswer("us-east-1", "web", 3))
	h := startWatcher(t, f, Config{Ref: Ref{Family: "web"}})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = h.w.Status()
					_, _ = h.w.Current()
				}
			}
		})
	}
	for rev := 4; rev < 8; rev++ {
		f.setAnswer(okAnswer("us-east-1", "web", rev))
		h.next()
	}
	close(stop)
	wg.Wait()
	if st := h.w.Status(); st.Revision != 7 || st.LastChange == nil || st.LastChange.To != "web:7" {
		t.Errorf("status = %+v", st)
	}
}
