package ecsenv_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/credd-dev/credd/daemon/ecsenv"
)

const region = "eu-west-1"

// roleCredentials stand for the credentials credd serves.
var roleCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "ASIAEXAMPLEEXAMPLE00", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		SessionToken: "session-token", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
})

func container(env map[string]string, secrets ...string) ecstypes.ContainerDefinition {
	c := ecstypes.ContainerDefinition{Name: aws.String("app")}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range env {
			if !yield(k) {
				return
			}
		}
	}) {
		c.Environment = append(c.Environment, ecstypes.KeyValuePair{Name: aws.String(name), Value: aws.String(env[name])})
	}
	for i := 0; i+1 < len(secrets); i += 2 {
		c.Secrets = append(c.Secrets, ecstypes.Secret{Name: aws.String(secrets[i]), ValueFrom: aws.String(secrets[i+1])})
	}
	return c
}

func resolve(t *testing.T, ssmURL, smURL string, c ecstypes.ContainerDefinition) ([]ecsenv.Var, *ecsenv.Error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vars, err := ecsenv.Resolve(ctx, ecsenv.Config{Region: region, SSMEndpoint: ssmURL, SecretsManagerEndpoint: smURL,
		Credentials: roleCredentials}, c)
	if err == nil {
		return vars, nil
	}
	var re *ecsenv.Error
	if !errors.As(err, &re) {
		t.Fatalf("Resolve: %v (%T), want an *ecsenv.Error", err, err)
	}
	return vars, re
}

func secretVar(name, value, from string) ecsenv.Var {
	return ecsenv.Var{Name: name, Value: value, From: from, Secret: true}
}

func TestEnvironmentOnlyCallsNothing(t *testing.T) {
	c := container(map[string]string{"STAGE": "prod", "EMPTY": ""})
	vars, ferr := resolve(t, unused(t, "SSM"), unused(t, "Secrets Manager"), c)
	if ferr != nil {
		t.Fatal(ferr)
	}
	want := []ecsenv.Var{{Name: "EMPTY", Value: ""}, {Name: "STAGE", Value: "prod"}}
	if !slices.Equal(vars, want) {
		t.Errorf("vars = %v, want %v", vars, want)
	}
}

func TestSSMParametersByNamePathAndARN(t *testing.T) {
	fake, url := newFakeSSM(t,
		fakeParameter{Region: region, Name: "plain", Type: "String", Value: "plain-value", Version: 1},
		fakeParameter{Region: region, Name: "/app/db/password", Type: "SecureString", Value: "s3cr3t-from-ssm", Version: 1},
		fakeParameter{Region: region, Name: "/app/versioned", Type: "String", Value: "second", Version: 2},
		fakeParameter{Region: "us-east-1", Name: "/shared/token", Type: "SecureString", Value: "token-in-us-east-1", Version: 1},
	)
	arnSameRegion := "arn:aws:ssm:" + region + ":" + account + ":parameter/app/db/password"
	arnOtherRegion := "arn:aws:ssm:us-east-1:" + account + ":parameter/shared/token"
	c := container(map[string]string{"STAGE": "prod"},
		"PLAIN", "plain",
		"DB_PASSWORD", "/app/db/password",
		"DB_PASSWORD_BY_ARN", arnSameRegion,
		"SHARED_TOKEN", arnOtherRegion,
		"VERSIONED", "/app/versioned:2",
		"PLAIN_AGAIN", "plain", // read once
	)
	vars, ferr := resolve(t, url, unused(t, "Secrets Manager"), c)
	if ferr != nil {
		t.Fatal(ferr)
	}
	want := []ecsenv.Var{
		{Name: "STAGE", Value: "prod"},
		secretVar("PLAIN", "plain-value", "plain"),
		secretVar("DB_PASSWORD", "s3cr3t-from-ssm", "/app/db/password"),
		secretVar("DB_PASSWORD_BY_ARN", "s3cr3t-from-ssm", arnSameRegion),
		secretVar("SHARED_TOKEN", "token-in-us-east-1", arnOtherRegion),
		secretVar("VERSIONED", "second", "/app/versioned:2"),
		secretVar("PLAIN_AGAIN", "plain-value", "plain"),
	}
	if !slices.Equal(vars, want) {
		t.Errorf("vars =\n%#v\nwant\n%#v", vars, want)
	}

	byRegion := map[string][]string{}
	for _, c := range fake.Calls() {
		if c.Target != "AmazonSSM.GetParameters" || c.ContentType != "application/x-amz-json-1.1" || c.Service != "ssm" {
			t.Errorf("call: target %q, content type %q, signed for %q; want AmazonSSM.GetParameters, application/x-amz-json-1.1, ssm",
				c.Target, c.ContentType, c.Service)
		}
		if c.Body["WithDecryption"] != true {
			t.Errorf("WithDecryption = %v, want true (SecureStrings are decrypted)", c.Body["WithDecryption"])
		}
		for _, n := range c.Body["Names"].([]any) {
			byRegion[c.Region] = append(byRegion[c.Region], n.(string))
		}
	}
	wantNames := map[string][]string{
		region:      {"plain", "/app/db/password", arnSameRegion, "/app/versioned:2"},
		"us-east-1": {arnOtherRegion}, // a client signed for the ARN's region
	}
	for r, names := range wantNames {
		if !slices.Equal(byRegion[r], names) {
			t.Errorf("names asked in %s = %q, want %q", r, byRegion[r], names)
		}
	}
	if len(byRegion) != len(wantNames) {
		t.Errorf("regions called: %v, want %v", byRegion, wantNames)
	}
}

