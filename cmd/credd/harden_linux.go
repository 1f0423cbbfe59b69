package main

import "syscall"

// harden keeps the secrets in this process's memory (credentials, the
// identity and refresh tokens, a client secret, the authorization token)
// out of core files and away from other processes of the same user:
//
//   - not dumpable: no core file, and /proc/<pid>/mem, environ and ptrace
//     become root's only. execve makes a program dumpable again, so what
//     `credd exec` and a token command run is unaffected.
//   - RLIMIT_CORE 0: no core even where the kernel would dump a
//     non-dumpable process (fs.suid_dumpable=2). Children inherit it, so
//     `credd exec`, which becomes the user's program, keeps the user's.
//
// Failures are ignored: hardening must never stop credd from serving.
func harden(args []string) {
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0)
	if len(args) > 0 && args[0] == "exec" {
		return
	}
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
}
