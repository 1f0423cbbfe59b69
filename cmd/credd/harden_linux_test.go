package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// hardenHelper, when set, makes the test binary harden itself for these
// arguments and print what it became.
const hardenHelper = "CREDD_TEST_HARDEN_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(hardenHelper); ok {
		harden(strings.Fields(args))
		dumpable, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_GET_DUMPABLE, 0, 0)
		var lim syscall.Rlimit
		if errno != 0 || syscall.Getrlimit(syscall.RLIMIT_CORE, &lim) != nil {
			os.Exit(3)
		}
		fmt.Printf("dumpable=%d core=%d/%d\n", dumpable, lim.Cur, lim.Max)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func hardened(t *testing.T, args string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hardenHelper+"="+args)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestHardenKeepsSecretsOutOfCoreFilesAndProc(t *testing.T) {
	if got := hardened(t, "daemon --role-arn x"); got != "dumpable=0 core=0/0" {
		t.Errorf("credd daemon: %s, want dumpable=0 core=0/0", got)
	}
	if got := hardened(t, "credential-process"); got != "dumpable=0 core=0/0" {
		t.Errorf("credd credential-process: %s, want dumpable=0 core=0/0", got)
	}
}

// credd exec becomes the user's program, which inherits RLIMIT_CORE (and
// is made dumpable again by execve).
func TestHardenLeavesTheCoreLimitOfExecToTheUser(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_CORE, &lim); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("dumpable=0 core=%d/%d", lim.Cur, lim.Max)
	if got := hardened(t, "exec -- env"); got != want {
		t.Errorf("credd exec: %s, want %s", got, want)
	}
}
