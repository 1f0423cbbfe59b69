// Package sandbox is an embedded OIDC issuer and STS emulator for demos and tests.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure Start.
type Options struct {
	Issuer IssuerOptions
	// STS configures the emulator; Start fills in its Issuer, and a nil
	// Clock or Logger falls back to the issuer's so both agree on the time.
	STS STSOptions
	// IssuerAddr and STSAddr are the listen addresses; "" = 127.0.0.1:0.
	IssuerAddr, STSAddr string
}

// Sandbox is an issuer and an STS emulator serving on loopback.
type Sandbox struct {
	Issuer    *Issuer
	STS       *STS
	IssuerURL string // e.g. http://127.0.0.1:41234
	STSURL    string // e.g. http://127.0.0.1:41235

	servers   []*http.Server
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
	stop      chan struct{}
}

// Start binds both listeners (so an address in use fails here), then serves
// in the background until ctx is done or Close is called.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	issuer, err := NewIssuer(opts.Issuer)
	if err != nil {
		return nil, err
	}
	stsOpts := opts.STS
	stsOpts.Issuer = issuer
	if stsOpts.Clock == nil {
		stsOpts.Clock = issuer.clock
	}
	if stsOpts.Logger == nil {
		stsOpts.Logger = opts.Issuer.Logger
	}
	sts, err := NewSTS(stsOpts)
	if err != nil {
		return nil, err
	}

	issuerLn, err := listen(opts.IssuerAddr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: issuer: %w", err)
	}
	stsLn, err := listen(opts.STSAddr)
	if err != nil {
		issuerLn.Close()
		return nil, fmt.Errorf("sandbox: sts: %w", err)
	}
	sb := &Sandbox{
		Issuer:    issuer,
		STS:       sts,
		IssuerURL: "http://" + issuerLn.Addr().String(),
		STSURL:    "http://" + stsLn.Addr().String(),
		stop:      make(chan struct{}),
	}
	issuer.SetURL(sb.IssuerURL)
	sb.serve(issuerLn, issuer.Handler())
	sb.serve(stsLn, sts.Handler())
	go func() {
		select {
		case <-ctx.Done():
			sb.Close()
		case <-sb.stop:
		}
	}()
	return sb, nil
}

func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return net.Listen("tcp", addr)
}

func (sb *Sandbox) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	sb.servers = append(sb.servers, srv)
	sb.wg.Go(func() { _ = srv.Serve(ln) })
}

// ActionsTokenURL is the sandbox's ACTIONS_ID_TOKEN_REQUEST_URL; clients
// append "&audience=...".
func (sb *Sandbox) ActionsTokenURL() string { return sb.IssuerURL + "/token?api-version=2.0" }

// Close stops both servers, dropping requests in flight (a hanging fault
// included), and waits for them to finish. It is safe to call more than once.
func (sb *Sandbox) Close() error {
	sb.closeOnce.Do(func() {
		close(sb.stop)
		var errs []error
		for _, srv := range sb.servers {
			errs = append(errs, srv.Close())
		}
		sb.wg.Wait()
		sb.closeErr = errors.Join(errs...)
	})
	return sb.closeErr
}
