// Package deptest fails a test when a package depends on one it must never
// import, as tailscale's tstest/deptest does: `go list -deps`, then rules.
package deptest

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// DepChecker is what some packages must never depend on. A guarded
// package states its rules in a deps_test.go and calls Check. Only non-test
// code counts: tests may import what the package itself must not.
type DepChecker struct {
	// Packages are the `go list` patterns checked; empty means ".", the
	// package under test.
	Packages []string
	// BadDeps maps an import path, or a path ending in "/..." for it and
	// every package under it, to why Packages must never depend on it,
	// directly or through another package.
	BadDeps map[string]string
	// OnlyImporters maps an import path (or path/...) to the packages that
	// alone may import it directly: every other package among Packages and
	// their dependencies must go through those.
	OnlyImporters map[string]Importers
	// Except maps patterns of packages among Packages that are not
	// checked (nor what only they import) to why: another program, such
	// as credd-bridge, which runs in AWS under its own role.
	Except map[string]string
}

// Importers are the packages that alone may import a dependency, and why.
type Importers struct {
	Packages []string
	Why      string
}

// Check runs `go list -deps` on c.Packages and fails t for every rule
// broken, with the rule's reason.
func (c DepChecker) Check(t *testing.T) {
	t.Helper()
	roots := c.Packages
	if len(c.Except) > 0 {
		roots = nil
		for _, p := range expand(t, c.Packages) {
			if !slices.ContainsFunc(slices.Collect(maps.Keys(c.Except)), func(pattern string) bool { return match(pattern, p) }) {
				roots = append(roots, p)
			}
		}
	}
	for _, p := range c.problems(list(t, roots)) {
		t.Error(p)
	}
}

// expand lists the packages patterns name, without their dependencies.
func expand(t *testing.T, patterns []string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, patterns...)...).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(patterns, " "), err)
	}
	return strings.Fields(string(out))
}

// list runs `go list -deps` on patterns ("." when none).
func list(t *testing.T, patterns []string) []pkg {
	t.Helper()
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (go test puts it there): %v", err)
	}
	out, err := exec.Command(gobin, append([]string{"list", "-deps", "-f", "{{if .DepOnly}}dep{{else}}root{{end}} {{.ImportPath}}{{range .Imports}} {{.}}{{end}}"}, patterns...)...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", strings.Join(patterns, " "), err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", strings.Join(patterns, " "), err)
	}
	return parse(string(out))
}

// pkg is one line of `go list -deps`: a package and what it imports.
type pkg struct {
	path    string
	imports []string
	root    bool // named by Packages, not only a dependency
}

func parse(out string) []pkg {
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 {
			pkgs = append(pkgs, pkg{root: f[0] == "root", path: f[1], imports: f[2:]})
		}
	}
	return pkgs
}

// problems lists every rule pkgs break, in a stable order.
func (c DepChecker) problems(pkgs []pkg) []string {
	importers := map[string][]string{}
	for _, p := range pkgs {
		for _, imp := range p.imports {
			importers[imp] = append(importers[imp], p.path)
		}
	}
	var out []string
	for _, pattern := range slices.Sorted(maps.Keys(c.BadDeps)) {
		for _, p := range pkgs {
			if p.root || !match(pattern, p.path) {
				continue
			}
			// Name only where the forbidden packages are entered, not each
			// package of the dependency that follows.
			var from []string
			for _, imp := range importers[p.path] {
				if !match(pattern, imp) {
					from = append(from, imp)
				}
			}
			if len(from) > 0 {
				out = append(out, "depends on "+p.path+" (imported by "+strings.Join(from, ", ")+"): "+c.BadDeps[pattern])
			}
		}
	}
	for _, pattern := range slices.Sorted(maps.Keys(c.OnlyImporters)) {
		rule := c.OnlyImporters[pattern]
		for _, p := range pkgs {
			if match(pattern, p.path) || slices.Contains(rule.Packages, p.path) {
				continue // a package of the dependency itself, or an allowed importer
			}
			for _, imp := range p.imports {
				if match(pattern, imp) {
					out = append(out, p.path+" imports "+imp+", which only "+strings.Join(rule.Packages, ", ")+" may import: "+rule.Why)
				}
			}
		}
	}
	return out
}

// match reports whether path is pattern, or under it for "pattern/...".
func match(pattern, path string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == prefix || strings.HasPrefix(path, prefix+"/")
	}
	return path == pattern
}
