package compat

import (
	"strings"
	"testing"
)

// A small matrix in the shape renderMatrix writes, for the staleness check.
const sampleMatrix = `# Compatibility matrix

Some text.

| Client | Version | Installed from | STS endpoint | Both variables |
|---|---|---|---|---|
| AWS CLI v1 | aws-cli/1.45.11 | pip, found in pyenv 3.11.7 | ` + "`AWS_ENDPOINT_URL_STS`" + ` | ✅ 2 runs, 2 fetches |
| boto3 | boto3 1.43.11 \| odd | pip, found in PATH | ` + "`AWS_ENDPOINT_URL_STS`" + ` | ✅ 2 calls, 1 fetch |

| STS | Version | As credd serves it |
|---|---|---|
| moto_server | 5.2.1 | ✅ whole seconds |
`

func TestMatrixDiff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		change     func(string) string
		wantDiffs  int
		wantInDiff string
	}{
		{"an identical matrix is not stale", func(s string) string { return s }, 0, ""},
		{"other client versions are not staleness",
			func(s string) string {
				s = strings.Replace(s, "aws-cli/1.45.11", "aws-cli/1.46.0", 1)
				return strings.Replace(s, "| 5.2.1 |", "| 5.3.0 |", 1)
			}, 0, ""},
		{"another install location is not staleness",
			func(s string) string {
				return strings.Replace(s, "found in pyenv 3.11.7", "found in test/setup.sh's venv", 1)
			}, 0, ""},
		{"an escaped pipe in a version does not shift the columns",
			func(s string) string { return strings.Replace(s, `boto3 1.43.11 \| odd`, `boto3 1.44.0 \| odder`, 1) }, 0, ""},
		{"a changed outcome is staleness",
			func(s string) string { return strings.Replace(s, "✅ 2 calls, 1 fetch", "❌ failed: 403", 1) }, 2, "❌ failed: 403"},
		{"a changed outcome beside an escaped pipe is staleness",
			func(s string) string {
				return strings.Replace(s, `odd | pip, found in PATH | `+"`AWS_ENDPOINT_URL_STS`", `odd | pip, found in PATH | explicit`, 1)
			}, 2, "explicit"},
		{"a changed outcome in the third-party table is staleness",
			func(s string) string { return strings.Replace(s, "✅ whole seconds", "❌ fractional", 1) }, 2, "❌ fractional"},
		{"a new row is staleness",
			func(s string) string {
				return strings.Replace(s, "\n\n| STS |", "\n| AWS SDK for Rust | 1.0 | cargo | x | ✅ 2 calls, 1 fetch |\n\n| STS |", 1)
			}, 1, "AWS SDK for Rust"},
		{"changed text is staleness",
			func(s string) string { return strings.Replace(s, "Some text.", "Other text.", 1) }, 2, "Other text."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			diffs := matrixDiff(sampleMatrix, tc.change(sampleMatrix))
			if len(diffs) != tc.wantDiffs {
				t.Fatalf("got %d differences, want %d:\n%s", len(diffs), tc.wantDiffs, strings.Join(diffs, "\n"))
			}
			if tc.wantInDiff != "" && !strings.Contains(strings.Join(diffs, "\n"), tc.wantInDiff) {
				t.Errorf("the differences do not show %q:\n%s", tc.wantInDiff, strings.Join(diffs, "\n"))
			}
		})
	}
}

func TestMatrixDiffStopsAfterMaxDiffs(t *testing.T) {
	changed := strings.ReplaceAll(sampleMatrix, "|", "¦")
	changed = strings.Repeat(changed, 3)
	diffs := matrixDiff(sampleMatrix, changed)
	if len(diffs) != 13 || diffs[12] != "  …and more" {
		t.Fatalf("want 12 differences then \"…and more\", got %d:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

func TestTableCells(t *testing.T) {
	got := tableCells(`| a | b \| c | ` + "`d`" + ` |`)
	want := []string{"a", `b \| c`, "`d`"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("tableCells = %q, want %q", got, want)
	}
}
