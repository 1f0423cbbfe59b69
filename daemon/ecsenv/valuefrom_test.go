package ecsenv

import "testing"

// The valueFrom forms of "Pass sensitive data to an Amazon ECS container"
// (specifying-sensitive-data-secrets.html, secrets-envvar-ssm-paramstore.html)
// and the ECS API reference's Secret type.
func TestParseValueFrom(t *testing.T) {
	const asm = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:appauthexample-AbCdEf"
	tests := []struct {
		name, valueFrom string
		region          string // the task's; "" means eu-west-1
		want            reference
	}{
		{"a parameter name is looked up in the task's region", "MyParameter", "",
			reference{store: storeSSM, region: "eu-west-1", parameter: "MyParameter", paramName: "MyParameter",
				paramARN: "arn:aws:ssm:eu-west-1:ACCOUNT:parameter/MyParameter"}},
		{"a path keeps its leading slash", "/Dev/DBServer/MySQL/db-string13", "",
			reference{store: storeSSM, region: "eu-west-1", parameter: "/Dev/DBServer/MySQL/db-string13", paramName: "/Dev/DBServer/MySQL/db-string13",
				paramARN: "arn:aws:ssm:eu-west-1:ACCOUNT:parameter/Dev/DBServer/MySQL/db-string13"}},
		{"a version selector is sent as written", "/app/db:3", "",
			reference{store: storeSSM, region: "eu-west-1", parameter: "/app/db:3", paramName: "/app/db",
				paramARN: "arn:aws:ssm:eu-west-1:ACCOUNT:parameter/app/db"}},
		{"an ARN's parameter/a/b is the name /a/b", "arn:aws:ssm:us-east-2:111122223333:parameter/a/b", "",
			reference{store: storeSSM, region: "us-east-2", parameter: "arn:aws:ssm:us-east-2:111122223333:parameter/a/b", paramName: "/a/b",
				paramARN: "arn:aws:ssm:us-east-2:111122223333:parameter/a/b"}},
		{"an ARN's parameter/x is the top-level name x", "arn:aws:ssm:us-east-2:111122223333:parameter/x", "",
			reference{store: storeSSM, region: "us-east-2", parameter: "arn:aws:ssm:us-east-2:111122223333:parameter/x", paramName: "x",
				paramARN: "arn:aws:ssm:us-east-2:111122223333:parameter/x"}},
		{"an ARN with a label", "arn:aws-cn:ssm:cn-north-1:111122223333:parameter/a/b:prod", "",
			reference{store: storeSSM, region: "cn-north-1", parameter: "arn:aws-cn:ssm:cn-north-1:111122223333:parameter/a/b:prod", paramName: "/a/b",
				paramARN: "arn:aws-cn:ssm:cn-north-1:111122223333:parameter/a/b"}},
		{"a name in China gets the aws-cn partition", "x", "cn-north-1",
			reference{store: storeSSM, region: "cn-north-1", parameter: "x", paramName: "x", paramARN: "arn:aws-cn:ssm:cn-north-1:ACCOUNT:parameter/x"}},
		{"a whole secret", asm, "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: asm}},
		{"a JSON key", asm + ":username1::", "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: asm, jsonKey: "username1"}},
		{"a version stage", asm + "::AWSPREVIOUS:", "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: asm, versionStage: "AWSPREVIOUS"}},
		{"a version ID", asm + ":::9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE", "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: asm, versionID: "9d4cb84b-ad69-40c0-a0ab-cead3EXAMPLE"}},
		{"a key and a stage", asm + ":username1:AWSPREVIOUS:", "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: asm, jsonKey: "username1", versionStage: "AWSPREVIOUS"}},
		{"a secret named by a partial ARN", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db", "",
			reference{store: storeSecretsManager, region: "eu-west-1", secretID: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			region := tt.region
			if region == "" {
				region = "eu-west-1"
			}
			got, p := parseValueFrom(tt.valueFrom, region)
			if p != nil {
				t.Fatalf("parseValueFrom(%q): %s; %s", tt.valueFrom, p.reason, p.hint)
			}
			if got != tt.want {
				t.Errorf("parseValueFrom(%q) =\n%+v\nwant\n%+v", tt.valueFrom, got, tt.want)
			}
		})
	}
}

func TestParseValueFromRefuses(t *testing.T) {
	for _, valueFrom := range []string{
		"",
		"arn:aws:ssm",
		"arn:aws:s3:::bucket/key",
		"arn:aws:ssm::111122223333:parameter/x",
		"arn:aws:ssm:EU_WEST_1:111122223333:parameter/x",
		"arn:aws:ssm:eu-west-1:111122223333:document/x",
		"arn:aws:ssm:eu-west-1:111122223333:parameter/",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:key",
		"arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf:key:stage:id:extra",
		"arn:aws:secretsmanager:eu-west-1:111122223333:rotation:db",
		"prod/db",
		"my parameter",
		"name\n",
	} {
		if ref, p := parseValueFrom(valueFrom, "eu-west-1"); p == nil || p.reason == "" || p.hint == "" {
			t.Errorf("parseValueFrom(%q) = %+v, %v; want a reason and a hint", valueFrom, ref, p)
		}
	}
	if _, p := parseValueFrom("/app/db", ""); p == nil {
		t.Error("a parameter name with no region configured was taken")
	}
	if _, p := parseValueFrom("arn:aws:ssm:us-east-1:111122223333:parameter/app/db", ""); p != nil {
		t.Errorf("an ARN needs no configured region, got %s", p.reason)
	}
}
