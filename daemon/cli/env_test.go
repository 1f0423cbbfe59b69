package cli

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestExportLinesSurviveAPOSIXShell(t *testing.T) {
	tg := target{
		URL:       "http://127.0.0.1:9911/v1/credentials",
		Token:     "abc_-XYZ",
		TokenFile: "/tmp/it's here/token",
		STSURL:    "http://127.0.0.1:4566",
	}
	script := "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/x\n" + exportLines(tg) +
		`printf '%s|%s|%s|%s|%s' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" "$AWS_ENDPOINT_URL_STS" "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI-unset}"`
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{tg.URL, tg.Token, tg.TokenFile, tg.STSURL, "unset"}, "|")
	if string(out) != want {
		t.Errorf("shell saw %q, want %q", out, want)
	}
}

func TestExportLinesOmitTheSTSEndpointOutsideTheSandbox(t *testing.T) {
	out := exportLines(target{URL: "u", Token: "t", TokenFile: "f"})
	if strings.Contains(out, "AWS_ENDPOINT_URL_STS") {
		t.Errorf("export lines point STS somewhere outside the sandbox:\n%s", out)
	}
}

func TestClientEnvironReplacesAndRemovesShadowingVariables(t *testing.T) {
	environ := []string{
		"PATH=/bin",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=stale",
		"HOME=/home/u",
	}
	got := clientEnviron(environ, target{URL: "http://127.0.0.1:1/v1/credentials", Token: "fresh", TokenFile: "/s/token"})
	want := []string{
		"PATH=/bin",
		"HOME=/home/u",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/v1/credentials",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=fresh",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/s/token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("environ =\n%q\nwant\n%q", got, want)
	}
}
