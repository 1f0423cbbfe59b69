package githubapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// GitHub's device flow
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow):
// codes live 900 seconds, clients poll every 5 seconds, and polling faster
// adds 5 seconds to the interval.
const (
	defaultDeviceInterval = 5 // seconds
	deviceCodeLifetime    = 900 * time.Second
	slowDownStep          = 5 // seconds
	deviceGrantType       = "urn:ietf:params:oauth:grant-type:device_code"
	// userCodeAlphabet has no vowels, so codes spell no words, as RFC 8628
	// §6.1 suggests; GitHub's look like "WDJB-MJHT".
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
)

type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDenied
	deviceRedeemed
)

type deviceGrant struct {
	app      *app
	scope    string
	userCode string
	expires  time.Time
	interval int // seconds
	lastPoll time.Time
	state    deviceState
	user     *account // set when approved
}

// SetDeviceInterval sets the polling interval (whole seconds, at least 1;
// default 5) handed out with device codes made from now on. Tests shorten it
// because golang.org/x/oauth2 waits in real time.
func (s *Server) SetDeviceInterval(d time.Duration) {
	secs := max(int((d+time.Second-1)/time.Second), 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deviceInterval = secs
}

// handleDeviceCode answers POST /login/device/code (client_id, scope).
// An unknown client ID is 404 and a disabled device flow 400
// device_flow_disabled, the answers github.com/cli/oauth (device/device_flow.go)
// expects from GitHub.
func (s *Server) handleDeviceCode(w http.ResponseWriter, r *http.Request, st site) {
	s.anonymousHeaders(w, r)
	if err := parseForm(r); err != nil {
		writeOAuth(w, r, http.StatusBadRequest, []oauthField{{"error", "bad_request"}})
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.mu.Lock()
	a, known := s.apps[clientID]
	if !known {
		s.mu.Unlock()
		writeOAuth(w, r, http.StatusNotFound, []oauthField{{"error", "Not Found"}})
		return
	}
	if !a.deviceFlow {
		s.mu.Unlock()
		writeOAuthError(w, r, http.StatusBadRequest, errDeviceFlowDisabled)
		return
	}
	deviceCode := newDeviceCode()
	g := &deviceGrant{
		app:      a,
		scope:    r.PostForm.Get("scope"),
		userCode: s.newUserCodeLocked(),
		expires:  s.clock.Now().Add(deviceCodeLifetime),
		interval: s.deviceInterval,
	}
	s.devices[sha256.Sum256([]byte(deviceCode))] = g
	s.userCodes[g.userCode] = g
	s.mu.Unlock()

	writeOAuth(w, r, http.StatusOK, []oauthField{
		{"device_code", deviceCode},
		{"user_code", g.userCode},
		{"verification_uri", st.web + "/login/device"},
		{"expires_in", int(deviceCodeLifetime.Seconds())},
		{"interval", g.interval},
	})
}

// newDeviceCode is 40 hex characters, as GitHub's are.
func newDeviceCode() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) newUserCodeLocked() string {
	for {
		c := randomString(4, userCodeAlphabet) + "-" + randomString(4, userCodeAlphabet)
		if _, taken := s.userCodes[c]; !taken {
			return c
		}
	}
}

// normalizeUserCode accepts what a person would type: any case, with or
// without the dash.
func normalizeUserCode(code string) string {
	c := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))
	if len(c) == 8 && !strings.Contains(c, "-") {
		c = c[:4] + "-" + c[4:]
	}
	return c
}

// ApproveDevice authorizes the app for login, as the user does by entering
// the user code at the verification URI; the next poll gets a token. The
// user is added if unknown.
func (s *Server) ApproveDevice(userCode, login string) error {
	if login == "" || strings.ContainsAny(login, "/ ") {
		return fmt.Errorf("githubapi: ApproveDevice: %q is not a GitHub login", login)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.pendingLocked(userCode)
	if err != nil {
		return err
	}
	g.user = s.ensureAccount(login, typeUser)
	g.state = deviceApproved
	return nil
}

// DenyDevice refuses the authorization, as the user does by clicking
// Cancel; the next poll gets access_denied.
func (s *Server) DenyDevice(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.pendingLocked(userCode)
	if err != nil {
		return err
	}
	g.state = deviceDenied
	return nil
}

func (s *Server) pendingLocked(userCode string) (*deviceGrant, error) {
	g, ok := s.userCodes[normalizeUserCode(userCode)]
	switch {
	case !ok:
		return nil, fmt.Errorf("githubapi: no device authorization has user code %q; request one at /login/device/code first", userCode)
	case !s.clock.Now().Before(g.expires):
		return nil, fmt.Errorf("githubapi: user code %q expired at %s; request a new one", userCode, g.expires.Format(time.RFC3339))
	case g.state != devicePending:
		return nil, fmt.Errorf("githubapi: user code %q was already answered", userCode)
	}
	return g, nil
}
