package compat

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/test/internal/harness"
)

// client is one AWS CLI or SDK the suite runs against credd.
type client struct {
	name      string // as the matrix shows it
	installed string // where it comes from
	// find returns the command that runs the client, or errMissing (wrapped)
	// when the client is not installed on this machine.
	find func() ([]string, error)
	// cli clients make one call per run (`aws sts get-caller-identity`);
	// the others are the suite's scripts speaking the driver protocol
	// (calls N, loop SECONDS; see goclient/driver).
	cli bool
	// explicitEndpoint: the client ignores AWS_ENDPOINT_URL_STS, so the
	// emulator's endpoint is passed on its command line or in its code.
	explicitEndpoint bool
	// readsTokenFile: the client reads AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
	readsTokenFile bool
	// showsMessage: the client's error carries credd's 401 message.
	showsMessage bool
	// longLived: the suite runs one process across a credential refresh
	// and a daemon restart.
	longLived bool
	// endpointHow says how the endpoint is passed when explicitEndpoint.
	endpointHow string
	notes       string
}

var errMissing = errors.New("not installed")

var clients = []client{
	{
		name: "AWS CLI v2", installed: "Debian `awscli` (apt), /usr/bin/aws",
		find: debianAWSCLI, cli: true,
		explicitEndpoint: true, endpointHow: "`--endpoint-url`",
		readsTokenFile: false, showsMessage: true,
		notes: "Reads only AWS_CONTAINER_AUTHORIZATION_TOKEN (file support came in 2.15.0); retries a 401 3 times.",
	},
	{
		name: "boto3 (Debian)", installed: "Debian `python3-boto3` (apt), /usr/bin/python3",
		find:             python("/usr/bin/python3"),
		explicitEndpoint: true, endpointHow: "`endpoint_url=`",
		readsTokenFile: false, showsMessage: true, longLived: true,
		notes: "Reads only AWS_CONTAINER_AUTHORIZATION_TOKEN (file support came in botocore 1.32.0).",
	},
	{
		name: rowAWSCLIv1, installed: "pip `awscli` (test/compat/python/requirements.txt)",
		find: pipAWSCLIv1, cli: true,
		readsTokenFile: true, showsMessage: true,
		notes: "The file wins when both are set.",
	},
	{
		name: rowBoto3, installed: "pip `boto3` (test/compat/python/requirements.txt)",
		find:           pipBoto3,
		readsTokenFile: true, showsMessage: true, longLived: true,
		notes: "The file wins when both are set.",
	},
	{
		name: "AWS SDK for JavaScript v3", installed: "npm `@aws-sdk/client-sts` (test/compat/node, package-lock.json)",
		find:           node("v3", "@aws-sdk/client-sts"),
		readsTokenFile: true, showsMessage: false, longLived: true,
		notes: "The file wins when both are set (with a warning on stderr). Below 5 minutes left it refetches on every call and signs with the previous fetch's credentials.",
	},
	{
		name: "AWS SDK for JavaScript v2", installed: "npm `aws-sdk` (test/compat/node, package-lock.json)",
		find:             node("v2", "aws-sdk"),
		explicitEndpoint: true, endpointHow: "`endpoint:`",
		readsTokenFile: true, showsMessage: false, longLived: true,
		notes: "The variable wins when both are set. Tries a 401 once.",
	},
	{
		name: "AWS SDK for Go v2", installed: "Go module `github.com/aws/aws-sdk-go-v2` (go.mod), test/compat/goclient/v2",
		find:           goClient("v2"),
		readsTokenFile: true, showsMessage: true, longLived: true,
		notes: "The file wins when both are set.",
	},
	{
		name: "AWS SDK for Go v1", installed: "Go module `github.com/aws/aws-sdk-go` (its own go.mod), test/compat/goclient/v1",
		find:             goClient("v1"),
		explicitEndpoint: true, endpointHow: "`aws.Config.Endpoint`",
		readsTokenFile: true, showsMessage: false, longLived: true,
		notes: "The file wins when both are set. credd's message shows only with `aws.Config.CredentialsChainVerboseErrors`.",
	},
}

