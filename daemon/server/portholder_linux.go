package server

import "os"

// portHolderUID returns the UID of the process listening on 127.0.0.1's
// port (or a wildcard address on it), from the kernel's socket tables.
func portHolderUID(port uint16) (int, bool) {
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		uid, ok := listenerUID(f, port)
		f.Close()
		if ok {
			return uid, true
		}
	}
	return 0, false
}
