package ecstask

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	long := strings.Repeat("a", 255)
	for _, tc := range []struct {
		name, in string
		want     Ref
		pinned   bool
	}{
		{"a family follows its latest revision", "web", Ref{Family: "web"}, false},
		{"a family and revision pins it", "web:3", Ref{Family: "web", Revision: 3}, true},
		{"letters, digits, hyphens and underscores are allowed", "Web-app_2", Ref{Family: "Web-app_2"}, false},
		{"a family of 255 characters is allowed", long, Ref{Family: long}, false},
		{"a revision with leading zeros is its number", "web:007", Ref{Family: "web", Revision: 7}, true},
		{"an ARN in aws", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
			Ref{Family: "web", Revision: 3, ARN: "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3", Region: "us-east-1"}, true},
		{"an ARN in aws-cn", "arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/web:12",
			Ref{Family: "web", Revision: 12, ARN: "arn:aws-cn:ecs:cn-north-1:123456789012:task-definition/web:12", Region: "cn-north-1"}, true},
		{"an ARN in aws-us-gov", "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/api_v2:1",
			Ref{Family: "api_v2", Revision: 1, ARN: "arn:aws-us-gov:ecs:us-gov-west-1:123456789012:task-definition/api_v2:1", Region: "us-gov-west-1"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRef(tc.in)
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseRef(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.Pinned() != tc.pinned {
				t.Errorf("Pinned() = %t, want %t", got.Pinned(), tc.pinned)
			}
			// String is what DescribeTaskDefinition is asked, and parses back.
			again, err := ParseRef(got.String())
			if err != nil || again != got {
				t.Errorf("ParseRef(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestParseRefRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		// wants are what the error must say: what is wrong and what to use.
		wants []string
	}{
		{"an empty value", "", []string{"empty", `--ecs-task-definition "web:3"`}},
		{"only spaces", "   ", []string{"empty"}},
		{"a leading space", " web", []string{"white space", "remove it"}},
		{"a trailing space", "web:3 ", []string{"white space"}},
		{"a space inside", "my web", []string{`' '`, "letters, digits, - and _", `--ecs-task-definition "web:3"`}},
		{"a slash", "web/3", []string{`'/'`}},
		{"a family too long", strings.Repeat("a", 256), []string{"256 characters", "at most 255"}},
		{"revision 0", "web:0", []string{"revision 0", "start at 1", `--ecs-task-definition "web"`}},
		{"no revision after the colon", "web:", []string{"no revision", `"web:3"`}},
		{"a named revision", "web:latest", []string{`"latest"`, "positive whole number", `"web"`}},
		{"a negative revision", "web:-1", []string{`"-1"`, "positive whole number"}},
		{"a revision beyond int32", "web:2147483648", []string{"larger than", "2147483647"}},
		{"an empty family", ":3", []string{"family is empty"}},
		{"an ARN without revision", "arn:aws:ecs:us-east-1:123456789012:task-definition/web", []string{"no revision", `--ecs-task-definition "web"`}},
		{"an ARN of another service", "arn:aws:iam::123456789012:role/dev", []string{`service "iam"`, "task-definition/FAMILY:REVISION"}},
		{"an ARN of another ECS resource", "arn:aws:ecs:us-east-1:123456789012:service/web:1", []string{"does not name a task definition"}},
		{"an ARN without region", "arn:aws:ecs::123456789012:task-definition/web:1", []string{"no region"}},
		{"an ARN with a short account", "arn:aws:ecs:us-east-1:12345:task-definition/web:1", []string{"12 digits"}},
		{"an ARN whose region is not its partition's", "arn:aws:ecs:cn-north-1:123456789012:task-definition/web:1", []string{"aws-cn", "arn:aws-cn:ecs:cn-north-1"}},
		{"an ARN with a bad partition", "arn:azure:ecs:us-east-1:123456789012:task-definition/web:1", []string{`partition "azure"`}},
		{"an ARN with revision 0", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:0", []string{"revision 0"}},
		{"a truncated ARN", "arn:aws:ecs:us-east-1", []string{"not an ARN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRef(tc.in)
			if err == nil {
				t.Fatalf("ParseRef(%q) = %+v, want an error", tc.in, got)
			}
			mustContain(t, "the error", err.Error(), tc.wants...)
		})
	}
}

func TestCheckCluster(t *testing.T) {
	for _, ok := range []string{"default", "dev-cluster_1", strings.Repeat("c", 255),
		"arn:aws:ecs:eu-west-1:123456789012:cluster/dev", "arn:aws-cn:ecs:cn-northwest-1:123456789012:cluster/dev"} {
		if err := CheckCluster(ok); err != nil {
			t.Errorf("CheckCluster(%q): %v", ok, err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"my cluster", "letters, digits, - and _"},
		{" dev", "white space"},
		{strings.Repeat("c", 256), "at most 255"},
		{"arn:aws:ecs:eu-west-1:123456789012:task-definition/web:1", "does not name a cluster"},
		{"arn:aws:ecs:eu-west-1:123456789012:cluster/", "cluster name is empty"},
		{"arn:aws:s3:::bucket", `service "s3"`},
	} {
		err := CheckCluster(tc.in)
		if err == nil {
			t.Errorf("CheckCluster(%q) = nil, want an error", tc.in)
			continue
		}
		mustContain(t, "CheckCluster("+tc.in+")", err.Error(), tc.want)
	}
}

func TestCheckContainerName(t *testing.T) {
	for _, ok := range []string{"app", "web_1-x", strings.Repeat("n", 255)} {
		if err := CheckContainerName(ok); err != nil {
			t.Errorf("CheckContainerName(%q): %v", ok, err)
		}
	}
	for _, tc := range []struct {
		in    string
		wants []string
	}{
		{"", []string{"empty", `--ecs-container "app"`}},
		{"app.web", []string{`'.'`, `--ecs-container "app"`}},
		{"app ", []string{"white space", "remove it"}},
		{strings.Repeat("n", 256), []string{"at most 255"}},
	} {
		err := CheckContainerName(tc.in)
		if err == nil {
			t.Errorf("CheckContainerName(%q) = nil, want an error", tc.in)
			continue
		}
		mustContain(t, "CheckContainerName("+tc.in+")", err.Error(), tc.wants...)
	}
}
