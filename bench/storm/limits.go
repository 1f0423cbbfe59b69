package main

import (
	"fmt"
	"syscall"
)

// fileLimit raises the soft RLIMIT_NOFILE to the hard limit and returns it.
// Go raises it itself at start, but only to hard−1 (syscall/rlimit.go, since
// Go 1.19), and puts the original soft limit back in every child it starts
// (origRlimitNofile in syscall/exec_linux.go). An explicit Setrlimit makes
// both exact: this process gets the hard limit, and so does CMD, since
// syscall.Setrlimit forgets the original.
func fileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("raising the open-file limit to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// needFiles fails, saying what to do, unless this process may hold n open
// files (connections included).
func needFiles(n uint64, what string) error {
	have, err := fileLimit()
	if err != nil {
		return err
	}
	if n > have {
		return fmt.Errorf("%s needs about %d open files, but the limit is %d (`ulimit -Hn`): "+
			"run `ulimit -n %d` first (as root if that is above the hard limit), or ask for fewer connections",
			what, n, have, n)
	}
	return nil
}
