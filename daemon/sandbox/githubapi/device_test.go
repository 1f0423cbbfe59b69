package githubapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	appID     = "Iv1.deviceapp"
	appSecret = "device-app-secret"
)

// oauthConfig is how credd login talks to the stand-in: golang.org/x/oauth2
// with the client ID in the form. (AuthStyleAutoDetect would post each poll
// twice, header then form, and the second would be a slow_down.)
func (f *fixture) oauthConfig(secret string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     appID,
		ClientSecret: secret,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: f.srv.URL + "/login/device/code",
			TokenURL:      f.srv.URL + "/login/oauth/access_token",
			AuthStyle:     oauth2.AuthStyleInParams,
		},
	}
}

func (f *fixture) ctx(t *testing.T) context.Context {
	return context.WithValue(t.Context(), oauth2.HTTPClient, f.srv.Client())
}

// grantOf returns the device grant behind a user code; callers hold s.mu.
func (f *fixture) grantOf(userCode string) *deviceGrant { return f.s.userCodes[userCode] }

// deviceFixture is a stand-in with an app whose tokens expire, polled every
// second (the least golang.org/x/oauth2 waits).
func deviceFixture(t *testing.T, expiring bool) *fixture {
	t.Helper()
	f := newFixture(t)
	f.s.AddApp(appID, appSecret, expiring)
	f.s.SetDeviceInterval(time.Second)
	return f
}

type pollResult struct {
	tok *oauth2.Token
	err error
}

func (f *fixture) pollInBackground(t *testing.T, cfg *oauth2.Config, da *oauth2.DeviceAuthResponse) <-chan pollResult {
	done := make(chan pollResult, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(f.ctx(t), da)
		done <- pollResult{tok, err}
	}()
	return done
}

