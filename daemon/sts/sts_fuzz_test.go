package sts_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/sts"
)

const fuzzJWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl"

// jwtShape is what a JWT looks like in a message: header.payload.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ`)

// FuzzExchange answers AssumeRoleWithWebIdentity with arbitrary status
// codes, content types and bodies: Exchange never panics, every error is a
// *daemon.Error of a known kind that does not contain the token, and a
// success has every field set.
func FuzzExchange(f *testing.F) {
	ok := `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>` +
		`<Credentials><AccessKeyId>ASIAFUZZ</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>session</SessionToken>` +
		`<Expiration>2030-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/dev/fuzz</Arn>` +
		`<AssumedRoleId>AROA:fuzz</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>`
	errBody := func(code, msg string) string {
		return `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>` + code +
			`</Code><Message>` + msg + `</Message></Error><RequestId>r</RequestId></ErrorResponse>`
	}
	f.Add(200, "text/xml", ok)
	f.Add(200, "text/xml", ok[:len(ok)/2])
	f.Add(200, "text/xml", strings.Replace(ok, "<SessionToken>session</SessionToken>", "", 1))
	f.Add(200, "text/xml", strings.Replace(ok, "2030-01-01T00:00:00Z", "not a date", 1))
	f.Add(400, "text/xml", errBody("InvalidIdentityToken", "bad token "+fuzzJWT))
	f.Add(403, "text/xml", errBody("AccessDenied", "Not authorized"))
	f.Add(400, "text/xml", errBody("Throttling", "Rate exceeded"))
	f.Add(500, "text/xml", errBody("InternalFailure", ""))
	f.Add(503, "text/html", "<html>busy</html>")
	f.Add(302, "text/plain", "")
	f.Add(200, "application/json", `{"Credentials":{}}`)

	var call, mu sync.Mutex // call serialises Exchanges; mu guards the answer
	var status int
	var ctype, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		s, c, b := status, ctype, body
		mu.Unlock()
		w.Header().Set("Content-Type", c)
		w.WriteHeader(s)
		w.Write([]byte(b))
	}))
	f.Cleanup(srv.Close)
	client, err := sts.New(sts.Config{RoleARN: "arn:aws:iam::123456789012:role/dev", SessionName: "fuzz",
		Endpoint: srv.URL, AttemptTimeout: 2 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	kinds := map[daemon.Kind]bool{daemon.KindRetryable: true, daemon.KindNewToken: true, daemon.KindPermanent: true}

	f.Fuzz(func(t *testing.T, st int, ct, b string) {
		if st < 200 || st > 599 || st == http.StatusSwitchingProtocols {
			st = 200 + (st%400+400)%400
		}
		if strings.ContainsAny(ct, "\r\n\x00") {
			ct = "text/xml"
		}
		call.Lock()
		defer call.Unlock()
		mu.Lock()
		status, ctype, body = st, ct, b
		mu.Unlock()
		watchdog := time.AfterFunc(15*time.Second, func() { panic(fmt.Sprintf("Exchange hung on %d %q %q", st, ct, b)) })
		creds, err := client.Exchange(context.Background(), fuzzJWT)
		watchdog.Stop()
		if err != nil {
			var e *daemon.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *daemon.Error", err, err)
			}
			if !kinds[e.Kind] || e.Code == "" {
				t.Fatalf("error %+v has no known kind or no code", e)
			}
			if strings.Contains(err.Error(), fuzzJWT) || jwtShape.MatchString(e.Message) {
				t.Fatalf("error holds the token: %v", err)
			}
			return
		}
		if creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" || creds.Expiration.IsZero() || creds.RoleARN == "" || creds.AccountID == "" {
			t.Fatalf("success with an empty field: %+v", creds)
		}
	})
}
