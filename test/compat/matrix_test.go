package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Columns of the second table; the first table's are the setups' names.
const (
	colRefresh    = "refresh"
	colRestart    = "restart"
	colWrongToken = "wrong token"
)

const (
	// docPath is the published matrix: a complete, passing run checks it,
	// or rewrites it with CREDD_WRITE_DOCS=1 (make docs).
	docPath = "../../docs/compatibility.md"
	// resultsPath is the matrix of the last run, whatever its outcome
	// (ignored by git).
	resultsPath = "results/matrix.md"
)

// result is one client's row in the matrix.
type result struct {
	client  client
	version string
	skipped string
	mu      sync.Mutex
	cells   map[string]*string
}

// motoResult is the third-party STS row.
type motoResult struct {
	version, stsFormat, served, client string
}

var matrix struct {
	mu      sync.Mutex
	results map[string]*result
	moto    *motoResult
}

func record(c client) *result {
	r := &result{client: c, cells: map[string]*string{}}
	matrix.mu.Lock()
	defer matrix.mu.Unlock()
	if matrix.results == nil {
		matrix.results = map[string]*result{}
	}
	matrix.results[c.name] = r
	return r
}

// cell returns the cell for column col, for a test to fill in.
func (r *result) cell(col string) *string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cells[col] == nil {
		r.cells[col] = new(string)
	}
	return r.cells[col]
}

func (r *result) get(col string) string {
	if r.skipped != "" {
		return "not run"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.cells[col]; p != nil && *p != "" {
		return *p
	}
	return "not run"
}

// writeMatrix renders the matrix, prints it and writes it to resultsPath.
// After a complete, passing run it checks docPath against it, or, with
// CREDD_WRITE_DOCS=1, rewrites docPath: a test run leaves the tree as it
// found it.
func writeMatrix(passed bool, elapsed time.Duration) error {
	text, complete := renderMatrix()
	fmt.Printf("\n%s\n", text)
	if err := os.MkdirAll(filepath.Dir(resultsPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(resultsPath, []byte(text), 0o644); err != nil {
		return err
	}
	defer fmt.Printf("compat: suite time %s\n", elapsed.Round(time.Second))
	doc := strings.TrimPrefix(docPath, "../../")
	switch {
	case !passed:
		fmt.Printf("compat: %s not checked: the suite failed (this run's matrix: test/compat/%s)\n", doc, resultsPath)
	case complete != "":
		fmt.Printf("compat: %s not checked: %s (this run's matrix: test/compat/%s)\n", doc, complete, resultsPath)
	case os.Getenv("CREDD_WRITE_DOCS") == "1":
		if err := os.WriteFile(docPath, []byte(text), 0o644); err != nil {
			return err
		}
		fmt.Printf("compat: wrote %s\n", doc)
	default:
		committed, err := os.ReadFile(docPath)
		if err != nil {
			return fmt.Errorf("%w; write it with `make docs` (or CREDD_WRITE_DOCS=1 go test ./test/compat/)", err)
		}
		if diffs := matrixDiff(string(committed), text); len(diffs) > 0 {
			fmt.Printf("compat: %s is stale: it differs from this run beyond versions and install locations:\n%s\n", doc, strings.Join(diffs, "\n"))
			return fmt.Errorf("%s is stale (the differences are above; this run's matrix: test/compat/%s): "+
				"regenerate it with `make docs` (or CREDD_WRITE_DOCS=1 go test ./test/compat/) and commit it", doc, resultsPath)
		}
		fmt.Printf("compat: %s matches this run (versions and install locations aside)\n", doc)
	}
	return nil
}

// figureColumns are the matrix's columns that describe the machine, not
// credd: the client versions installed (pinned by go.mod, the npm lock files
// and requirements.txt, but Debian's follow its point releases) and where a
// client was found. They may differ from the committed matrix; every
// outcome, and all the text, must not.
var figureColumns = []string{"Version", "Installed from"}

// matrixDiff compares two renderings of the matrix, figure columns aside,
// and lists the lines only one of them has (at most maxDiffs), in order.
func matrixDiff(committed, current string) []string {
	const maxDiffs = 12
	a, b := outcomes(committed), outcomes(current)
	// common[i][j] is the length of the longest common subsequence of
	// a[i:] and b[j:]; the tables are a few dozen lines.
	common := make([][]int, len(a)+1)
	for i := range common {
		common[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				common[i][j] = common[i+1][j+1] + 1
			} else {
				common[i][j] = max(common[i+1][j], common[i][j+1])
			}
		}
	}
	var diffs []string
	add := func(s string) {
		if len(diffs) < maxDiffs {
			diffs = append(diffs, s)
		} else if len(diffs) == maxDiffs {
			diffs = append(diffs, "  …and more")
		}
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case j == len(b) || (i < len(a) && common[i+1][j] >= common[i][j+1]):
			add(fmt.Sprintf("  committed, line %d: %s", i+1, a[i]))
			i++
		default:
			add(fmt.Sprintf("  this run,  line %d: %s", j+1, b[j]))
			j++
		}
	}
	return diffs
}

// outcomes is the matrix's lines with the figure columns' cells blanked.
func outcomes(doc string) []string {
	lines := strings.Split(strings.TrimRight(doc, "\n"), "\n")
	var blank []int // the current table's figure columns
	inTable := false
	for i, l := range lines {
		if !strings.HasPrefix(l, "|") {
			inTable = false
			continue
		}
		cells := tableCells(l)
		if !inTable { // the header row
			inTable, blank = true, nil
			for j, c := range cells {
				if slices.Contains(figureColumns, c) {
					blank = append(blank, j)
				}
			}
			continue
		}
		for _, j := range blank {
			if j < len(cells) && !strings.HasPrefix(cells[j], "---") {
				cells[j] = "…"
			}
		}
		lines[i] = "| " + strings.Join(cells, " | ") + " |"
	}
	return lines
}

// tableCells splits a Markdown table row at the pipes cellText does not
// escape, and trims each cell.
func tableCells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	start := 0
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\':
			i++ // an escaped character, \| among them
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(row[start:i]))
			start = i + 1
		}
	}
	return append(cells, strings.TrimSpace(row[start:]))
}

