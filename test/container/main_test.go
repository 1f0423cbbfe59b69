// Package container tests the devcontainer Feature in real containers: a
// Docker engine (Debian's docker.io, started here with its own socket, data
// root and pid file, and stopped by its pid at the end), driven by the
// pinned @devcontainers/cli (devcontainer-feature/package.json), offline.
// The base image is the Debian root the chroot test caches (debootstrap
// bookworm + awscli, curl), imported with `docker import` plus a user vscode
// (UID 1000), tagged and cached by a hash of what goes in.
//
// Needs root, /usr/bin/docker and dockerd (apt-get install docker.io), node
// and `npm ci --prefix devcontainer-feature`; test/setup.sh installs them.
// Without them it skips, except under CI=true, where it fails. Servers bind
// loopback only; a container that must reach one runs with --network host.
package container

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const dockerBin = "/usr/bin/docker" // Debian's; /usr/local/bin/docker may be another CLI

var (
	repoRoot   string // the module's root
	cliJS      string // the pinned devcontainers CLI
	nodeBin    string
	credd      string // a static credd for localBinary
	dockerHost string // unix:// socket of the engine started here
	dockerSock string
	baseImage  string // credd-ci/bookworm:<hash>

	resultsMu sync.Mutex
	results   []result
)

type result struct {
	name    string
	outcome string // ok, FAIL, skip
	took    time.Duration
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// dockerd gets SIGTERM when this thread ends (Pdeathsig), so it dies
	// with the test process even when a timeout kills it.
	runtime.LockOSThread()
	t0 := time.Now()
	wd, _ := os.Getwd()
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	cliJS = filepath.Join(repoRoot, "devcontainer-feature", "node_modules", "@devcontainers", "cli", "devcontainer.js")

	if reason := missing(); reason != "" {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "container suite: cannot run: %s (test/setup.sh installs what it needs)\n", reason)
			return 1
		}
		fmt.Printf("container suite: SKIP: %s\n", reason)
		return 0
	}
	if testing.Short() {
		fmt.Println("container suite: SKIP: -short")
		return 0
	}

	setup := func() (func(), error) {
		tmp, err := os.MkdirTemp("", "credd-container-")
		if err != nil {
			return nil, err
		}
		cleanups := []func(){func() { os.RemoveAll(tmp) }}
		undo := func() {
			for i := len(cleanups) - 1; i >= 0; i-- {
				cleanups[i]()
			}
		}
		credd = filepath.Join(tmp, "credd")
		build := exec.Command("go", "build", "-trimpath", "-ldflags", "-X github.com/credd-dev/credd/daemon/cli.Version=v0.0.0-container", "-o", credd, "./cmd/credd")
		build.Dir = repoRoot
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			undo()
			return nil, fmt.Errorf("build a static credd: %v\n%s", err, out)
		}
		stop, err := startDockerd()
		if err != nil {
			undo()
			return nil, err
		}
		cleanups = append(cleanups, stop)
		if baseImage, err = ensureBaseImage(); err != nil {
			undo()
			return nil, err
		}
		return undo, nil
	}
	undo, err := setup()
	if err != nil {
		fmt.Fprintf(os.Stderr, "container suite: setup failed: %v\n", err)
		fmt.Println("container suite: 0 passed, 1 failed (setup)")
		return 1
	}
	setupTook := time.Since(t0)
	fmt.Printf("container suite: engine and base image %s ready in %s\n", baseImage, setupTook.Round(time.Second))

	code := m.Run()
	for _, f := range sharedCleanups {
		f()
	}
	undo()

	passed, failed, skipped := 0, 0, 0
	resultsMu.Lock()
	fmt.Println("container suite timings:")
	for _, r := range results {
		fmt.Printf("  %-4s  %6.1fs  %s\n", r.outcome, r.took.Seconds(), r.name)
		switch r.outcome {
		case "ok":
			passed++
		case "FAIL":
			failed++
		default:
			skipped++
		}
	}
	resultsMu.Unlock()
	extra := ""
	if skipped > 0 {
		extra = fmt.Sprintf(", %d skipped", skipped)
	}
	fmt.Printf("container suite: %d passed, %d failed%s (setup %s, total %s)\n", passed, failed, extra, setupTook.Round(time.Second), time.Since(t0).Round(time.Second))
	if code == 0 && failed > 0 {
		code = 1
	}
	return code
}

// record adds the test to the summary with its time and outcome.
func record(t *testing.T) {
	start := time.Now()
	t.Cleanup(func() {
		outcome := "ok"
		if t.Failed() {
			outcome = "FAIL"
		} else if t.Skipped() {
			outcome = "skip"
		}
		resultsMu.Lock()
		results = append(results, result{t.Name(), outcome, time.Since(start)})
		resultsMu.Unlock()
	})
}

