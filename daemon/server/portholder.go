package server

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// listenerUID finds, in a /proc/net/tcp or /proc/net/tcp6 table, a socket
// listening on port at an address that keeps 127.0.0.1:port from being
// bound (127.0.0.1 itself, or a wildcard), and returns its owner's UID.
//
// Each line reads "sl local rem st ... uid ...": local is the address as
// the kernel's 32-bit words in host order, in hex, then ":" and the port
// in hex; st 0A is LISTEN (linux/Documentation/networking/proc_net_tcp.rst).
func listenerUID(table io.Reader, port uint16) (uid int, found bool) {
	sc := bufio.NewScanner(table)
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[3] != "0A" {
			continue
		}
		addr, p, ok := parseProcAddr(f[1])
		if !ok || p != port || !blocks127(addr) {
			continue
		}
		u, err := strconv.Atoi(f[7])
		if err != nil {
			continue
		}
		return u, true
	}
	return 0, false
}

// parseProcAddr reads "0100007F:2697" (IPv4) or the 32-hex-digit IPv6 form.
func parseProcAddr(s string) (netip.Addr, uint16, bool) {
	h, ps, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, false
	}
	p, err := strconv.ParseUint(ps, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, false
	}
	// The kernel prints each 32-bit word as a host-order integer: turn
	// each back into its bytes in memory order.
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return addr, uint16(p), true
}

// blocks127 reports whether a listener on addr takes 127.0.0.1's port.
func blocks127(addr netip.Addr) bool {
	a := addr.Unmap()
	return a.IsUnspecified() || a == netip.AddrFrom4([4]byte{127, 0, 0, 1})
}