// --- finding the clients

func debianAWSCLI() ([]string, error) {
	const aws = "/usr/bin/aws"
	if _, err := os.Stat(aws); err != nil {
		return nil, fmt.Errorf("%w: %s (apt-get install awscli)", errMissing, aws)
	}
	return []string{aws}, nil
}

// python runs python/client.py with the interpreter at path, if boto3 imports.
func python(path string) func() ([]string, error) {
	return func() ([]string, error) {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w: %s", errMissing, path)
		}
		if out, err := exec.Command(path, "-c", "import boto3").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%w: boto3 for %s (%s)", errMissing, path, firstLine(string(out)))
		}
		script, err := filepath.Abs("python/client.py")
		return []string{path, script}, err
	}
}

// The rows of the clients pip installs, whose "Installed from" cell also
// says where the suite found them.
const (
	rowAWSCLIv1 = "AWS CLI v1"
	rowBoto3    = "boto3"
)

// pipProgram is a program that test/setup.sh installs with pip, from the
// pins in test/compat/python/requirements.txt, when the machine lacks it.
type pipProgram struct {
	name string // the executable
	what string // what it is, for messages
	env  string // a variable that may give its path, which then must do
	// check refuses a program of that name that is not the one wanted
	// (nil: any will do).
	check func(path string) error
}

var (
	awsCLIv1   = pipProgram{name: "aws", what: "the AWS CLI v1 (pip awscli)", env: "CREDD_COMPAT_AWS_V1", check: isAWSCLIv1}
	pipPython  = pipProgram{name: "python3", what: "a python3 with pip's boto3", env: "CREDD_COMPAT_PYTHON", check: importsBoto3}
	motoServer = pipProgram{name: "moto_server", what: "moto_server (pip moto[server])", env: "CREDD_COMPAT_MOTO"}
)

// testVenv is the virtualenv test/setup.sh creates; the same rule as its
// ${CREDD_TEST_VENV:-$HOME/.cache/credd-test-venv}.
func testVenv() string {
	if v := os.Getenv("CREDD_TEST_VENV"); v != "" {
		return v
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "credd-test-venv")
}

// find returns the program's path and where it was found, trying in order
// the path in p.env, test/setup.sh's virtualenv, pyenv, then PATH. Debian's
// /usr/bin ones are never taken: they are rows of their own.
func (p pipProgram) find() (path, where string, err error) {
	if v := os.Getenv(p.env); v != "" {
		if err := p.usable(v); err != nil {
			return "", "", fmt.Errorf("%w: $%s=%s: %v (unset it, or point it at %s)", errMissing, p.env, v, err, p.what)
		}
		return v, "$" + p.env, nil
	}
	var tried []string
	candidates := []struct {
		where string
		path  func() (string, error)
	}{
		{"test/setup.sh's venv", func() (string, error) { return filepath.Join(testVenv(), "bin", p.name), nil }},
		{"pyenv", func() (string, error) { return pyenvWhich(p.name) }},
		{"PATH", func() (string, error) { return pathNotDebian(p.name) }},
	}
	for _, c := range candidates {
		path, err := c.path()
		if err == nil {
			err = p.usable(path)
		}
		if err == nil {
			if c.where == "pyenv" {
				// .../.pyenv/versions/3.11.7/bin/aws: say which Python.
				return path, "pyenv " + filepath.Base(filepath.Dir(filepath.Dir(path))), nil
			}
			if c.where == "PATH" {
				return path, "PATH, " + path, nil
			}
			return path, c.where, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", c.where, err))
	}
	return "", "", fmt.Errorf("%w: %s (%s). Install it with `bash test/setup.sh` (a venv at %s from test/compat/python/requirements.txt), or set %s to its path",
		errMissing, p.what, strings.Join(tried, "; "), testVenv(), p.env)
}

// usable says why the file at path is not the program wanted, or nil.
func (p pipProgram) usable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	if p.check != nil {
		return p.check(path)
	}
	return nil
}