// renderMatrix returns the matrix as Markdown, and why it is incomplete
// ("" when every client and the third-party STS ran).
func renderMatrix() (string, string) {
	matrix.mu.Lock()
	defer matrix.mu.Unlock()
	var incomplete []string
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	w("# Compatibility matrix\n\n")
	w("<!-- Generated by test/compat; do not edit. Regenerate: make docs -->\n\n")
	w("Generated by the compatibility suite in `test/compat`. Regenerate it with\n")
	w("`make docs` (or `CREDD_WRITE_DOCS=1 go test -race -count=1 ./test/compat/`)\n")
	w("on a machine with every client installed (`bash test/setup.sh`). Any other\n")
	w("complete, passing run, as in `.ci/run`, checks this file instead: it fails\n")
	w("when an outcome or a line of text differs from its own (client versions\n")
	w("and where each client was installed may).\n\n")
	w("Each client runs as its own process in a clean environment holding only what\n")
	w("`credd env` prints (`AWS_CONTAINER_CREDENTIALS_FULL_URI` on 127.0.0.1,\n")
	w("`AWS_CONTAINER_AUTHORIZATION_TOKEN`, `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`),\n")
	w("the region, `AWS_ENDPOINT_URL_STS` for the sandbox STS emulator,\n")
	w("`AWS_EC2_METADATA_DISABLED=true`, `PATH`, and a fresh `HOME` with no AWS\n")
	w("config or credentials file. It finds credd through its own default\n")
	w("credential chain and signs `GetCallerIdentity` calls that the emulator\n")
	w("verifies (SigV4) against the credentials credd got for it; the suite checks\n")
	w("the assumed-role ARN, that the calls were signed with the access key credd\n")
	w("serves, and counts credentials fetches in `credd status --json`.\n\n")

	w("## Token set-ups\n\n")
	w("Two calls in one process (two runs for a CLI); one credentials fetch per process.\n\n")
	w("| Client | Version | Installed from | STS endpoint |")
	for _, s := range setups {
		w(" %s |", cellText(s.title))
	}
	w("\n|---|---|---|---|")
	for range setups {
		w("---|")
	}
	w("\n")
	for _, c := range clients {
		r := matrix.results[c.name]
		if r == nil {
			incomplete = append(incomplete, c.name+" did not run")
			r = &result{client: c, skipped: "not run"}
		} else if r.skipped != "" {
			incomplete = append(incomplete, c.name+" is not installed")
		}
		version := r.version
		if r.skipped != "" {
			version = "not installed"
		}
		endpoint := "`AWS_ENDPOINT_URL_STS`"
		if c.explicitEndpoint {
			endpoint = "explicit, " + c.endpointHow + ": ignores `AWS_ENDPOINT_URL_STS`"
		}
		w("| %s | %s | %s | %s |", c.name, cellText(version), cellText(installedFrom(c)), endpoint)
		for _, s := range setups {
			w(" %s |", cellText(r.get(s.name)))
		}
		w("\n")
	}

	w("\n## Long-lived process and errors\n\n")
	w("- **Refresh:** credentials that live 30 s, which credd refreshes at about\n")
	w("  half their lifetime; one process calls every 0.5 s until the access key\n")
	w("  that signs its calls changes, and no call may fail.\n")
	w("- **Restart:** then credd is stopped and started again 2 s later on the\n")
	w("  same port and state directory (so with the same authorization token); the\n")
	w("  process must make a call signed with the new daemon's credentials.\n")
	w("- **Wrong token:** both token variables hold a token credd does not know;\n")
	w("  the cell shows the error the user gets, with credd's 401 message\n")
	w("  (`\"code\":\"Unauthorized\"`, which says what to do) abbreviated.\n\n")
	w("| Client | Across a credential refresh | Daemon restarted under it | Wrong token: what the user sees |\n")
	w("|---|---|---|---|\n")
	for _, c := range clients {
		r := matrix.results[c.name]
		if r == nil {
			r = &result{client: c, skipped: "not run"}
		}
		refresh, restart := "— (one process per call)", "— (one process per call)"
		if c.longLived {
			refresh, restart = r.get(colRefresh), r.get(colRestart)
		}
		w("| %s | %s | %s | %s |\n", c.name, cellText(refresh), cellText(restart), cellText(r.get(colWrongToken)))
	}

	w("\n## Notes\n\n")
	w("Known behaviour of each client (measured when the suite was written; the\n")
	w("suite checks the tables above, not these notes):\n\n")
	for _, c := range clients {
		w("- **%s:** %s\n", c.name, c.notes)
	}

	w("\n## Third-party STS\n\n")
	w("credd's exchange against [moto](https://github.com/getmoto/moto)'s `moto_server`\n")
	w("(with an identity token from the sandbox issuer, which moto does not verify):\n")
	w("moto formats `Expiration` its own way; credd must parse it and serve\n")
	w("`2006-01-02T15:04:05Z`.\n\n")
	w("| STS | Version | `Expiration` as the STS sent it | As credd serves it | A client against it |\n")
	w("|---|---|---|---|---|\n")
	m := matrix.moto
	if m == nil {
		incomplete = append(incomplete, "the third-party STS test did not run")
		m = &motoResult{version: "not run", stsFormat: "not run", served: "not run", client: "not run"}
	}
	w("| moto_server | %s | %s | %s | %s |\n", cellText(m.version), cellText(m.stsFormat), cellText(m.served), cellText(m.client))
	incomplete = append(incomplete, renderThirdParty(&b)...)
	b.WriteString(notRunHere)
	return b.String(), strings.Join(incomplete, "; ")
}

