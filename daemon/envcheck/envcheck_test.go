package envcheck_test

import (
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/credd-dev/credd/daemon/envcheck"
)

const (
	daemonURL = "http://127.0.0.1:9911/v1/credentials"
	token     = "tok-abcdefghijklmnopqrstuvwxyzABCDEFGHIJ012"
	tokenFile = "/run/credd/token"
)

// good is the environment `credd env` sets up.
func good() map[string]string {
	return map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     daemonURL,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":      token,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile,
	}
}

func check(env map[string]string, files map[string]string) envcheck.Report {
	return envcheck.Check(envcheck.Input{
		Getenv: func(k string) string { return env[k] },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, fs.ErrNotExist
		},
		Home:      "/home/dev",
		Endpoints: []string{daemonURL, "http://127.0.0.1:9911/v1/credentials/prod"},
		Token:     token,
		TokenFile: tokenFile,
	})
}

func codes(r envcheck.Report, sev envcheck.Severity) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == sev {
			out = append(out, f.Code)
		}
	}
	slices.Sort(out)
	return out
}

func TestEnvironment(t *testing.T) {
	tokenFiles := map[string]string{tokenFile: token}
	tests := []struct {
		name     string
		env      func(map[string]string)
		files    map[string]string
		points   bool
		shadowed bool
		problems []string
		warnings []string
	}{
		{name: "credd env's output points at the daemon", points: true},
		{name: "nothing set", env: func(e map[string]string) { clear(e) },
			problems: []string{"full-uri-unset", "token-unset"}},
		{name: "another port", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:9999/v1/credentials"
		},
			problems: []string{"full-uri-other"}},
		{name: "a named role's endpoint", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.1:9911/v1/credentials/prod"
		}, points: true},
		{name: "localhost works but is fragile", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://localhost:9911/v1/credentials"
		},
			points: true, warnings: []string{"full-uri-localhost"}},
		{name: "127.0.0.2 is refused by old SDKs", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://127.0.0.2:9911/v1/credentials"
		},
			problems: []string{"full-uri-other"}, warnings: []string{"full-uri-old-sdks"}},
		{name: "[::1] is refused by old SDKs", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://[::1]:9911/v1/credentials"
		},
			problems: []string{"full-uri-other"}, warnings: []string{"full-uri-old-sdks"}},
		{name: "a non-loopback host over http is refused", env: func(e map[string]string) {
			e["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://192.0.2.2:9911/v1/credentials"
		},
			problems: []string{"full-uri-host", "full-uri-other"}},
		{name: "a stale inline token", env: func(e map[string]string) { e["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "old-token" },
			problems: []string{"token-mismatch", "token-vars-differ"}},
		{name: "a token file with a newline", files: map[string]string{tokenFile: token + "\n"},
			problems: []string{"token-file-newline"}},
		{name: "a token file of another daemon", files: map[string]string{tokenFile: "other"},
			problems: []string{"token-file-mismatch", "token-vars-differ"}},
		{name: "a missing token file", files: map[string]string{},
			problems: []string{"token-file-missing"}},
		{name: "only the file: old clients send no token", env: func(e map[string]string) { delete(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN") },
			points: true, warnings: []string{"token-inline-unset"}},
		{name: "only the variable", env: func(e map[string]string) { delete(e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") },
			points: true, warnings: []string{"token-file-unset"}},
		{name: "AWS_ACCESS_KEY_ID shadows", env: func(e map[string]string) { e["AWS_ACCESS_KEY_ID"] = "AKIAEXAMPLE" },
			points: true, shadowed: true, problems: []string{"shadow-env-keys"}},
		{name: "web identity variables shadow", env: func(e map[string]string) {
			e["AWS_WEB_IDENTITY_TOKEN_FILE"], e["AWS_ROLE_ARN"] = "/tmp/t", "arn:aws:iam::1:role/x"
		}, points: true, shadowed: true, problems: []string{"shadow-web-identity-env"}},
		{name: "a lone token file variable", env: func(e map[string]string) { e["AWS_WEB_IDENTITY_TOKEN_FILE"] = "/tmp/t" },
			points: true, warnings: []string{"web-identity-env-partial"}},
		{name: "RELATIVE_URI shadows", env: func(e map[string]string) { e["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "/v2/credentials/x" },
			points: true, shadowed: true, problems: []string{"shadow-relative-uri"}},
		{name: "static keys in the default profile", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/credentials": "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-keys"}},
		{name: "static keys in another profile do not matter", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/credentials": "[other]\naws_access_key_id = AKIAEXAMPLE\n"}, points: true},
		{name: "AWS_PROFILE selects a profile with keys", env: func(e map[string]string) { e["AWS_PROFILE"] = "dev" },
			files:  map[string]string{tokenFile: token, "/home/dev/.aws/config": "[default]\nregion=us-east-1\n[profile dev]\nAWS_ACCESS_KEY_ID=AKIA\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-keys"}},
		{name: "AWS_PROFILE names a missing profile", env: func(e map[string]string) { e["AWS_PROFILE"] = "nope" },
			points: true, problems: []string{"profile-missing"}},
		{name: "AWS_SHARED_CREDENTIALS_FILE is honoured", env: func(e map[string]string) { e["AWS_SHARED_CREDENTIALS_FILE"] = "/etc/aws-creds" },
			files:  map[string]string{tokenFile: token, "/etc/aws-creds": "[ default ]\naws_access_key_id = AKIA\n", "/home/dev/.aws/credentials": ""},
			points: true, shadowed: true, problems: []string{"shadow-profile-keys"}},
		{name: "AWS_CONFIG_FILE is honoured", env: func(e map[string]string) { e["AWS_CONFIG_FILE"] = "/etc/aws-config" },
			files:  map[string]string{tokenFile: token, "/etc/aws-config": "[default]\ncredential_process = /usr/bin/vault-creds\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-process"}},
		{name: "credential_process calling credd is fine", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/config": "[default]\ncredential_process = credd credential-process\n"}, points: true},
		{name: "a web identity profile shadows", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/config": "[default]\nrole_arn = arn:aws:iam::1:role/x\nweb_identity_token_file = /tmp/t\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-web-identity"}},
		{name: "an assume-role profile on credd's credentials is fine", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/config": "[default]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = EcsContainer\n"}, points: true},
		{name: "an assume-role profile with a source profile shadows", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/config": "[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-assume-role"}},
		{name: "an SSO profile shadows", files: map[string]string{tokenFile: token,
			"/home/dev/.aws/config": "[default]\nsso_session = corp\n"},
			points: true, shadowed: true, problems: []string{"shadow-profile-sso"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := good()
			if tt.env != nil {
				tt.env(env)
			}
			files := tt.files
			if files == nil {
				files = tokenFiles
			}
			r := check(env, files)
			if r.PointsAtDaemon != tt.points || r.Shadowed != tt.shadowed {
				t.Errorf("points %v shadowed %v, want %v %v: %+v", r.PointsAtDaemon, r.Shadowed, tt.points, tt.shadowed, r.Findings)
			}
			if got := codes(r, envcheck.Problem); !reflect.DeepEqual(got, sorted(tt.problems)) {
				t.Errorf("problems %v, want %v", got, tt.problems)
			}
			if got := codes(r, envcheck.Warn); !reflect.DeepEqual(got, sorted(tt.warnings)) {
				t.Errorf("warnings %v, want %v", got, tt.warnings)
			}
			for _, f := range r.Findings {
				if strings.Contains(f.Message+f.Fix, token) || strings.Contains(f.Message+f.Fix, "AKIA") {
					t.Errorf("finding %q reveals a secret", f.Message)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	if s == nil {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestParseINI(t *testing.T) {
	in := "# comment\n; another\nstray = 1\n[default]\nregion = us-east-1 # inline\ns3 =\n  max_concurrent_requests = 20\n" +
		"[ profile  dev ]\r\nAWS_Access_Key_ID=AKIA;x\r\nurl = http://x/#frag\n[broken\nkey = lost\n"
	got := envcheck.ParseINI([]byte(in))
	want := map[string]map[string]string{
		"default":     {"region": "us-east-1", "s3": ""},
		"profile dev": {"aws_access_key_id": "AKIA;x", "url": "http://x/#frag"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseINI = %v, want %v", got, want)
	}
}
