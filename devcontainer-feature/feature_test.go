// Package feature checks the devcontainer Feature's metadata: the official
// schema, the contract with the daemon and install.sh, and the README.
package feature

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/credd-dev/credd/daemon/authtoken"
	"github.com/credd-dev/credd/daemon/config"
)

var update = flag.Bool("update", false, "rewrite the README's generated Feature options table")

const (
	featureFile = "src/credd/devcontainer-feature.json"
	installFile = "src/credd/install.sh"
	readmeFile  = "../README.md"
)

type option struct {
	Type        string   `json:"type"`
	Default     any      `json:"default"`
	Enum        []string `json:"enum"`
	Proposals   []string `json:"proposals"`
	Description string   `json:"description"`
}

type feature struct {
	ID             string            `json:"id"`
	Version        string            `json:"version"`
	Options        map[string]option `json:"options"`
	ContainerEnv   map[string]string `json:"containerEnv"`
	Entrypoint     string            `json:"entrypoint"`
	PostStart      string            `json:"postStartCommand"`
	PostAttach     string            `json:"postAttachCommand"`
	InstallsAfter  []string          `json:"installsAfter"`
	Customizations struct {
		VSCode struct {
			Settings struct {
				PortsAttributes map[string]map[string]string `json:"remote.portsAttributes"`
			} `json:"settings"`
		} `json:"vscode"`
	} `json:"customizations"`
	// optionOrder is the options' order in the file.
	optionOrder []string
}