// notRunHere is what the project knows of the SDKs this machine cannot
// run (no JVM, Rust, .NET or C++ SDK is installable offline here): read
// from their source, not measured, and said so.
const notRunHere = `
## SDKs read from their source, not run here

No Java, Rust, .NET or C++ AWS SDK runs in this suite. What follows is read
from each SDK's container credentials provider, not measured: treat it as
expected behaviour, and report what you see.

| SDK | Source read | Finds credd | Token variables | Notes |
|---|---|---|---|---|
| Java v2 | aws/aws-sdk-java-v2 ` + "`ContainerCredentialsProvider`, `HttpCredentialsLoader`" + ` | FULL_URI on 127.0.0.1 from 2.21.30 (every resolved address must be loopback) | the variable wins when both are set; the file only when it is unset | A 404 fails at once; at most 1 s to connect and 1 s to read. Refetches with less than 15 minutes left. |
| Rust | smithy-lang/smithy-rs ` + "`aws-config` `ecs.rs`, `http_credential_provider.rs`" + ` | FULL_URI on loopback | the file wins (aws-config 1.1.8 and later) | Refuses an answer whose ` + "`Code`" + ` is not ` + "`Success`" + `; credd sends none. |
| .NET | aws/aws-sdk-net ` + "`GenericContainerCredentials`" + ` | FULL_URI on loopback; the older ` + "`ECSTaskCredentials`" + ` reads only the relative URI | the file wins | Retries 5 times; refetches with less than 15 minutes left. |
| C++ | aws/aws-sdk-cpp ` + "`GeneralHTTPCredentialsProvider`" + ` | FULL_URI on 127.0.0.N or ::1 | the file wins | Reloads every 5 minutes; 1 s to connect. |
`

// cellText makes s safe inside a Markdown table cell.
func cellText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

var (
	portRE = regexp.MustCompile(`127\.0\.0\.1:\d+`)
)

// sanitize removes what changes from run to run: ports and the state dir.
func sanitize(s, stateDir string) string {
	if stateDir != "" {
		s = strings.ReplaceAll(s, stateDir, "<state-dir>")
	}
	return portRE.ReplaceAllString(s, "127.0.0.1:<port>")
}