// pyenvWhich resolves a pyenv shim to the real executable, which must be
// pyenv's own (not the system's it may fall back to).
func pyenvWhich(name string) (string, error) {
	pyenv, err := exec.LookPath("pyenv")
	if err != nil {
		// Not on PATH (sudo, a login shell's PATH): try its usual home.
		root := os.Getenv("PYENV_ROOT")
		if root == "" {
			home, _ := os.UserHomeDir()
			root = filepath.Join(home, ".pyenv")
		}
		pyenv = filepath.Join(root, "bin", "pyenv")
	}
	out, err := exec.Command(pyenv, "which", name).Output()
	path := strings.TrimSpace(string(out))
	if err != nil || !strings.Contains(path, "/.pyenv/versions/") {
		return "", fmt.Errorf("not pyenv's (`pyenv which %s`: %q %v)", name, path, err)
	}
	return path, nil
}

// pathNotDebian looks name up in PATH, skipping pyenv's shims (which may
// fall back to the system's) and Debian's /usr/bin and /bin.
func pathNotDebian(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if dir == "" || strings.Contains(dir, "/.pyenv/shims") {
			continue
		}
		if real, err := filepath.EvalSymlinks(dir); err == nil && (real == "/usr/bin" || real == "/bin") {
			continue
		}
		path := filepath.Join(dir, name)
		if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("not on PATH outside /usr/bin")
}

// isAWSCLIv1 refuses another AWS CLI (a runner's v2 in /usr/local/bin).
func isAWSCLIv1(path string) error {
	// Read stdout and stderr alike: where the version goes has varied.
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %v", path, err)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(out)), "aws-cli/1.") {
		return fmt.Errorf("%s is %s, not the AWS CLI v1", path, firstLine(string(out)))
	}
	return nil
}

// importsBoto3 refuses a Python without boto3.
func importsBoto3(path string) error {
	if out, err := exec.Command(path, "-c", "import boto3").CombinedOutput(); err != nil {
		return fmt.Errorf("no boto3 for %s (%s)", path, firstLine(string(out)))
	}
	return nil
}

// pipFound records where the pip rows' clients were found, by row name,
// for their "Installed from" cells.
var pipFound sync.Map

func pipAWSCLIv1() ([]string, error) {
	aws, where, err := awsCLIv1.find()
	if err != nil {
		return nil, err
	}
	pipFound.Store(rowAWSCLIv1, where)
	return []string{aws}, nil
}

func pipBoto3() ([]string, error) {
	py, where, err := pipPython.find()
	if err != nil {
		return nil, err
	}
	pipFound.Store(rowBoto3, where)
	return python(py)()
}

// installedFrom is c's "Installed from" cell: c.installed and, for a pip
// row, where this run found it.
func installedFrom(c client) string {
	if where, ok := pipFound.Load(c.name); ok {
		return fmt.Sprintf("%s, found in %s", c.installed, where)
	}
	return c.installed
}

// node runs node/client.js for sdk, once `npm ci` has installed pkg.
func node(sdk, pkg string) func() ([]string, error) {
	return func() ([]string, error) {
		bin, err := exec.LookPath("node")
		if err != nil {
			return nil, fmt.Errorf("%w: node", errMissing)
		}
		dir, err := filepath.Abs("node")
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err != nil {
			return nil, fmt.Errorf("%w: npm package %s (run `npm ci` in test/compat/node)", errMissing, pkg)
		}
		return []string{bin, filepath.Join(dir, "client.js"), sdk}, nil
	}
}

// goClient runs a client program built by TestMain.
func goClient(name string) func() ([]string, error) {
	return func() ([]string, error) { return []string{goClients[name]}, nil }
}

// --- running them

// line is what a client reports for one GetCallerIdentity call.
type line struct {
	N     int    `json:"n"`
	OK    bool   `json:"ok"`
	ARN   string `json:"arn"`
	AKID  string `json:"akid"`
	Error string `json:"error"`
}