func TestDeviceFlowEndToEndWithOAuth2(t *testing.T) {
	t.Parallel()
	f := deviceFixture(t, true)
	u := f.s.AddUser("octocat")
	cfg := f.oauthConfig("")

	da, err := cfg.DeviceAuth(f.ctx(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if len(da.DeviceCode) != 40 || len(da.UserCode) != 9 || da.UserCode[4] != '-' {
		t.Errorf("device code %d chars, user code %q; want 40 and XXXX-XXXX", len(da.DeviceCode), da.UserCode)
	}
	if da.VerificationURI != f.srv.URL+"/login/device" || da.Interval != 1 {
		t.Errorf("verification_uri %q, interval %d; want %s/login/device and 1", da.VerificationURI, da.Interval, f.srv.URL)
	}
	if left := time.Until(da.Expiry); left < 890*time.Second || left > 900*time.Second {
		t.Errorf("expiry in %s, want about 900s", left)
	}

	done := f.pollInBackground(t, cfg, da)
	waitFor(t, f.s, "the first poll", func() bool { return !f.grantOf(da.UserCode).lastPoll.IsZero() })
	f.clock.Advance(2 * time.Second)
	if err := f.s.ApproveDevice(strings.ToLower(strings.ReplaceAll(da.UserCode, "-", "")), "octocat"); err != nil {
		t.Fatalf("ApproveDevice: %v", err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("DeviceAccessToken: %v", res.err)
	}
	tok := res.tok
	if !strings.HasPrefix(tok.AccessToken, "ghu_") || !strings.HasPrefix(tok.RefreshToken, "ghr_") || tok.TokenType != "bearer" {
		t.Errorf("token %.4s…, refresh %.4s…, type %q; want ghu_, ghr_, bearer", tok.AccessToken, tok.RefreshToken, tok.TokenType)
	}
	// The answer is form-encoded (oauth2 asks for no JSON); Extra parses its numbers.
	if tok.Extra("expires_in") != int64(28800) || tok.Extra("refresh_token_expires_in") != int64(15811200) || tok.Extra("scope") != "" {
		t.Errorf("expires_in %v, refresh_token_expires_in %v, scope %q; want 28800, 15811200, \"\"", tok.Extra("expires_in"), tok.Extra("refresh_token_expires_in"), tok.Extra("scope"))
	}
	if got := f.s.Requests("/login/oauth/access_token"); got != 2 {
		t.Errorf("polls = %d, want one pending and one granted", got)
	}

	resp, body := f.get(t, "/user", tok.AccessToken)
	wantStatus(t, resp, body, http.StatusOK)
	if got := decodeMap(t, body)["id"]; got != float64(u.ID) {
		t.Errorf("the token's user id = %v, want %d", got, u.ID)
	}
	resp, body = f.checkToken(t, appID, appID, appSecret, tok.AccessToken)
	wantStatus(t, resp, body, http.StatusOK)

	// The device code is spent.
	if _, err := cfg.DeviceAccessToken(f.ctx(t), da); !isOAuthError(err, "incorrect_device_code") {
		t.Errorf("second exchange error = %v, want incorrect_device_code", err)
	}
	assertNoSecrets(t, "log", f.logs.String(), tok.AccessToken, tok.RefreshToken, da.DeviceCode, appSecret)
}

func TestDeviceFlowSlowsDownAClientThatPollsTooFast(t *testing.T) {
	t.Parallel()
	f := deviceFixture(t, true)
	cfg := f.oauthConfig("")
	da, err := cfg.DeviceAuth(f.ctx(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}

	// The fake clock stands still, so the second poll comes too soon.
	done := f.pollInBackground(t, cfg, da)
	waitFor(t, f.s, "a slow_down", func() bool { return f.grantOf(da.UserCode).interval == 1+slowDownStep })
	f.clock.Advance(time.Minute)
	if err := f.s.ApproveDevice(da.UserCode, "octocat"); err != nil {
		t.Fatalf("ApproveDevice: %v", err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("DeviceAccessToken after slow_down: %v", res.err)
	}
	if got := f.s.Requests("/login/oauth/access_token"); got != 3 {
		t.Errorf("polls = %d, want pending, slow_down, granted", got)
	}
}

func TestDeviceFlowDeniedByTheUser(t *testing.T) {
	t.Parallel()
	f := deviceFixture(t, true)
	cfg := f.oauthConfig("")
	da, err := cfg.DeviceAuth(f.ctx(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if err := f.s.DenyDevice(da.UserCode); err != nil {
		t.Fatalf("DenyDevice: %v", err)
	}
	if _, err := cfg.DeviceAccessToken(f.ctx(t), da); !isOAuthError(err, "access_denied") {
		t.Fatalf("error = %v, want access_denied", err)
	}
	if err := f.s.ApproveDevice(da.UserCode, "octocat"); err == nil {
		t.Error("ApproveDevice after DenyDevice succeeded; want an error")
	}
}

func TestDeviceFlowCodeExpiresAfter900Seconds(t *testing.T) {
	t.Parallel()
	f := deviceFixture(t, true)
	cfg := f.oauthConfig("")
	da, err := cfg.DeviceAuth(f.ctx(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	f.clock.Advance(900 * time.Second)
	if err := f.s.ApproveDevice(da.UserCode, "octocat"); err == nil {
		t.Error("ApproveDevice on an expired code succeeded")
	}
	if _, err := cfg.DeviceAccessToken(f.ctx(t), da); !isOAuthError(err, "expired_token") {
		t.Fatalf("error = %v, want expired_token", err)
	}
}

func TestDeviceFlowOfAnOAuthAppGivesAnOAuthToken(t *testing.T) {
	t.Parallel()
	f := deviceFixture(t, false)
	cfg := f.oauthConfig("")
	cfg.Scopes = []string{"read:user"}
	da, err := cfg.DeviceAuth(f.ctx(t))
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if err := f.s.ApproveDevice(da.UserCode, "octocat"); err != nil {
		t.Fatal(err)
	}
	tok, err := cfg.DeviceAccessToken(f.ctx(t), da)
	if err != nil {
		t.Fatalf("DeviceAccessToken: %v", err)
	}
	if !strings.HasPrefix(tok.AccessToken, "gho_") || tok.RefreshToken != "" || !tok.Expiry.IsZero() || tok.Extra("scope") != "read:user" {
		t.Errorf("token %.4s…, refresh %q, expiry %v, scope %v; want gho_, none, none, read:user", tok.AccessToken, tok.RefreshToken, tok.Expiry, tok.Extra("scope"))
	}
}

// postForm posts form values to the web host, asking for JSON when json.
func (f *fixture) postForm(t *testing.T, path string, v url.Values, json bool) (*http.Response, []byte) {
	t.Helper()
	req := f.newRequest(t, http.MethodPost, path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Del("Accept")
	if json {
		req.Header.Set("Accept", "application/json")
	}
	return f.do(t, req)
}

func TestTokenEndpointErrorsAreHTTP200AsGitHubs(t *testing.T) {
	f := deviceFixture(t, true)
	f.s.AddApp("Iv1.nodevice", "x", true)
	f.s.DisableDeviceFlow("Iv1.nodevice")
	_, body := f.postForm(t, "/login/device/code", url.Values{"client_id": {appID}}, true)
	deviceCode, _ := decodeMap(t, body)["device_code"].(string)

	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"no grant type", url.Values{"client_id": {appID}, "device_code": {deviceCode}}, "unsupported_grant_type"},
		{"an unknown grant type", url.Values{"client_id": {appID}, "grant_type": {"password"}}, "unsupported_grant_type"},
		{"an unknown client", url.Values{"client_id": {"Iv1.nobody"}, "device_code": {deviceCode}, "grant_type": {deviceGrantType}}, "incorrect_client_credentials"},
		{"a wrong client secret", url.Values{"client_id": {appID}, "client_secret": {"nope"}, "device_code": {deviceCode}, "grant_type": {deviceGrantType}}, "incorrect_client_credentials"},
		{"an unknown device code", url.Values{"client_id": {appID}, "device_code": {strings.Repeat("0", 40)}, "grant_type": {deviceGrantType}}, "incorrect_device_code"},
		{"an app with device flow disabled", url.Values{"client_id": {"Iv1.nodevice"}, "device_code": {deviceCode}, "grant_type": {deviceGrantType}}, "device_flow_disabled"},
		{"a pending code", url.Values{"client_id": {appID}, "device_code": {deviceCode}, "grant_type": {deviceGrantType}}, "authorization_pending"},
		{"a code polled again at once", url.Values{"client_id": {appID}, "device_code": {deviceCode}, "grant_type": {deviceGrantType}}, "slow_down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := f.postForm(t, "/login/oauth/access_token", tt.form, true)
			wantStatus(t, resp, body, http.StatusOK)
			m := decodeMap(t, body)
			if m["error"] != tt.want || m["error_description"] == "" || m["error_uri"] == "" {
				t.Errorf("answer = %v, want error %s with a description and a uri", m, tt.want)
			}
			if tt.want == "slow_down" && m["interval"] != float64(1+slowDownStep) {
				t.Errorf("slow_down interval = %v, want %d", m["interval"], 1+slowDownStep)
			}
		})
	}
}

func TestDeviceCodeEndpointRefusals(t *testing.T) {
	f := deviceFixture(t, true)
	f.s.DisableDeviceFlow(appID)

	resp, body := f.postForm(t, "/login/device/code", url.Values{"client_id": {"Iv1.nobody"}}, true)
	wantStatus(t, resp, body, http.StatusNotFound)

	resp, body = f.postForm(t, "/login/device/code", url.Values{"client_id": {appID}}, true)
	wantStatus(t, resp, body, http.StatusBadRequest)
	if got := decodeMap(t, body)["error"]; got != "device_flow_disabled" {
		t.Errorf("error = %v, want device_flow_disabled", got)
	}
}

func TestOAuthAnswersAreFormEncodedUnlessJSONIsAsked(t *testing.T) {
	f := deviceFixture(t, true)
	resp, body := f.postForm(t, "/login/device/code", url.Values{"client_id": {appID}, "scope": {""}}, false)
	wantStatus(t, resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		t.Errorf("Content-Type = %q, want form-encoded", ct)
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatalf("parse %q: %v", body, err)
	}
	if v.Get("expires_in") != "900" || v.Get("interval") != "1" || v.Get("verification_uri") != f.srv.URL+"/login/device" {
		t.Errorf("answer = %v, want expires_in 900, interval 1 and the verification URI", v)
	}
}

func TestRefreshRotatesBothTokens(t *testing.T) {
	f := deviceFixture(t, true)
	f.s.AddUser("octocat")
	first := exchangeApproved(t, f)

	refreshed, err := f.oauthConfig(appSecret).TokenSource(f.ctx(t), &oauth2.Token{RefreshToken: first.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if refreshed.AccessToken == first.AccessToken || refreshed.RefreshToken == first.RefreshToken || !strings.HasPrefix(refreshed.RefreshToken, "ghr_") {
		t.Fatal("refresh did not hand out a new ghu_/ghr_ pair")
	}
	resp, body := f.get(t, "/user", refreshed.AccessToken)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = f.get(t, "/user", first.AccessToken)
	wantStatus(t, resp, body, http.StatusUnauthorized) // the old access token died with its refresh token

	refresh := func(secret, token string) map[string]any {
		_, body := f.postForm(t, "/login/oauth/access_token", url.Values{
			"client_id": {appID}, "client_secret": {secret}, "grant_type": {"refresh_token"}, "refresh_token": {token},
		}, true)
		return decodeMap(t, body)
	}
	if got := refresh(appSecret, first.RefreshToken)["error"]; got != "bad_refresh_token" {
		t.Errorf("reusing a refresh token: error %v, want bad_refresh_token", got)
	}
	if got := refresh("wrong", refreshed.RefreshToken)["error"]; got != "incorrect_client_credentials" {
		t.Errorf("refreshing with a wrong secret: error %v, want incorrect_client_credentials", got)
	}
	f.clock.Advance(15811200 * time.Second)
	if got := refresh(appSecret, refreshed.RefreshToken)["error"]; got != "bad_refresh_token" {
		t.Errorf("an expired refresh token: error %v, want bad_refresh_token", got)
	}
	assertNoSecrets(t, "log", f.logs.String(), first.AccessToken, first.RefreshToken, refreshed.AccessToken, refreshed.RefreshToken, appSecret)
}

// exchangeApproved runs a device flow that the user approved at once, with
// direct posts (no real-time waiting).
func exchangeApproved(t *testing.T, f *fixture) *oauth2.Token {
	t.Helper()
	_, body := f.postForm(t, "/login/device/code", url.Values{"client_id": {appID}}, true)
	m := decodeMap(t, body)
	if err := f.s.ApproveDevice(m["user_code"].(string), "octocat"); err != nil {
		t.Fatal(err)
	}
	_, body = f.postForm(t, "/login/oauth/access_token", url.Values{
		"client_id": {appID}, "device_code": {m["device_code"].(string)}, "grant_type": {deviceGrantType},
	}, true)
	m = decodeMap(t, body)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	if access == "" || refresh == "" {
		t.Fatalf("exchange answered %v, want tokens", m)
	}
	return &oauth2.Token{AccessToken: access, RefreshToken: refresh}
}

func TestApproveAndDenyNeedAPendingCode(t *testing.T) {
	f := deviceFixture(t, true)
	if err := f.s.ApproveDevice("BCDF-GHJK", "octocat"); err == nil {
		t.Error("ApproveDevice of an unknown code succeeded")
	}
	if err := f.s.DenyDevice("BCDF-GHJK"); err == nil {
		t.Error("DenyDevice of an unknown code succeeded")
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
