package githubapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The web host's OAuth endpoints answer in the format the Accept header
// asks for, and form-encoded by default ("By default, the response takes
// the following form ... access_token=...&scope=...&token_type=bearer",
// https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps).

// oauthField is one key of an OAuth answer, kept in order for the form.
type oauthField struct {
	key   string
	value any // string or int
}

func writeOAuth(w http.ResponseWriter, r *http.Request, status int, fields []oauthField) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		m := make(map[string]any, len(fields))
		for _, f := range fields {
			m[f.key] = f.value
		}
		writeJSON(w, status, m)
		return
	}
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, url.QueryEscape(f.key)+"="+url.QueryEscape(fmt.Sprint(f.value)))
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(strings.Join(parts, "&")))
}

// oauthError is an error of the device flow or of refreshing, with the
// description GitHub gives it. GitHub answers these with HTTP 200
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#error-codes-for-the-device-flow).
type oauthError struct {
	code, description, uri string
}

const (
	deviceErrorsURI  = "https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"
	refreshErrorsURI = "https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens"
)

var (
	errAuthorizationPending = oauthError{"authorization_pending", "The authorization request is still pending.", deviceErrorsURI}
	errSlowDown             = oauthError{"slow_down", "Too many requests have been made in the same timeframe.", deviceErrorsURI}
	errExpiredToken         = oauthError{"expired_token", "The device_code has expired.", deviceErrorsURI}
	errUnsupportedGrantType = oauthError{"unsupported_grant_type", "The grant type is not supported.", deviceErrorsURI}
	errClientCredentials    = oauthError{"incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", deviceErrorsURI}
	errIncorrectDeviceCode  = oauthError{"incorrect_device_code", "The device_code provided is not valid.", deviceErrorsURI}
	errAccessDenied         = oauthError{"access_denied", "The authorization request was denied.", deviceErrorsURI}
	errDeviceFlowDisabled   = oauthError{"device_flow_disabled", "Device flow has not been enabled in the app's settings.", deviceErrorsURI}
	errBadRefreshToken      = oauthError{"bad_refresh_token", "The refresh token passed is incorrect or expired.", refreshErrorsURI}
)

func (e oauthError) fields(extra ...oauthField) []oauthField {
	return append([]oauthField{{"error", e.code}, {"error_description", e.description}, {"error_uri", e.uri}}, extra...)
}

func writeOAuthError(w http.ResponseWriter, r *http.Request, status int, e oauthError) {
	writeOAuth(w, r, status, e.fields())
}

// clientCredentials reads the client ID and secret from the form or, as
// golang.org/x/oauth2 first tries, from HTTP basic auth, where RFC 6749
// §2.3.1 has them form-encoded.
func clientCredentials(r *http.Request) (id, secret string) {
	id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		if id == "" {
			id, _ = url.QueryUnescape(bid)
		}
		if secret == "" {
			secret, _ = url.QueryUnescape(bsecret)
		}
	}
	return id, secret
}

// parseForm reads an urlencoded body (at most 64 KiB) and the query, as
// GitHub takes the parameters from either.
func parseForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return err
	}
	for k, v := range r.URL.Query() {
		if _, ok := r.PostForm[k]; !ok {
			r.PostForm[k] = v
		}
	}
	return nil
}