// run is the outcome of one client process (or, for CLIs, of a series of
// runs): its calls, its whole output, and whether it exited 0.
type run struct {
	lines  []line
	output string
	ok     bool
}

// version asks the client for its version.
func (c client) version(argv []string) (string, error) {
	args := []string{"version"}
	if c.cli {
		args = []string{"--version"}
	}
	out, err := command(context.Background(), argv, args, os.Environ()).Output()
	if err != nil {
		return "", fmt.Errorf("%v version: %v", argv, err)
	}
	if c.cli {
		// aws-cli/2.9.19 Python/3.11.2 Linux/6.1 source/x86_64.debian.12 prompt/off
		// aws-cli/1.45.11 Python/3.11.7 Linux/6.1 botocore/1.43.11
		var keep []string
		for _, f := range strings.Fields(string(out)) {
			if strings.HasPrefix(f, "aws-cli/") || strings.HasPrefix(f, "Python/") || strings.HasPrefix(f, "botocore/") {
				keep = append(keep, f)
			}
		}
		return strings.Join(keep, " "), nil
	}
	var v struct{ Version string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%v version: %q", argv, out)
	}
	return v.Version, nil
}

// endpointArgs are the arguments that pass the STS endpoint explicitly, for
// clients that ignore AWS_ENDPOINT_URL_STS.
func (c client) endpointArgs(sts string) []string {
	switch {
	case !c.explicitEndpoint:
		return nil
	case c.cli:
		return []string{"--endpoint-url", sts}
	default:
		return []string{sts}
	}
}

// calls makes n GetCallerIdentity calls: in one process for an SDK, in n
// runs for a CLI.
func (c client) calls(t *testing.T, argv, env []string, sts string, n int) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if !c.cli {
		args := append([]string{"calls", strconv.Itoa(n)}, c.endpointArgs(sts)...)
		var stdout, stderr bytes.Buffer
		cmd := command(ctx, argv, args, env)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r := run{output: stdout.String() + stderr.String(), ok: err == nil}
		r.lines = parseLines(stdout.String())
		return r
	}
	var r run
	r.ok = true
	for i := 1; i <= n; i++ {
		args := append([]string{"sts", "get-caller-identity", "--output", "json"}, c.endpointArgs(sts)...)
		var stdout, stderr bytes.Buffer
		// A fresh HOME per run: the AWS CLI caches some credentials in
		// ~/.aws/cli/cache, and each run must get them from credd.
		cmd := command(ctx, argv, args, append(env[:len(env):len(env)], "HOME="+t.TempDir()))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		r.output += stdout.String() + stderr.String()
		l := line{N: i, OK: err == nil}
		if err == nil {
			var out struct{ Arn string }
			if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
				l.OK, l.Error = false, "output is not JSON: "+stdout.String()
			}
			l.ARN = out.Arn
		} else {
			l.Error = firstLine(stderr.String())
		}
		r.ok = r.ok && l.OK
		r.lines = append(r.lines, l)
	}
	return r
}

// loop starts the client's long-lived mode: one call every half second for
// at most seconds, each call's line sent on the returned channel. The
// process is killed when the test ends.
func (c client) loop(t *testing.T, argv, env []string, sts string, seconds int) (<-chan line, func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+30)*time.Second)
	args := append([]string{"loop", strconv.Itoa(seconds)}, c.endpointArgs(sts)...)
	cmd := command(ctx, argv, args, env)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr harness.LockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan line, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				stderr.Write([]byte("stdout: " + sc.Text() + "\n"))
				continue
			}
			lines <- l
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cmd.Wait()
	})
	return lines, stderr.String
}

// command builds a client command with exactly env.
func command(ctx context.Context, argv, args, env []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), args...)...)
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func parseLines(out string) []line {
	var lines []line
	for _, s := range strings.Split(out, "\n") {
		var l line
		if json.Unmarshal([]byte(s), &l) == nil && l.N > 0 {
			lines = append(lines, l)
		}
	}
	return lines
}

// firstLine is the first non-empty line of s.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
