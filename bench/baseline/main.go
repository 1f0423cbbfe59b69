// Command baseline is the yardstick for the endpoint benchmarks
// (bench/run.sh): a bare net/http server on 127.0.0.1 that answers every
// request with one constant JSON body, the same bytes credd serves. It does
// no routing, no authorization and no header checks, so it is the practical
// limit of a Go HTTP server on this machine.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback)")
	bodyFile := flag.String("body-file", "", "file whose bytes are the response body (default: a 1 KiB JSON document)")
	flag.Parse()

	body := []byte(`{"AccessKeyId":"ASIABASELINE","SecretAccessKey":"x","Token":"y","Expiration":"2099-01-01T00:00:00Z"}` + "\n")
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "baseline:", err)
			os.Exit(1)
		}
		body = b
	}
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		fmt.Fprintln(os.Stderr, "baseline: refusing a non-loopback address", ln.Addr())
		os.Exit(1)
	}
	length := []string{strconv.Itoa(len(body))}
	ctype := []string{"application/json"}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = ctype
		hdr["Content-Length"] = length
		w.WriteHeader(http.StatusOK)
		w.Write(body)
	})
	fmt.Printf("http://%s/\n", ln.Addr())
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		ln.Close()
	}()
	_ = http.Serve(ln, h)
}
