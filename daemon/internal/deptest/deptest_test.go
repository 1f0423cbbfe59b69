package deptest

import (
	"slices"
	"testing"
)

// A graph as `go list -deps` prints it for a small program: main imports
// lib and sdk/sts; lib imports sdk/sts/types; sdk/sts imports its types.
const listing = `dep sdk/sts/types
dep sdk/sts sdk/sts/types
dep lib sdk/sts/types
root example/main lib sdk/sts
`

func TestProblems(t *testing.T) {
	tests := []struct {
		name    string
		checker DepChecker
		want    []string
	}{
		{
			name:    "a dependency reached through another package is reported with its importer and reason",
			checker: DepChecker{BadDeps: map[string]string{"sdk/sts/types": "no SDK here"}},
			want:    []string{"depends on sdk/sts/types (imported by sdk/sts, lib): no SDK here"},
		},
		{
			name:    "a pattern ending in /... covers everything under it, named where it is entered",
			checker: DepChecker{BadDeps: map[string]string{"sdk/...": "no SDK here"}},
			want: []string{
				"depends on sdk/sts/types (imported by lib): no SDK here",
				"depends on sdk/sts (imported by example/main): no SDK here",
			},
		},
		{
			name:    "the packages checked are not their own dependencies",
			checker: DepChecker{BadDeps: map[string]string{"example/...": "w"}},
		},
		{
			name:    "a path without /... is not a prefix",
			checker: DepChecker{BadDeps: map[string]string{"sdk/st": "not a package", "sdk": "not a package"}},
		},
		{
			name: "only the allowed importers may import a dependency directly",
			checker: DepChecker{OnlyImporters: map[string]Importers{
				"sdk/sts/...": {Packages: []string{"lib"}, Why: "lib owns the SDK"},
			}},
			want: []string{"example/main imports sdk/sts, which only lib may import: lib owns the SDK"},
		},
		{
			name: "the dependency's own packages import one another freely",
			checker: DepChecker{OnlyImporters: map[string]Importers{
				"sdk/sts/...": {Packages: []string{"lib", "example/main"}, Why: "w"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.checker.problems(parse(listing)); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

func TestListRunsGoListOnThePackageUnderTest(t *testing.T) {
	pkgs := list(t, nil)
	root := slices.IndexFunc(pkgs, func(p pkg) bool { return p.root })
	if root < 0 || pkgs[root].path != "github.com/credd-dev/credd/daemon/internal/deptest" || !slices.Contains(pkgs[root].imports, "os/exec") {
		t.Fatalf("go list -deps . gave no root deptest importing os/exec: %+v", pkgs)
	}
	got := DepChecker{BadDeps: map[string]string{"os/exec": "why"}}.problems(pkgs)
	if want := []string{"depends on os/exec (imported by github.com/credd-dev/credd/daemon/internal/deptest): why"}; !slices.Equal(got, want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
}