func TestSSMBatchesOfTen(t *testing.T) {
	var params []fakeParameter
	var secrets []string
	for i := range 23 {
		name := fmt.Sprintf("/app/p%02d", i)
		params = append(params, fakeParameter{Region: region, Name: name, Type: "String", Value: "v" + name, Version: 1})
		secrets = append(secrets, fmt.Sprintf("P%02d", i), name)
	}
	fake, url := newFakeSSM(t, params...)
	vars, ferr := resolve(t, url, unused(t, "Secrets Manager"), container(nil, secrets...))
	if ferr != nil {
		t.Fatal(ferr)
	}
	if len(vars) != 23 || vars[22].Value != "v/app/p22" {
		t.Errorf("vars = %v", vars)
	}
	var sizes []int
	for _, c := range fake.Calls() {
		sizes = append(sizes, len(c.Body["Names"].([]any)))
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{3, 10, 10}) {
		t.Errorf("GetParameters calls with %v names, want 10, 10 and 3", sizes)
	}
}

func TestSecretsManager(t *testing.T) {
	const base = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:"
	dbARN := base + "prod/db-AbCdEf"
	tokenARN := base + "api-token-Gh1jK2"
	fake, url := newFakeSecretsManager(t,
		fakeSecret{ARN: dbARN, Versions: []fakeVersion{
			{ID: "871d9eca-18aa-46a9-8785-981ddEXAMPLE", Stages: []string{"AWSCURRENT"},
				String: aws.String(`{"username":"app","password":"pa55-current","port":5432,"tls":true}`)},
			{ID: "9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE", Stages: []string{"AWSPREVIOUS"},
				String: aws.String(`{"username":"app","password":"pa55-previous"}`)},
		}},
		fakeSecret{ARN: tokenARN, Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"}, String: aws.String("tok-whole-string")}}},
	)
	c := container(nil,
		"API_TOKEN", tokenARN,
		"DB_JSON", dbARN,
		"DB_USER", dbARN+":username::",
		"DB_PASSWORD", dbARN+":password::",
		"DB_PORT", dbARN+":port::",
		"DB_TLS", dbARN+":tls::",
		"DB_PASSWORD_PREVIOUS", dbARN+":password:AWSPREVIOUS:",
		"DB_PASSWORD_BY_ID", dbARN+":password::9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE",
	)
	vars, ferr := resolve(t, unused(t, "SSM"), url, c)
	if ferr != nil {
		t.Fatal(ferr)
	}
	want := []ecsenv.Var{
		secretVar("API_TOKEN", "tok-whole-string", tokenARN),
		secretVar("DB_JSON", `{"username":"app","password":"pa55-current","port":5432,"tls":true}`, dbARN),
		secretVar("DB_USER", "app", dbARN+":username::"),
		secretVar("DB_PASSWORD", "pa55-current", dbARN+":password::"),
		// Not strings: what the agent's fmt.Sprintf("%v") makes of them.
		secretVar("DB_PORT", "5432", dbARN+":port::"),
		secretVar("DB_TLS", "true", dbARN+":tls::"),
		secretVar("DB_PASSWORD_PREVIOUS", "pa55-previous", dbARN+":password:AWSPREVIOUS:"),
		secretVar("DB_PASSWORD_BY_ID", "pa55-previous", dbARN+":password::9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE"),
	}
	if !slices.Equal(vars, want) {
		t.Errorf("vars =\n%#v\nwant\n%#v", vars, want)
	}

	type asked struct{ SecretID, Stage, VersionID, Region string }
	var got []asked
	for _, c := range fake.Calls() {
		if c.Target != "secretsmanager.GetSecretValue" || c.Service != "secretsmanager" {
			t.Errorf("call: target %q signed for %q, want secretsmanager.GetSecretValue signed for secretsmanager", c.Target, c.Service)
		}
		a := asked{Region: c.Region}
		a.SecretID, _ = c.Body["SecretId"].(string)
		a.Stage, _ = c.Body["VersionStage"].(string)
		a.VersionID, _ = c.Body["VersionId"].(string)
		got = append(got, a)
	}
	slices.SortFunc(got, func(a, b asked) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	// The SecretId is the ARN without :json-key:version-stage:version-id;
	// each distinct reference is read once.
	wantAsked := []asked{
		{dbARN, "", "", region}, {dbARN, "", "", region}, {dbARN, "", "", region}, {dbARN, "", "", region}, {dbARN, "", "", region},
		{dbARN, "", "9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE", region},
		{dbARN, "AWSPREVIOUS", "", region},
		{tokenARN, "", "", region},
	}
	slices.SortFunc(wantAsked, func(a, b asked) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	if !slices.Equal(got, wantAsked) {
		t.Errorf("GetSecretValue calls =\n%v\nwant\n%v", got, wantAsked)
	}
}

func TestSecretInAnotherRegionIsAskedThere(t *testing.T) {
	arn := "arn:aws:secretsmanager:ap-southeast-2:" + account + ":secret:remote-XyZ123"
	fake, url := newFakeSecretsManager(t, fakeSecret{ARN: arn, Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"}, String: aws.String("far")}}})
	vars, ferr := resolve(t, unused(t, "SSM"), url, container(nil, "REMOTE", arn))
	if ferr != nil {
		t.Fatal(ferr)
	}
	if len(vars) != 1 || vars[0].Value != "far" {
		t.Errorf("vars = %v", vars)
	}
	if calls := fake.Calls(); len(calls) != 1 || calls[0].Region != "ap-southeast-2" {
		t.Errorf("calls = %+v, want one signed for ap-southeast-2", calls)
	}
}

// secretValues are every secret value the fakes below hold: none may
// appear in an error.
var secretValues = []string{"s3cr3t-from-ssm", "kms-guarded-value", "denied-value", "not-json-secret-value",
	"pa55-current", "hunter2-json", "binary-secret-bytes", "broken-key-value", "plain-value"}

func TestFailures(t *testing.T) {
	const base = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:"
	_, ssmURL := newFakeSSM(t,
		fakeParameter{Region: region, Name: "/app/ok", Type: "SecureString", Value: "s3cr3t-from-ssm", Version: 1},
		fakeParameter{Region: region, Name: "/app/kms", Type: "SecureString", Value: "kms-guarded-value", Version: 1, KMSDenied: true},
		fakeParameter{Region: region, Name: "/app/denied", Type: "String", Value: "denied-value", Version: 1, Denied: true},
	)
	_, smURL := newFakeSecretsManager(t,
		fakeSecret{ARN: base + "json-AbCdEf", Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"},
			String: aws.String(`{"username":"app","password":"hunter2-json"}`)}}},
		fakeSecret{ARN: base + "text-AbCdEf", Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"}, String: aws.String("not-json-secret-value")}}},
		fakeSecret{ARN: base + "binary-AbCdEf", Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"}, Binary: []byte("binary-secret-bytes")}}},
		fakeSecret{ARN: base + "denied-AbCdEf", Denied: true},
		fakeSecret{ARN: base + "cmk-AbCdEf", KMSDenied: true},
		fakeSecret{ARN: base + "broken-AbCdEf", KMSBroken: true, Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"}, String: aws.String("broken-key-value")}}},
	)

	tests := []struct {
		name, valueFrom string
		// wantReason and wantHint are fragments the failure must hold.
		wantReason, wantHint []string
	}{
		{"a missing parameter says which and where", "/app/missing",
			[]string{"/app/missing", region, "not found"}, []string{"region", "full ARN"}},
		{"a missing parameter version", "/app/ok:7",
			[]string{"/app/ok", "not found"}, []string{":version"}},
		{"a parameter the role may not read names ssm:GetParameters", "/app/denied",
			[]string{"/app/denied", "AccessDeniedException", "not authorized"}, []string{"ssm:GetParameters on arn:aws:ssm:" + region + ":" + account + ":parameter/app/denied"}},
		{"a SecureString the role may not decrypt names kms:Decrypt", "/app/kms",
			[]string{"/app/kms", "KMS key", "AWSKMS"}, []string{"kms:Decrypt"}},
		{"a missing secret says which and where", base + "gone-AbCdEf",
			[]string{base + "gone-AbCdEf", region, "not found", "ResourceNotFoundException"}, []string{"6 characters"}},
		{"a missing version stage", base + "json-AbCdEf::AWSPENDING:",
			[]string{"version stage AWSPENDING", "staging label"}, []string{"version stage"}},
		{"a secret the role may not read names secretsmanager:GetSecretValue", base + "denied-AbCdEf",
			[]string{"denied-AbCdEf", "not authorized"}, []string{"secretsmanager:GetSecretValue on " + base + "denied-AbCdEf"}},
		{"a secret whose key the role may not use names kms:Decrypt", base + "cmk-AbCdEf",
			[]string{"cmk-AbCdEf", "Access to KMS is not allowed"}, []string{"kms:Decrypt"}},
		{"a disabled key is a DecryptionFailure", base + "broken-AbCdEf",
			[]string{"DecryptionFailure", "cannot decrypt"}, []string{"enabled", "kms:Decrypt"}},
		{"a JSON key the secret lacks says so", base + "json-AbCdEf:passwd::",
			[]string{`no top-level JSON key "passwd"`, "has 2 keys"}, []string{"json-key"}},
		{"a JSON key of a secret that is not JSON", base + "text-AbCdEf:password::",
			[]string{"not a JSON object", `"password"`}, []string{"json-key"}},
		{"a binary secret is not supported, as in ECS", base + "binary-AbCdEf",
			[]string{"binary", "SecretBinary", "does not support"}, []string{"SecretString"}},
		{"an ARN of another service", "arn:aws:s3:::bucket/key",
			[]string{`service "s3"`}, []string{"arn:aws:secretsmanager:"}},
		{"a secret name without its ARN", "prod/db",
			[]string{"neither an SSM parameter name", "nor an ARN"}, []string{"/prod/db", "full ARN"}},
		{"a Secrets Manager ARN with two extra fields", base + "json-AbCdEf:password:AWSCURRENT",
			[]string{"2 fields", "exactly three"}, []string{"password::"}},
		{"an ARN without a region", "arn:aws:ssm::" + account + ":parameter/x",
			[]string{"no region"}, []string{"region"}},
		{"an empty valueFrom", "", []string{"empty"}, []string{"arn:aws:ssm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars, ferr := resolve(t, ssmURL, smURL, container(map[string]string{"STAGE": "prod"}, "VAR", tt.valueFrom))
			if ferr == nil || len(ferr.Failures) != 1 {
				t.Fatalf("error = %v, want one failure", ferr)
			}
			f := ferr.Failures[0]
			t.Log(f)
			if f.Name != "VAR" || f.ValueFrom != tt.valueFrom {
				t.Errorf("failure names %q from %q, want VAR from %q", f.Name, f.ValueFrom, tt.valueFrom)
			}
			for _, w := range tt.wantReason {
				if !strings.Contains(f.Reason, w) {
					t.Errorf("reason %q lacks %q", f.Reason, w)
				}
			}
			for _, w := range tt.wantHint {
				if !strings.Contains(f.Hint, w) {
					t.Errorf("hint %q lacks %q", f.Hint, w)
				}
			}
			if want := []ecsenv.Var{{Name: "STAGE", Value: "prod"}}; !slices.Equal(vars, want) {
				t.Errorf("vars = %v, want only the environment", vars)
			}
			assertNoSecret(t, ferr.Error())
		})
	}
}

func TestEveryFailureIsListedAndTheRestResolved(t *testing.T) {
	const base = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:"
	fakeParams, ssmURL := newFakeSSM(t,
		fakeParameter{Region: region, Name: "/app/a", Type: "String", Value: "a-value", Version: 1},
		fakeParameter{Region: region, Name: "/app/denied", Type: "String", Value: "denied-value", Version: 1, Denied: true},
		fakeParameter{Region: region, Name: "/app/c", Type: "SecureString", Value: "s3cr3t-from-ssm", Version: 1},
	)
	_, smURL := newFakeSecretsManager(t,
		fakeSecret{ARN: base + "json-AbCdEf", Versions: []fakeVersion{{ID: "v1", Stages: []string{"AWSCURRENT"},
			String: aws.String(`{"password":"pa55-current"}`)}}},
	)
	c := container(map[string]string{"SHARED": "from-environment"},
		"A", "/app/a",
		"DENIED", "/app/denied",
		"C", "/app/c",
		"MISSING", "/app/missing",
		"PASSWORD", base+"json-AbCdEf:password::",
		"NO_KEY", base+"json-AbCdEf:user::",
		"SHARED", "/app/a",
		"BAD", "arn:aws:sqs:"+region+":"+account+":queue",
	)
	c.EnvironmentFiles = []ecstypes.EnvironmentFile{{Type: ecstypes.EnvironmentFileTypeS3, Value: aws.String("arn:aws:s3:::bucket/app.env")}}

	vars, ferr := resolve(t, ssmURL, smURL, c)
	want := []ecsenv.Var{
		{Name: "SHARED", Value: "from-environment"},
		secretVar("A", "a-value", "/app/a"),
		secretVar("C", "s3cr3t-from-ssm", "/app/c"),
		secretVar("PASSWORD", "pa55-current", base+"json-AbCdEf:password::"),
	}
	if !slices.Equal(vars, want) {
		t.Errorf("vars =\n%v\nwant\n%v", vars, want)
	}
	if ferr == nil {
		t.Fatal("no error, want the failures listed")
	}
	var names []string
	for _, f := range ferr.Failures {
		names = append(names, f.Name)
	}
	// The environment file, then the secrets in the definition's order.
	wantNames := []string{"environmentFiles[0]", "DENIED", "MISSING", "NO_KEY", "SHARED", "BAD"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("failures for %q, want %q", names, wantNames)
	}
	msg := ferr.Error()
	t.Log(msg)
	if !strings.HasPrefix(msg, "6 variables of the container could not be resolved:") {
		t.Errorf("error starts %q", strings.SplitN(msg, "\n", 2)[0])
	}
	for _, w := range []string{"environmentFiles are not supported yet", "arn:aws:s3:::bucket/app.env", "ssm:GetParameters",
		"/app/missing", `"user"`, "ECS refuses", `service "sqs"`} {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if strings.Count(msg, "\n") != 6 {
		t.Errorf("error has %d lines, want a heading and one per failure:\n%s", strings.Count(msg, "\n")+1, msg)
	}
	assertNoSecret(t, msg)
	assertNoSecret(t, fmt.Sprintf("%v %+v %#v", vars, vars, vars))

	// IAM refused the batch of three for one of them: asked again one by
	// one, only that one fails.
	var batches [][]any
	for _, c := range fakeParams.Calls() {
		batches = append(batches, c.Body["Names"].([]any))
	}
	if len(batches) != 5 || len(batches[0]) != 4 {
		t.Errorf("GetParameters calls %v, want one of 4 then one per name", batches)
	}
}

func TestSecretNamedLikeAnEnvironmentVariableIsNotRead(t *testing.T) {
	c := container(map[string]string{"DB_PASSWORD": "plain"}, "DB_PASSWORD", "/app/db/password")
	vars, ferr := resolve(t, unused(t, "SSM"), unused(t, "Secrets Manager"), c)
	if ferr == nil || len(ferr.Failures) != 1 || !strings.Contains(ferr.Failures[0].Reason, "must be unique") {
		t.Fatalf("error = %v, want the name clash", ferr)
	}
	if want := []ecsenv.Var{{Name: "DB_PASSWORD", Value: "plain"}}; !slices.Equal(vars, want) {
		t.Errorf("vars = %v, want the environment's", vars)
	}
}

func TestRefusesAConfigThatCannotWork(t *testing.T) {
	c := container(nil, "X", "/x")
	for name, cfg := range map[string]ecsenv.Config{
		"no credentials":      {Region: region},
		"an endpoint path":    {Region: region, Credentials: roleCredentials, SSMEndpoint: "127.0.0.1:4566"},
		"an endpoint query":   {Region: region, Credentials: roleCredentials, SecretsManagerEndpoint: "http://127.0.0.1:1/?x=1"},
		"a region with space": {Region: "eu west 1", Credentials: roleCredentials},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ecsenv.Resolve(context.Background(), cfg, c)
			var re *ecsenv.Error
			if err == nil || errors.As(err, &re) {
				t.Errorf("error = %v, want a configuration error", err)
			}
		})
	}
}

func TestNoCredentialsSaysSo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	noCredentials := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("the default role has no credentials yet")
	})
	_, err := ecsenv.Resolve(ctx, ecsenv.Config{Region: region, SSMEndpoint: unused(t, "SSM"),
		SecretsManagerEndpoint: unused(t, "Secrets Manager"), Credentials: noCredentials},
		container(nil, "A", "/app/a", "B", "arn:aws:secretsmanager:"+region+":"+account+":secret:b-AbCdEf"))
	var re *ecsenv.Error
	if !errors.As(err, &re) || len(re.Failures) != 2 {
		t.Fatalf("error = %v, want both secrets failed", err)
	}
	for _, f := range re.Failures {
		if !strings.Contains(f.Reason, "credentials are not available (") || !strings.Contains(f.Reason, "no credentials yet") ||
			!strings.Contains(f.Hint, "credd status") {
			t.Errorf("failure %s, want it to blame the missing credentials", f)
		}
	}
}

func TestVarHidesASecretWhenPrinted(t *testing.T) {
	v := secretVar("DB_PASSWORD", "hunter2-json", "/app/db")
	for _, s := range []string{fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s", v, v, v, v)} {
		if strings.Contains(s, "hunter2") || !strings.Contains(s, "DB_PASSWORD") {
			t.Errorf("printed %q", s)
		}
	}
	if s := fmt.Sprint(ecsenv.Var{Name: "STAGE", Value: "prod"}); s != "STAGE=prod" {
		t.Errorf("environment variable printed %q", s)
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, v := range secretValues {
		if strings.Contains(s, v) {
			t.Errorf("%q holds the secret value %q", s, v)
		}
	}
}
