package secret_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/credd-dev/credd/daemon/bridge/secret"
	"github.com/credd-dev/credd/daemon/sandbox/kmsapi"
)

const theSecret = "client-secret-0123456789abcdef"

var testCredentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-test", "")

// ssmStandIn answers AmazonSSM.GetParameter in the JSON 1.1 protocol, as
// aws-sdk-go-v2's service/ssm request_snapshot/GetParameter.request.snap
// and response_snapshot/GetParameter.response.snap show it; an unknown
// name is ParameterNotFound (API_GetParameter.html, Errors).
func ssmStandIn(t *testing.T, params map[string]string) *ssm.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var in struct {
			Name           string
			WithDecryption bool
		}
		if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" || r.Header.Get("Authorization") == "" ||
			r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ValidationException","message":"unexpected request"}`))
			return
		}
		value, ok := params[in.Name]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ParameterNotFound"}`))
			return
		}
		if !in.WithDecryption {
			value = "AQICAHh-still-encrypted"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"Name": in.Name, "Type": "SecureString", "Value": value, "Version": 1,
			"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter" + in.Name,
		}})
	}))
	t.Cleanup(srv.Close)
	return ssm.New(ssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: testCredentials,
		HTTPClient: srv.Client(), Retryer: aws.NopRetryer{}})
}

func kmsStandIn(t *testing.T) (*kmsapi.Server, *kms.Client) {
	t.Helper()
	s := kmsapi.New()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, kms.New(kms.Options{Region: kmsapi.Region, BaseEndpoint: aws.String(srv.URL), Credentials: testCredentials,
		HTTPClient: srv.Client(), Retryer: aws.NopRetryer{}})
}

// noSecret fails the test if err holds the secret.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), theSecret) {
		t.Errorf("error %q holds the secret", err)
	}
}

func TestSSMParameters(t *testing.T) {
	c := secret.Clients{SSM: ssmStandIn(t, map[string]string{"/credd/bridge/client-secret": theSecret})}
	ctx := context.Background()
	got, err := secret.Load(ctx, "ssm:/credd/bridge/client-secret", c)
	if err != nil || got != theSecret {
		t.Fatalf("Load = %q, %v", got, err)
	}

	t.Run("a missing parameter names the spec", func(t *testing.T) {
		_, err := secret.Load(ctx, "ssm:/credd/nope", c)
		var nf *ssmtypes.ParameterNotFound
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), "ssm:/credd/nope") {
			t.Errorf("err = %v", err)
		}
		noSecret(t, err)
	})
	t.Run("without an SSM client", func(t *testing.T) {
		_, err := secret.Load(ctx, "ssm:/credd/bridge/client-secret", secret.Clients{})
		if err == nil || !strings.Contains(err.Error(), "no SSM client") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestKMSCiphertexts(t *testing.T) {
	s, client := kmsStandIn(t)
	s.CreateSymmetricKey("credd-bridge")
	ctx := context.Background()
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/credd-bridge"), Plaintext: []byte(theSecret)})
	if err != nil {
		t.Fatal(err)
	}
	spec := "kms:" + base64.StdEncoding.EncodeToString(enc.CiphertextBlob)
	got, err := secret.Load(ctx, spec, secret.Clients{KMS: client})
	if err != nil || got != theSecret {
		t.Fatalf("Load = %q, %v", got, err)
	}

	t.Run("a damaged ciphertext fails", func(t *testing.T) {
		blob := append([]byte{}, enc.CiphertextBlob...)
		blob[len(blob)-1] ^= 1
		_, err := secret.Load(ctx, "kms:"+base64.StdEncoding.EncodeToString(blob), secret.Clients{KMS: client})
		if err == nil || !strings.Contains(err.Error(), "InvalidCiphertextException") || !strings.Contains(err.Error(), "kms:Decrypt") {
			t.Errorf("err = %v", err)
		}
		noSecret(t, err)
	})
	t.Run("text that is not base64 fails before calling KMS", func(t *testing.T) {
		before := s.Calls("Decrypt")
		_, err := secret.Load(ctx, "kms:not base64!", secret.Clients{KMS: client})
		if err == nil || !strings.Contains(err.Error(), "not base64") {
			t.Errorf("err = %v", err)
		}
		if s.Calls("Decrypt") != before {
			t.Error("KMS was called")
		}
	})
}

func TestFiles(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are Unix")
	}
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	ctx := context.Background()

	tests := []struct {
		name, content string
		mode          os.FileMode
		want          string
		wantErr       string
	}{
		{"mode 600 is read, one newline trimmed", theSecret + "\n", 0o600, theSecret, ""},
		{"only one newline is trimmed", theSecret + "\n\n", 0o600, theSecret + "\n", ""},
		{"a CRLF ending is trimmed", theSecret + "\r\n", 0o600, theSecret, ""},
		{"mode 400 is read", theSecret, 0o400, theSecret, ""},
		{"group-readable is refused", theSecret, 0o640, "", "chmod 600 "},
		{"world-readable is refused", theSecret, 0o604, "", "chmod 600 "},
		{"an empty file is refused", "\n", 0o600, "", "it is empty"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(strings.Repeat("f", i+1), tt.content, tt.mode)
			got, err := secret.Load(ctx, "file:"+p, secret.Clients{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
					t.Errorf("err = %v, want one with %q and the path", err, tt.wantErr)
				}
				noSecret(t, err)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Load = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("a missing file names the spec", func(t *testing.T) {
		_, err := secret.Load(ctx, "file:"+filepath.Join(dir, "missing"), secret.Clients{})
		if err == nil || !strings.Contains(err.Error(), "file:"+filepath.Join(dir, "missing")) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("a directory is refused", func(t *testing.T) {
		_, err := secret.Load(ctx, "file:"+dir, secret.Clients{})
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestSpecsWithoutAKnownSchemeAreNotRepeated(t *testing.T) {
	for _, spec := range []string{theSecret, "vault:" + theSecret, ""} {
		_, err := secret.Load(context.Background(), spec, secret.Clients{})
		if err == nil || !strings.Contains(err.Error(), "ssm:") {
			t.Errorf("Load(%q) err = %v", spec, err)
		}
		noSecret(t, err)
	}
}

func TestDefaultClientsNeedNoNetwork(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	c, err := secret.DefaultClients(context.Background(), "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if c.SSM == nil || c.KMS == nil {
		t.Errorf("clients %+v", c)
	}
}