func readFeature(t *testing.T) feature {
	t.Helper()
	b := readFile(t, featureFile)
	var f feature
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", featureFile, err)
	}
	var raw struct {
		Options json.RawMessage `json:"options"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	keys, err := objectKeys(raw.Options)
	if err != nil {
		t.Fatalf("%s: options: %v", featureFile, err)
	}
	f.optionOrder = keys
	return f
}

// objectKeys returns the keys of a JSON object in document order.
func objectKeys(obj []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// schemasDir is shared/schemas beside the clone, where CI places shared/.
func schemasDir(t *testing.T) string {
	t.Helper()
	top := ""
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		top = strings.TrimSpace(string(out))
	} else if wd, err := os.Getwd(); err == nil {
		top = filepath.Dir(wd) // this package sits at the top level
	}
	dir := filepath.Join(top, "..", "shared", "schemas")
	if _, err := os.Stat(filepath.Join(dir, "devContainerFeature.schema.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the official schemas are not at %s (CI places shared/ beside the clone): %v", dir, err)
		}
		t.Skipf("the official schemas are not at %s: put shared/ beside the clone to run this test", dir)
	}
	return dir
}

func compileSchema(t *testing.T, path string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(path)
	if err != nil {
		t.Fatalf("compile %s: %v", path, err)
	}
	return sch
}

func TestFeatureValidatesAgainstTheOfficialSchema(t *testing.T) {
	sch := compileSchema(t, filepath.Join(schemasDir(t), "devContainerFeature.schema.json"))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(readFile(t, featureFile)))
	if err != nil {
		t.Fatalf("%s: %v", featureFile, err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("%s does not validate against the official schema:\n%v", featureFile, err)
	}

	t.Run("and the schema rejects a broken Feature", func(t *testing.T) {
		broken := map[string]any{"id": "credd", "options": map[string]any{"port": map[string]any{"type": "number", "default": 1}}}
		if err := sch.Validate(broken); err == nil {
			t.Error("a Feature without version and with a number option validated: the validator checks nothing")
		}
	})
}

func TestFeatureKeepsTheContractWithTheDaemonAndInstallScript(t *testing.T) {
	f := readFeature(t)
	install := string(readFile(t, installFile))

	port := f.Options["port"].Default
	if port != strconv.Itoa(config.DefaultPort) {
		t.Errorf("option port defaults to %v, the daemon to %d", port, config.DefaultPort)
	}
	if got, want := f.ContainerEnv["AWS_CONTAINER_CREDENTIALS_FULL_URI"], fmt.Sprintf("http://127.0.0.1:%d/v1/credentials", config.DefaultPort); got != want {
		t.Errorf("containerEnv FULL_URI = %q, want %q (127.0.0.1 is the only host every SDK accepts over http)", got, want)
	}
	stateDir := f.ContainerEnv["CREDD_STATE_DIR"]
	if stateDir == "" || !strings.Contains(install, "STATE_DIR="+stateDir+"\n") {
		t.Errorf("containerEnv CREDD_STATE_DIR = %q, which install.sh does not create", stateDir)
	}
	if got, want := f.ContainerEnv["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], authtoken.Path(stateDir); got != want {
		t.Errorf("containerEnv token file = %q, want %q", got, want)
	}
	for k := range f.ContainerEnv {
		if k == "AWS_CONTAINER_AUTHORIZATION_TOKEN" {
			t.Errorf("containerEnv sets %s: containerEnv becomes image ENV, so the token must come from the file", k)
		}
	}
	if pa := f.Customizations.VSCode.Settings.PortsAttributes[strconv.Itoa(config.DefaultPort)]; pa["onAutoForward"] != "ignore" {
		t.Errorf("remote.portsAttributes[%d] = %v: the port must never be auto-forwarded", config.DefaultPort, pa)
	}
	if f.Entrypoint == "" || !strings.Contains(install, "SHARE_DIR="+filepath.Dir(f.Entrypoint)+"\n") || filepath.Base(f.Entrypoint) != "entrypoint.sh" {
		t.Errorf("entrypoint %q is not where install.sh installs entrypoint.sh", f.Entrypoint)
	}
	if len(f.InstallsAfter) > 0 {
		t.Errorf("installsAfter %v: the devcontainer CLI fetches those Features' manifests even when they are not used, which breaks an air-gapped devcontainer up", f.InstallsAfter)
	}
	lifecycle := filepath.Join(filepath.Dir(f.Entrypoint), "lifecycle.sh")
	for hook, cmd := range map[string]string{"postStartCommand": f.PostStart, "postAttachCommand": f.PostAttach} {
		if !strings.HasPrefix(cmd, lifecycle+" ") {
			t.Errorf("%s %q does not run %s, which install.sh installs", hook, cmd, lifecycle)
		}
	}
	if !strings.Contains(install, `"$FEATURE_DIR/lifecycle.sh" "$SHARE_DIR/lifecycle.sh"`) {
		t.Errorf("install.sh does not install lifecycle.sh into $SHARE_DIR")
	}
	if want := append([]string{"auto"}, config.Sources...); !slices.Equal(f.Options["tokenSource"].Enum, want) {
		t.Errorf("tokenSource enum %v, want %v (the daemon's sources)", f.Options["tokenSource"].Enum, want)
	}
	for _, name := range f.optionOrder {
		env := strings.ToUpper(name)
		if !strings.Contains(install, env+"=${"+env+":-") {
			t.Errorf("option %s: install.sh never reads $%s", name, env)
		}
	}
}

// install.sh writes the options as TOML strings with a small quoting
// function; a value with quotes, backslashes, a tab or a newline must read
// back unchanged, and a value with another control character is refused.
func TestInstallWritesOptionsAsTOMLStrings(t *testing.T) {
	sh, err := exec.LookPath("dash")
	if err != nil {
		sh = "sh"
	}
	install := string(readFile(t, installFile))
	var funcs []string
	for _, name := range []string{"toml_string", "setting"} {
		m := regexp.MustCompile(`(?ms)^` + name + `\(\) \{.*?^\}$|^` + name + `\(\) \{[^\n]*\}$`).FindString(install)
		if m == "" {
			t.Fatalf("install.sh has no function %s", name)
		}
		funcs = append(funcs, m)
	}
	values := []string{
		`plain`,
		``,
		`say "hi" \\ and \n, not a newline`,
		`C:\path\`,
		"tab\there\r\nline two",
		"ends with newlines\n\n",
		`arn:aws:iam::123456789012:role/dev's`,
	}
	script := "die() { echo \"die: $*\" >&2; exit 1; }\n" + strings.Join(funcs, "\n") + "\n"
	for i := range values {
		script += fmt.Sprintf("setting k%d \"$V%d\"\n", i, i)
	}
	cmd := exec.Command(sh, "-c", script)
	for i, v := range values {
		cmd.Env = append(cmd.Env, fmt.Sprintf("V%d=%s", i, v))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", sh, err, out)
	}
	var got map[string]string
	if _, err := toml.Decode(string(out), &got); err != nil {
		t.Fatalf("install.sh wrote TOML that does not parse: %v\n%s", err, out)
	}
	for i, v := range values {
		if got[fmt.Sprintf("k%d", i)] != v {
			t.Errorf("value %q came back as %q; line:\n%s", v, got[fmt.Sprintf("k%d", i)], out)
		}
	}

	bad := exec.Command(sh, "-c", "die() { echo \"die: $*\" >&2; exit 1; }\n"+strings.Join(funcs, "\n")+"\nsetting k \"$V\"")
	bad.Env = []string{"V=a\x1bb"}
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "control character") {
		t.Errorf("a value with an escape character: %v\n%s", err, out)
	}
}