func missing() string {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	if _, err := os.Stat(dockerBin); err != nil {
		miss = append(miss, dockerBin+" (apt-get install docker.io)")
	}
	if _, err := exec.LookPath("dockerd"); err != nil {
		miss = append(miss, "dockerd")
	}
	var err error
	if nodeBin, err = exec.LookPath("node"); err != nil {
		miss = append(miss, "node")
	}
	if _, err := os.Stat(cliJS); err != nil {
		miss = append(miss, "the devcontainers CLI (npm ci --prefix devcontainer-feature)")
	}
	for _, c := range []string{"debootstrap", "unshare", "jq", "go"} {
		if _, err := exec.LookPath(c); err != nil {
			miss = append(miss, c)
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return "needs " + strings.Join(miss, ", ")
}

func cacheDir() string {
	if d := os.Getenv("CREDD_CI_CACHE"); d != "" {
		return d
	}
	return "/var/cache/credd-ci"
}

// startDockerd starts the engine with its own socket, exec root and pid
// file, and a data root under the CI cache so images survive between runs
// (one suite at a time holds it, under a lock). The returned stop removes
// every container and stops the engine by its pid.
func startDockerd() (stop func(), err error) {
	cache := cacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	lock, err := os.OpenFile(filepath.Join(cache, "docker.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(15 * time.Minute); ; time.Sleep(time.Second) {
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			break
		}
		if time.Now().After(deadline) {
			lock.Close()
			return nil, errors.New("another container suite holds " + lock.Name() + " for 15 min")
		}
	}
	removeStaleEngineDirs()
	dir, err := os.MkdirTemp("/tmp", "credd-dx-") // short: socket paths
	if err != nil {
		lock.Close()
		return nil, err
	}
	os.Chmod(dir, 0o711) // the UID 1500 case reaches the socket in here
	dockerSock = filepath.Join(dir, "docker.sock")
	dockerHost = "unix://" + dockerSock
	pidFile := filepath.Join(dir, "docker.pid")
	logFile, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	cmd := exec.Command("dockerd",
		"--iptables=false", "--ip-forward=false", "--ip-masq=false", "--bridge=none",
		// Its own containerd namespaces: a system engine (a GitHub runner's)
		// may share the system containerd.
		"--containerd-namespace", "credd-ci", "--containerd-plugins-namespace", "credd-ci-plugins",
		"-H", dockerHost, "--data-root", filepath.Join(cache, "docker"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", pidFile, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop = func() {
		if ids, _, err := docker(context.Background(), "ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
			docker(context.Background(), append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		// Images the CLI built for the cases: the base image stays cached.
		if out, _, err := docker(context.Background(), "images", "--format", "{{.Repository}}:{{.Tag}}"); err == nil {
			var built []string
			for _, img := range strings.Fields(out) {
				if strings.HasPrefix(img, "vsc-") {
					built = append(built, img)
				}
			}
			if len(built) > 0 {
				docker(context.Background(), append([]string{"rmi", "-f"}, built...)...)
			}
			docker(context.Background(), "image", "prune", "-f")
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "container suite: dockerd still running 30 s after SIGTERM: killing it")
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		logFile.Close()
		unmountUnder(dir)
		os.RemoveAll(dir)
		lock.Close()
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, _, err := docker(context.Background(), "version"); err == nil {
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return nil, fmt.Errorf("dockerd exited at start:\n%s", tail(string(log), 30))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			stop()
			return nil, fmt.Errorf("dockerd did not answer in 60 s:\n%s", tail(string(log), 30))
		}
	}
	// Leftovers of a run that was killed: the data root is ours alone.
	if ids, _, err := docker(context.Background(), "ps", "-aq"); err == nil && strings.TrimSpace(ids) != "" {
		docker(context.Background(), append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	return stop, nil
}

// removeStaleEngineDirs removes the socket and exec-root directories of
// runs that were killed (their engine died with them).
func removeStaleEngineDirs() {
	dirs, _ := filepath.Glob("/tmp/credd-dx-*")
	for _, d := range dirs {
		if pid, err := os.ReadFile(filepath.Join(d, "docker.pid")); err == nil {
			if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err == nil {
				continue
			}
		}
		unmountUnder(d)
		os.RemoveAll(d)
	}
}

// unmountUnder detaches what dockerd left mounted under dir (its exec root
// keeps a bind mount of the host's network namespace).
func unmountUnder(dir string) {
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			syscall.Unmount(f[4], syscall.MNT_DETACH)
		}
	}
}

// docker runs /usr/bin/docker against the engine started here.
func docker(ctx context.Context, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerBin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + os.TempDir(), "DOCKER_HOST=" + dockerHost}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, tail(stderr.String(), 10))
	}
	return stdout.String(), stderr.String(), err
}

// ensureBaseImage imports the chroot test's cached Debian root (built by
// `chroot-test.sh --rootfs-only` when missing) and adds the user vscode.
// The tag is a hash of the root's own cache key and this recipe.
func ensureBaseImage() (string, error) {
	cmd := exec.Command("bash", filepath.Join(repoRoot, "devcontainer-feature", "test", "chroot-test.sh"), "--rootfs-only")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("the Debian root: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	rootfs := lines[len(lines)-1]
	if _, err := os.Stat(filepath.Join(rootfs, ".credd-ready")); err != nil {
		return "", fmt.Errorf("chroot-test.sh --rootfs-only gave no root:\n%s", out)
	}
	const recipe = "image v1: docker import, CMD bash, LANG C.UTF-8; useradd --create-home --shell /bin/bash --uid 1000 vscode"
	sum := sha256.Sum256([]byte(filepath.Base(rootfs) + "\n" + recipe))
	key := hex.EncodeToString(sum[:])[:16]
	tag := "credd-ci/bookworm:" + key
	if _, _, err := docker(context.Background(), "image", "inspect", tag); err == nil {
		return tag, nil
	}
	// Older tags are of roots or recipes that changed.
	if out, _, err := docker(context.Background(), "images", "--format", "{{.Repository}}:{{.Tag}}", "credd-ci/*"); err == nil {
		for _, old := range strings.Fields(out) {
			docker(context.Background(), "rmi", old)
		}
	}
	fmt.Printf("container suite: importing %s as %s\n", rootfs, tag)
	raw := "credd-ci/bookworm-raw:" + key
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	tarCmd := exec.CommandContext(ctx, "tar", "-C", rootfs, "--exclude=./.credd-ready", "-c", ".")
	imp := exec.CommandContext(ctx, dockerBin, "import", "-c", `CMD ["/bin/bash"]`, "-c", "ENV LANG=C.UTF-8", "-", raw)
	imp.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + os.TempDir(), "DOCKER_HOST=" + dockerHost}
	pipe, err := tarCmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	imp.Stdin = pipe
	var impOut bytes.Buffer
	imp.Stdout, imp.Stderr = &impOut, &impOut
	if err := tarCmd.Start(); err != nil {
		return "", err
	}
	if err := imp.Run(); err != nil {
		tarCmd.Wait()
		return "", fmt.Errorf("docker import: %v: %s", err, impOut.String())
	}
	if err := tarCmd.Wait(); err != nil {
		return "", fmt.Errorf("tar of %s: %v", rootfs, err)
	}
	dir, err := os.MkdirTemp("", "credd-base-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	dockerfile := "FROM " + raw + "\nRUN useradd --create-home --shell /bin/bash --uid 1000 vscode\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return "", err
	}
	if _, _, err := docker(ctx, "build", "--network", "none", "-t", tag, dir); err != nil {
		return "", err
	}
	docker(ctx, "rmi", raw)
	return tag, nil
}

// hostUser is a user on this machine that runs the devcontainer CLI.
type hostUser struct {
	uid, gid uint32
	home     string
}

// devcontainer runs the pinned devcontainers CLI with /usr/bin/docker and
// the engine started here, as root or as u, and returns its stdout and
// stderr. It fails the test on a non-zero exit unless allowFail.
func devcontainer(t *testing.T, timeout time.Duration, u *hostUser, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, append([]string{cliJS}, args...)...)
	home := os.TempDir()
	if u != nil {
		home = u.home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid}}
	}
	// /usr/bin first: /usr/local/bin/docker is not the engine's CLI here.
	cmd.Env = []string{
		"PATH=/usr/bin:/bin:/usr/sbin:/sbin:" + filepath.Dir(nodeBin),
		"HOME=" + home, "DOCKER_HOST=" + dockerHost, "LANG=C.UTF-8",
	}
	cmd.Dir = home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, io.MultiWriter(&stderr)
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	t.Logf("devcontainer %s: %s in %s", strings.Join(args[:min(2, len(args))], " "), exitText(err), time.Since(start).Round(100*time.Millisecond))
	return stdout.String(), stderr.String(), err
}

func exitText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// copyDir copies a directory tree (regular files, dirs, symlinks).
func copyDir(src, dst string) error {
	return filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case fi.IsDir():
			if fi.Name() == "node_modules" || fi.Name() == "bin" && rel != "." {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case fi.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, fi.Mode().Perm())
		}
	})
}

func installBinary(featureDir string) error {
	b, err := os.ReadFile(credd)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(featureDir, "bin"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(featureDir, "bin", "credd"), b, 0o755)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
