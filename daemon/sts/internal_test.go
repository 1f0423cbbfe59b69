package sts

import (
	"net/http"
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
