// Package awsapi holds what credd's AWS API clients (STS, ECS, SSM,
// Secrets Manager) share: their HTTP client, and how a failed call is
// described: whether it was the certificate, the transport failure without
// the SDK's wrapping, and a message made safe to show.
package awsapi

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/credd-dev/credd/daemon/redact"
)

// HTTPClient bounds each phase of a call, so a black-holed endpoint fails
// in seconds; overall bounds the whole call (0 = no bound: the caller's
// per-attempt context does). maxIdle is how many connections are kept for
// the calls a client makes at once. ProxyFromEnvironment never proxies
// loopback, so a local emulator is reached directly.
func HTTPClient(maxIdle int, overall time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: overall,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          maxIdle,
			ForceAttemptHTTP2:     true,
		},
	}
}

// IsCertError reports whether err is a TLS certificate that was refused.
func IsCertError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		ierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr)
}

// TransportMessage describes a transport failure without the SDK's
// operation wrapping, e.g. `Post "http://127.0.0.1:1/": dial tcp
// 127.0.0.1:1: connect: connection refused`, which names the endpoint.
// The URL carries no secret: AWS requests put theirs in headers and bodies.
func TransportMessage(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Error()
	}
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) && sendErr.Err != nil {
		return sendErr.Err.Error()
	}
	return err.Error()
}

// MaxMessage is the longest message Sanitize keeps, in bytes.
const MaxMessage = 300

// Sanitize keeps a message short, on one line, and free of secrets
// (redact.String): an endpoint that is not AWS (a proxy, an emulator) may
// echo anything. Redacting comes before cutting, which could leave half a
// secret that no longer looks like one.
func Sanitize(msg string) string {
	msg = strings.Join(strings.Fields(redact.String(msg)), " ")
	if len(msg) > MaxMessage {
		cut := MaxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}
