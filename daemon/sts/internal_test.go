package sts

import (
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestNewBuildsAnAnonymousSDKClientWithoutRetries(t *testing.T) {
	c, err := New(Config{RoleARN: "arn:aws:iam::123456789012:role/dev", SessionName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	o := c.api.Options()
	// The SDK turns AnonymousCredentials into nil (no signing) in New.
	if o.Credentials != nil && !aws.IsCredentialsProvider(o.Credentials, aws.AnonymousCredentials{}) {
		t.Errorf("Credentials = %T, want none or aws.AnonymousCredentials", o.Credentials)
	}
	if n := o.Retryer.MaxAttempts(); n != 1 {
		t.Errorf("Retryer allows %d attempts, want 1", n)
	}
	if o.AppID != "credd" {
		t.Errorf("AppID = %q, want credd", o.AppID)
	}
	if o.Region != DefaultRegion || o.BaseEndpoint != nil {
		t.Errorf("Region = %q, BaseEndpoint = %v; want %s and the SDK's regional endpoint", o.Region, o.BaseEndpoint, DefaultRegion)
	}
	if c.durationSec != 3600 || c.attemptTimeout != 10*time.Second {
		t.Errorf("duration = %ds, attempt timeout = %s; want 3600s and 10s", c.durationSec, c.attemptTimeout)
	}

	hc, ok := o.HTTPClient.(*http.Client)
	if !ok {
		t.Fatalf("HTTPClient = %T, want *http.Client", o.HTTPClient)
	}
	tr, ok := hc.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("Transport = %T, want *http.Transport", hc.Transport)
	}
	if tr.Proxy == nil || tr.DialContext == nil || tr.TLSHandshakeTimeout != 5*time.Second || tr.ResponseHeaderTimeout != 10*time.Second {
		t.Errorf("transport lacks the proxy, dial, TLS or response-header settings: %+v", tr)
	}
}

func TestNewUsesTheGivenHTTPClientAndEndpoint(t *testing.T) {
	hc := &http.Client{}
	c, err := New(Config{RoleARN: "arn:aws:iam::123456789012:role/dev", SessionName: "alice",
		HTTPClient: hc, Endpoint: "http://127.0.0.1:4566", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	o := c.api.Options()
	if o.HTTPClient != hc {
		t.Errorf("HTTPClient was not used as given")
	}
	if aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:4566" || o.Region != "eu-west-1" {
		t.Errorf("BaseEndpoint = %q, Region = %q", aws.ToString(o.BaseEndpoint), o.Region)
	}
}

// The default credential chain must be unreachable from this package: inside
// the container it points at credd itself.
func TestPackageDoesNotLinkTheDefaultCredentialChain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	// The credentials root package (static providers) is fine; the
	// providers that make up the chain are not.
	forbidden := []string{
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds",
		"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds",
		"github.com/aws/aws-sdk-go-v2/credentials/processcreds",
		"github.com/aws/aws-sdk-go-v2/credentials/ssocreds",
		"github.com/aws/aws-sdk-go-v2/credentials/stscreds",
		"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("daemon/sts imports %s", dep)
			}
		}
	}
}
