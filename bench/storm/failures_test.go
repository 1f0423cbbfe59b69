package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/credd-dev/credd/bench/loaddoc"
)

func TestClassifyWrappedErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"EOF before any response is unanswered", fmt.Errorf("Get \"x\": %w", io.EOF), failUnanswered},
		{"an unexpected EOF is unanswered", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), failUnanswered},
		{"a reset is unanswered", fmt.Errorf("read: %w", syscall.ECONNRESET), failUnanswered},
		{"a broken pipe is unanswered", fmt.Errorf("write: %w", syscall.EPIPE), failUnanswered},
		{"net/http's idle-close sentinel is unanswered", errors.New("http: server closed idle connection"), failUnanswered},
		{"a refused connection is another error", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), failOther},
		{"running out of descriptors is another error", fmt.Errorf("dial: %w", syscall.EMFILE), failOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.err); got != tc.want {
				t.Errorf("classify(%v) = %s, want %s", tc.err, got, tc.want)
			}
		})
	}
}

// TestClassifyRealClientErrors makes net/http's client fail the ways a
// server can fail it, and checks the kind each error is counted as.
func TestClassifyRealClientErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		// serve handles one accepted connection.
		serve func(c *net.TCPConn)
		want  string
	}{
		{"a server that closes after reading the request leaves it unanswered", func(c *net.TCPConn) {
			readRequest(c)
			c.Close()
		}, failUnanswered},
		{"a server that resets the connection leaves it unanswered", func(c *net.TCPConn) {
			readRequest(c)
			_ = c.SetLinger(0) // close sends RST
			c.Close()
		}, failUnanswered},
		{"a server that never answers times the client out", func(c *net.TCPConn) {
			readRequest(c)
			time.Sleep(time.Second)
			c.Close()
		}, failTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := net.Listen("tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				c, err := l.Accept()
				if err == nil {
					tc.serve(c.(*net.TCPConn))
				}
			}()
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 200 * time.Millisecond}
			_, err = client.Get("http://" + l.Addr().String() + "/")
			if err == nil {
				t.Fatal("the request succeeded")
			}
			var f loaddoc.Failures
			addFailure(&f, err)
			if got := classify(err); got != tc.want {
				t.Errorf("%v: classified %s, want %s", err, got, tc.want)
			}
			if f.Errors != 1 || f.Unanswered+f.Timeouts+f.OtherErrors != 1 || f.FirstError != err.Error() {
				t.Errorf("counted %+v", f)
			}
		})
	}

	t.Run("nobody listening is another error", func(t *testing.T) {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/")
		if err == nil {
			t.Fatal("the request succeeded")
		}
		if got := classify(err); got != failOther {
			t.Errorf("%v: classified %s, want %s", err, got, failOther)
		}
	})
}

// readRequest reads until the end of the request's headers.
func readRequest(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil || len(got) >= 4 && string(got[len(got)-4:]) == "\r\n\r\n" {
			return
		}
	}
}
