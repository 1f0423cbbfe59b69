package reliability

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/test/internal/harness"
)

// squatterScript listens on 127.0.0.1:<argv[1]>, prints each request's
// Authorization header and answers 500, as a process posing as credd
// would; it stops when its stdin closes.
const squatterScript = `
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
print("listening", flush=True)
def serve():
    while True:
        c, _ = s.accept()
        data = c.recv(65536).decode("latin-1")
        for line in data.split("\r\n"):
            if line.lower().startswith("authorization:"):
                print("auth " + line.split(":", 1)[1].strip(), flush=True)
        c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        c.close()
threading.Thread(target=serve, daemon=True).start()
sys.stdin.read()
`

// startSquatter runs squatterScript as u on port, another user's process
// posing as credd while the daemon is down, and returns once it listens:
// captured lists the Authorization headers sent to it, stop frees the port.
func startSquatter(t *testing.T, u harness.User, port string) (captured func() []string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// The system's Python: a pyenv one under /root is not the attacker's
	// to run.
	cmd := u.Command(ctx, "/usr/bin/python3", "-c", squatterScript, port)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the squatter: %v", err)
	}
	var mu sync.Mutex
	var got []string
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if line == "listening" {
				close(listening)
			}
			if v, ok := strings.CutPrefix(line, "auth "); ok {
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stdin.Close()
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				cancel()
				<-done
			}
			cancel()
		})
	}
	t.Cleanup(stop)
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		stop()
		t.Fatalf("the squatter did not listen on port %s", port)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}, stop
}

// retrieveWith asks url for credentials as aws-sdk-go-v2 does with a
// token read once from AWS_CONTAINER_AUTHORIZATION_TOKEN.
func retrieveWith(url, token string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := endpointcreds.New(url, func(o *endpointcreds.Options) { o.AuthorizationToken = token })
	_, err := p.Retrieve(ctx)
	return err
}

func TestAnotherUserSquattingThePortCannotReplayTheToken(t *testing.T) {
	squatRow := record(t, "Local trust", "25", "while the victim's daemon is down, another user (uid 64001) binds its port and collects the authorization token an SDK sends (aws-sdk-go-v2's endpointcreds); the supervisor restarts the daemon with --keep-token while the squatter still holds the port",
		"the restart fails with an error naming the squatter's uid and saying the token was replaced; the token file holds a new token")
	replayRow := record(t, "Local trust", "26", "the squatter lets go of the port, the supervisor restarts the daemon again (--keep-token), and the squatter replays the token it collected",
		"401 for the collected token; the victim's SDK reading the token file gets credentials")
	startRow := record(t, "Local trust", "27", "a plain start of the daemon (not a supervised restart), and a process that still sends the token of the previous start",
		"a new token at every start; the old one gets 401 saying to read the token again (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is re-read per request)")

	attacker := harness.NewUser(t, "attacker", 64001)
	victim := harness.NewUser(t, "victim", 64002)
	bin := binary(t)
	dir := filepath.Join(victim.Home, "state")
	env := victim.Env("CREDD_TOKEN_SOURCE=sandbox", "GORACE=atexit_sleep_ms=0")
	readToken := func() string {
		b, err := os.ReadFile(authtoken.Path(dir))
		if err != nil {
			t.Fatalf("read the victim's token file: %v", err)
		}
		return string(b)
	}

	d := bin.StartDaemonAs(t, victim, dir, env)
	url, _ := d.Endpoint(t)
	collected := readToken()
	waitFor(t, 20*time.Second, "the victim's daemon to serve", func() bool { return retrieveWith(url, collected) == nil })
	hostPort := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/v1/credentials")
	_, port, _ := net.SplitHostPort(hostPort)
	d.StopWith(t, syscall.SIGTERM)

	captured, stopSquatter := startSquatter(t, attacker, port)
	if err := retrieveWith(url, collected); err == nil {
		t.Fatal("the squatter handed out credentials")
	}
	waitFor(t, 5*time.Second, "the squatter to collect the token", func() bool {
		for _, c := range captured() {
			if c == collected {
				return true
			}
		}
		return false
	})

	_, stderr, code := bin.RunAs(t, victim, 60*time.Second, env, "daemon", "--state-dir", dir, "--listen", hostPort, "--keep-token", "true")
	if code == 0 {
		t.Fatalf("the daemon started on a port another user holds")
	}
	for _, want := range []string{"uid 64001", "not by you", "new token"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the refused start does not say %q: %s", want, stderr)
		}
	}
	replaced := readToken()
	if replaced == collected || !authtoken.Valid(replaced) {
		t.Errorf("token file after the refused start: valid %v, still the collected one %v", authtoken.Valid(replaced), replaced == collected)
	}
	squatRow.Observe("exit %d: %.300s; token replaced: %v", code, lineWith(stderr, "held by"), replaced != collected)

	stopSquatter()
	d = d.Restart(t)
	served := readToken()
	if served == collected {
		t.Errorf("the restarted daemon serves the token the squatter collected")
	}
	waitFor(t, 20*time.Second, "the restarted daemon to serve", func() bool { return retrieveWith(url, served) == nil })
	status, body := getBody(t, url, collected)
	if status != http.StatusUnauthorized {
		t.Errorf("the collected token got %d, want 401: %s", status, body)
	}
	fileReader := endpointcreds.New(url, func(o *endpointcreds.Options) {
		o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
			b, err := os.ReadFile(authtoken.Path(dir))
			return string(b), err
		})
	})
	if _, err := fileReader.Retrieve(context.Background()); err != nil {
		t.Errorf("an SDK reading the token file: %v", err)
	}
	replayRow.Observe("collected token: %d; the token file's reader: served", status)

	d.StopWith(t, syscall.SIGTERM)
	d2 := bin.StartDaemonAs(t, victim, dir, env)
	url2, _ := d2.Endpoint(t)
	fresh := readToken()
	if fresh == served {
		t.Errorf("a plain start kept the token")
	}
	waitFor(t, 20*time.Second, "the new daemon to serve", func() bool { return retrieveWith(url2, fresh) == nil })
	status, body = getBody(t, url2, served)
	if status != http.StatusUnauthorized || !strings.Contains(body, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") || !strings.Contains(body, "read it again") {
		t.Errorf("the previous start's token got %d %s, want 401 saying to read the token again", status, body)
	}
	startRow.Observe("new token: %v; previous token: %d %.160s", fresh != served, status, body)
}

// getBody sends one credentials request with token.
func getBody(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}

// lineWith returns the first line of s that holds substr, or s's first.
func lineWith(s, substr string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return lines[0]
}
