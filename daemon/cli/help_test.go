package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// run runs credd with args and returns its stdout, stderr and exit code.
func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }})
	return stdout.String(), stderr.String(), code
}

func TestHelpCommandPrintsThatCommandsFlagsAsDashHDoes(t *testing.T) {
	for _, name := range []string{"daemon", "env", "status", "reload", "version"} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := run(t, "help", name)
			if code != 0 || errOut != "" {
				t.Fatalf("credd help %s: exit %d, stderr %q; want 0 and nothing", name, code, errOut)
			}
			if !strings.Contains(out, "Usage: credd "+name) {
				t.Errorf("credd help %s printed no usage of %s:\n%s", name, name, out)
			}
			dashH, _, code := run(t, name, "-h")
			if code != 0 || dashH != out {
				t.Errorf("credd %s -h: exit %d, want 0 and the same text as credd help %s on stdout:\n%s", name, code, name, dashH)
			}
		})
	}
	out, _, _ := run(t, "help", "daemon")
	if !strings.Contains(out, "-role-arn") {
		t.Errorf("credd help daemon lists no --role-arn:\n%s", out)
	}
}

func TestHelpWithoutACommandListsTheCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		out, _, code := run(t, args...)
		if code != 0 || !strings.Contains(out, "Commands:") || !strings.Contains(out, "credential-process") {
			t.Errorf("credd %v: exit %d:\n%s", args, code, out)
		}
	}
}

func TestHelpOfAnUnknownCommandIsAnUnknownCommand(t *testing.T) {
	out, errOut, code := run(t, "help", "stauts")
	if code != exitUsage || out != "" {
		t.Errorf("exit %d stdout %q, want %d and nothing", code, out, exitUsage)
	}
	if want := `credd: unknown command "stauts": did you mean status?`; !strings.HasPrefix(errOut, want) {
		t.Errorf("stderr = %q, want it to start %q", errOut, want)
	}
}

func TestEverySpellingOfVersionPrintsIt(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version", "-v"} {
		out, errOut, code := run(t, arg)
		if code != 0 || out != "credd "+version()+"\n" || errOut != "" {
			t.Errorf("credd %s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
}

func TestMistakesGetOneLineWithTheClosestName(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a flag without its dash", []string{"daemon", "--rolearn", "x"},
			"credd daemon: unknown flag --rolearn: did you mean --role-arn? (credd daemon -h lists the flags)"},
		{"a flag with a typo", []string{"status", "--jsn"},
			"credd status: unknown flag --jsn: did you mean --json? (credd status -h lists the flags)"},
		{"a flag in the wrong case with underscores", []string{"daemon", "--ROLE_ARN=x"},
			"credd daemon: unknown flag --ROLE_ARN: did you mean --role-arn? (credd daemon -h lists the flags)"},
		{"the start of several flags", []string{"daemon", "--token"},
			"credd daemon: unknown flag --token: did you mean one of --token-command, --token-command-env, --token-file, --token-source? (credd daemon -h lists the flags)"},
		{"a flag like nothing defined", []string{"demo", "--zzzz"},
			"credd demo: unknown flag --zzzz (credd demo -h lists the flags)"},
		{"a bad boolean", []string{"demo", "--check=maybe"},
			`credd demo: invalid boolean value "maybe" for --check: parse error (credd demo -h lists the flags)`},
		{"a bad duration", []string{"env", "--wait", "soon"},
			`credd env: invalid value "soon" for --wait: parse error (credd env -h lists the flags)`},
		{"a flag without its value", []string{"status", "--state-dir"},
			"credd status: flag needs an argument: --state-dir (credd status -h lists the flags)"},
		{"a swapped command", []string{"stauts"},
			"credd: unknown command \"stauts\": did you mean status? (`credd help` lists the commands)"},
		{"a command like nothing", []string{"frobnicate"},
			"credd: unknown command \"frobnicate\" (`credd help` lists the commands)"},
		{"a flag before the command", []string{"--state-dir", "d", "status"},
			"credd: unknown flag --state-dir (flags go after the command, as in `credd status --state-dir D`; `credd help` lists the commands)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if errOut != tt.want+"\n" {
				t.Errorf("stderr =\n%q\nwant the one line\n%q", errOut, tt.want)
			}
			// credd env also tells eval on stdout that it failed.
			if out != "" && out != evalFails+"\n" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	flags := []string{"--audience", "--region", "--role-arn", "--session-name", "--state-dir"}
	tests := []struct {
		typed string
		names []string
		want  []string
	}{
		{"rolearn", flags, []string{"--role-arn"}},
		{"rol-arn", flags, []string{"--role-arn"}},
		{"regoin", flags, []string{"--region"}},
		{"statedir", flags, []string{"--state-dir"}},
		{"sess", flags, []string{"--session-name"}},
		{"xyz", flags, nil},
		{"a", flags, nil},
		{"", flags, nil},
		{"logn", []string{"login", "logout"}, []string{"login"}},
		{"log", []string{"login", "logout"}, []string{"login", "logout"}},
	}
	for _, tt := range tests {
		if got := suggest(tt.typed, tt.names); !slices.Equal(got, tt.want) {
			t.Errorf("suggest(%q) = %q, want %q", tt.typed, got, tt.want)
		}
	}
}

func TestEditDistanceCountsASwapAsOne(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"status", "status", 0},
		{"stauts", "status", 1},
		{"statu", "status", 1},
		{"sttus", "status", 1},
		{"env", "exec", 3},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