// The README's options table is generated from devcontainer-feature.json:
// go test ./devcontainer-feature -run README -update
const (
	tableBegin = "<!-- feature-options:begin (generated from devcontainer-feature.json: go test ./devcontainer-feature -run README -update) -->"
	tableEnd   = "<!-- feature-options:end -->"
)

func optionsTable(f feature) string {
	var b strings.Builder
	b.WriteString("| option | default | values | description |\n|---|---|---|---|\n")
	for _, name := range f.optionOrder {
		o := f.Options[name]
		def := "`" + fmt.Sprint(o.Default) + "`"
		if def == "``" {
			def = "(none)"
		}
		values := strings.Join(o.Enum, ", ")
		if values == "" && len(o.Proposals) > 0 {
			values = "e.g. " + strings.Join(o.Proposals, ", ")
		}
		desc := strings.ReplaceAll(o.Description, "|", `\|`)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", name, def, values, desc)
	}
	return b.String()
}

func TestREADMEOptionsTableIsCurrent(t *testing.T) {
	readme := string(readFile(t, readmeFile))
	begin := strings.Index(readme, tableBegin)
	end := strings.Index(readme, tableEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README.md lacks the markers %q and %q around the Feature's options table", tableBegin, tableEnd)
	}
	want := tableBegin + "\n" + optionsTable(readFeature(t)) + tableEnd
	got := readme[begin : end+len(tableEnd)]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(readmeFile, []byte(readme[:begin]+want+readme[end+len(tableEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's Feature options table is stale: run go test ./devcontainer-feature -run README -update\n--- got\n%s\n--- want\n%s", got, want)
}

var exampleBlock = regexp.MustCompile("(?s)<!-- devcontainer-json-example -->\\s*```jsonc?\\n(.*?)```")

func TestREADMEDevcontainerJSONIsValid(t *testing.T) {
	m := exampleBlock.FindStringSubmatch(string(readFile(t, readmeFile)))
	if m == nil {
		t.Fatal("README.md lacks the devcontainer.json example (a ```json block after <!-- devcontainer-json-example -->)")
	}
	var example struct {
		Features        map[string]map[string]any    `json:"features"`
		PortsAttributes map[string]map[string]string `json:"portsAttributes"`
	}
	if err := json.Unmarshal([]byte(m[1]), &example); err != nil {
		t.Fatalf("the README's devcontainer.json is not JSON: %v", err)
	}
	f := readFeature(t)
	found := false
	for ref, opts := range example.Features {
		if !strings.Contains(ref, "/credd:") {
			continue
		}
		found = true
		for name := range opts {
			if _, ok := f.Options[name]; !ok {
				t.Errorf("the example sets option %q, which the Feature does not have", name)
			}
		}
	}
	if !found {
		t.Error("the example does not use the credd Feature")
	}
	if example.PortsAttributes[strconv.Itoa(config.DefaultPort)]["onAutoForward"] != "ignore" {
		t.Errorf("the example's portsAttributes do not keep port %d from being forwarded", config.DefaultPort)
	}

	sch := compileSchema(t, filepath.Join(schemasDir(t), "devContainer.base.schema.json"))
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the README's devcontainer.json does not validate against the official schema:\n%v", err)
	}
}
