package server

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// procAddr4 writes 127.0.0.1-style addresses as the kernel prints them in
// /proc/net/tcp: the address's 32-bit word in host order, in hex.
func procAddr4(a [4]byte) string {
	return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(a[:]))
}

func TestListenerUID(t *testing.T) {
	const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	line := func(addr [4]byte, port uint16, state string, uid int) string {
		return fmt.Sprintf("   0: %s:%04X 00000000:0000 %s 00000000:00000000 00:00000000 00000000  %d        0 1234 1 0000000000000000 100 0 0 10 0\n",
			procAddr4(addr), port, state, uid)
	}
	loop, any, other := [4]byte{127, 0, 0, 1}, [4]byte{}, [4]byte{127, 0, 0, 2}
	tests := []struct {
		name    string
		table   string
		wantUID int
		wantOK  bool
	}{
		{"a listener on 127.0.0.1:port is found", line(loop, 9911, "0A", 1001), 1001, true},
		{"a wildcard listener on the port is found", line(any, 9911, "0A", 1002), 1002, true},
		{"a listener on another loopback address does not block 127.0.0.1", line(other, 9911, "0A", 1001), 0, false},
		{"a connection (not LISTEN) is ignored", line(loop, 9911, "01", 1001), 0, false},
		{"another port is ignored", line(loop, 9912, "0A", 1001), 0, false},
		{"the first listener of several is returned", line(loop, 80, "0A", 7) + line(loop, 9911, "0A", 1001), 1001, true},
		{"a garbled line is skipped", "   0: zz:zz\n" + line(loop, 9911, "0A", 1001), 1001, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid, ok := listenerUID(strings.NewReader(header+tt.table), 9911)
			if uid != tt.wantUID || ok != tt.wantOK {
				t.Errorf("listenerUID = %d, %v; want %d, %v", uid, ok, tt.wantUID, tt.wantOK)
			}
		})
	}
}

func TestListenNamesThePortsHolder(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the holder is read from /proc/net/tcp")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_, err = Listen("127.0.0.1:" + port)
	var inUse *PortInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Listen on a taken port = %v, want a *PortInUseError wrapping EADDRINUSE", err)
	}
	if !inUse.HolderKnown || inUse.HolderUID != os.Geteuid() || inUse.OtherUser() {
		t.Errorf("holder = %d (known %v), other user %v; want this process's uid %d", inUse.HolderUID, inUse.HolderKnown, inUse.OtherUser(), os.Geteuid())
	}
	if !strings.Contains(err.Error(), "another credd daemon may be running") {
		t.Errorf("error for a port held by oneself = %q", err)
	}
	other := &PortInUseError{Port: port, HolderUID: os.Geteuid() + 1, HolderKnown: true, Err: syscall.EADDRINUSE}
	for _, want := range []string{"held by uid", "not by you", "new token", "ss -ltnp"} {
		if !strings.Contains(other.Error(), want) {
			t.Errorf("error for a port held by another user = %q, want it to mention %q", other.Error(), want)
		}
	}
}
