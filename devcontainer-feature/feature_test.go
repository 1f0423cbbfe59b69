// Package feature checks the devcontainer Feature's metadata: the official
// schema, the contract with the daemon and install.sh, and the README.
package feature

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
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

// An option named like a daemon setting (bridgeUrl and --bridge-url) is
// written to the defaults file under that setting's config-file key, so an
// option added to the JSON cannot be forgotten in install.sh.
func TestInstallWritesEveryOptionThatIsADaemonSetting(t *testing.T) {
	f := readFeature(t)
	install := string(readFile(t, installFile))
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	config.RegisterDaemonFlags(fs)
	n := 0
	for _, name := range f.optionOrder {
		setting := regexp.MustCompile(`[A-Z]`).ReplaceAllStringFunc(name, func(s string) string { return "-" + strings.ToLower(s) })
		if fs.Lookup(setting) == nil {
			continue
		}
		n++
		key := strings.ReplaceAll(setting, "-", "_")
		if !strings.Contains(install, "setting "+key+` "$`+strings.ToUpper(name)+`"`) {
			t.Errorf("option %s: install.sh never writes it as %s to the defaults file", name, key)
		}
	}
	if n == 0 {
		t.Fatal("no option is named like a daemon setting: the test checks nothing")
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

// installFuncs returns install.sh's functions of these names, to run them
// without root and without installing anything.
func installFuncs(t *testing.T, names ...string) string {
	t.Helper()
	install := string(readFile(t, installFile))
	var funcs []string
	for _, name := range names {
		m := regexp.MustCompile(`(?ms)^` + name + `\(\) \{[^\n]*\}$|^` + name + `\(\) \{.*?^\}$`).FindString(install)
		if m == "" {
			t.Fatalf("install.sh has no function %s", name)
		}
		funcs = append(funcs, m)
	}
	return strings.Join(funcs, "\n") + "\n"
}

// The version option pins the release the Feature was published with, in
// install.sh as in the metadata, and the release workflow refuses a tag
// that is not it; each option's default is install.sh's.
func TestFeaturePinsItsRelease(t *testing.T) {
	f := readFeature(t)
	if got, want := f.Options["version"].Default, "v"+f.Version; got != want {
		t.Errorf("option version defaults to %v, want %s (the Feature's own version: a pinned release, not latest)", got, want)
	}
	if !slices.Contains(f.Options["version"].Proposals, "latest") {
		t.Errorf("option version does not propose latest")
	}
	install := string(readFile(t, installFile))
	for _, name := range f.optionOrder {
		env := strings.ToUpper(name)
		if want := env + "=${" + env + ":-" + fmt.Sprint(f.Options[name].Default) + "}\n"; !strings.Contains(install, want) {
			t.Errorf("install.sh's default for %s is not the option's: want %q", name, strings.TrimSpace(want))
		}
	}
	release := string(readFile(t, "../.github/workflows/release.yml"))
	for _, want := range []string{"@CREDD_RELEASE_PUBLIC_KEY@", "SHA256SUMS.minisig", ".options.version.default"} {
		if !strings.Contains(release, want) {
			t.Errorf("the release workflow does not mention %s", want)
		}
	}
	if strings.Count(install, "@CREDD_RELEASE_PUBLIC_KEY@") != 1 || !strings.Contains(install, "\nCREDD_RELEASE_PUBLIC_KEY='@CREDD_RELEASE_PUBLIC_KEY@'\n") {
		t.Errorf("install.sh must hold the release key placeholder once, as CREDD_RELEASE_PUBLIC_KEY='@CREDD_RELEASE_PUBLIC_KEY@' (the release workflow replaces it)")
	}
}

// install.sh's download against a loopback mirror: a SHA256SUMS signed
// with a throwaway minisign key, and the ways it can be wrong.
func TestInstallVerifiesTheSignedChecksums(t *testing.T) {
	for _, c := range []string{"minisign", "curl"} {
		if _, err := exec.LookPath(c); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is missing (test/setup.sh installs it)", c)
			}
			t.Skipf("%s is missing: apt-get install %s", c, c)
		}
	}
	sh, err := exec.LookPath("dash")
	if err != nil {
		sh = "sh"
	}
	arch := map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skipf("no credd release for %s", runtime.GOARCH)
	}
	asset := "credd-linux-" + arch
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("minisign", "-G", "-W", "-p", "key.pub", "-s", "key.sec")
	pub := strings.TrimSpace(string(readFile(t, filepath.Join(dir, "key.pub"))))
	key := pub[strings.LastIndex(pub, "\n")+1:]

	rel := filepath.Join(dir, "release")
	binary := []byte("#!/bin/sh\necho credd\n")
	// release makes <path> with the binary, its sums and their signature
	// for a trusted comment naming signedTag.
	release := func(path, signedTag string) string {
		d := filepath.Join(rel, path)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, asset), binary, 0o755); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(binary)
		sums := fmt.Sprintf("%x  %s\n%064d  credd-linux-other\n", sum, asset, 0)
		if err := os.WriteFile(filepath.Join(d, "SHA256SUMS"), []byte(sums), 0o644); err != nil {
			t.Fatal(err)
		}
		run("minisign", "-S", "-s", "key.sec", "-m", filepath.Join(d, "SHA256SUMS"), "-t", "credd "+signedTag+" SHA256SUMS")
		return d
	}
	release("download/v1.2.3", "v1.2.3")
	release("latest/download", "v1.2.3")
	tampered := release("download/v1.2.4", "v1.2.4")
	if err := os.WriteFile(filepath.Join(tampered, "SHA256SUMS"), fmt.Appendf(nil, "%064d  %s\n", 1, asset), 0o644); err != nil {
		t.Fatal(err)
	}
	unsigned := release("download/v1.2.5", "v1.2.5")
	if err := os.Remove(filepath.Join(unsigned, "SHA256SUMS.minisig")); err != nil {
		t.Fatal(err)
	}
	release("download/v1.2.6", "v1.0.0") // an older release's signed sums, replayed

	files := http.FileServer(http.Dir(rel))
	plain := httptest.NewServer(files)
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := strings.CutPrefix(r.URL.Path, "/downgrade"); ok {
			http.Redirect(w, r, plain.URL+p, http.StatusFound)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer tls.Close()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tls.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	// noMinisign is a PATH without minisign.
	noMinisign := filepath.Join(dir, "bin")
	if err := os.Mkdir(noMinisign, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if e.Name() != "minisign" {
				_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(noMinisign, e.Name()))
			}
		}
	}

	script := installFuncs(t, "say", "die", "check_download_url", "arch", "sha256", "ensure_downloader", "fetch",
		"is_minisign_key", "unsigned", "verify_signature", "download") + "check_download_url && download \"$DEST\"\n"
	for _, tt := range []struct {
		name    string
		env     []string
		ok      bool
		outputs []string
	}{
		{"a good signature", []string{"CHECKSUMPUBLICKEY=" + key}, true,
			[]string{"verified the minisign signature of SHA256SUMS (credd v1.2.3 SHA256SUMS, key " + key + ")", "verified SHA-256"}},
		{"a good signature by the embedded release key", []string{"CREDD_RELEASE_PUBLIC_KEY=" + key, "VERSION=1.2.3"}, true,
			[]string{"verified the minisign signature"}},
		{"latest, whose tag is not known", []string{"CHECKSUMPUBLICKEY=" + key, "VERSION=latest"}, true,
			[]string{"downloading " + tls.URL + "/latest/download/" + asset, "verified the minisign signature"}},
		{"a tampered SHA256SUMS", []string{"CHECKSUMPUBLICKEY=" + key, "VERSION=v1.2.4"}, false,
			[]string{"the signature of " + tls.URL + "/download/v1.2.4/SHA256SUMS does not verify"}},
		{"another key", []string{"CHECKSUMPUBLICKEY=RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"}, false,
			[]string{"does not verify with the key"}},
		{"an older release's signed sums", []string{"CHECKSUMPUBLICKEY=" + key, "VERSION=v1.2.6"}, false,
			[]string{`is signed, but for "credd v1.0.0 SHA256SUMS", not for v1.2.6`}},
		{"no signature, required", []string{"CHECKSUMPUBLICKEY=" + key, "VERSION=v1.2.5", "REQUIRESIGNATURE=true"}, false,
			[]string{"requireSignature is set, but " + tls.URL + "/download/v1.2.5/SHA256SUMS.minisig could not be downloaded"}},
		{"no signature, not required", []string{"CHECKSUMPUBLICKEY=" + key, "VERSION=v1.2.5"}, true,
			[]string{"warning: " + tls.URL + "/download/v1.2.5/SHA256SUMS.minisig could not be downloaded", "only the SHA-256 checksum was checked"}},
		{"no minisign", []string{"CHECKSUMPUBLICKEY=" + key, "PATH=" + noMinisign}, true,
			[]string{"warning: minisign is not installed, so only the SHA-256 checksum was checked", "verified SHA-256"}},
		{"no minisign, signature required", []string{"CHECKSUMPUBLICKEY=" + key, "PATH=" + noMinisign, "REQUIRESIGNATURE=true"}, false,
			[]string{"requireSignature is set, but minisign is not installed"}},
		{"no release key (a checkout)", nil, true,
			[]string{"warning: this install.sh carries no release key"}},
		{"no release key, signature required", []string{"REQUIRESIGNATURE=true"}, false,
			[]string{"requireSignature is set, but this install.sh carries no release key"}},
		{"a checksumPublicKey that is no key", []string{"CHECKSUMPUBLICKEY=untrusted comment"}, false,
			[]string{"is not a minisign public key"}},
		{"http is refused", []string{"CHECKSUMPUBLICKEY=" + key, "DOWNLOADURL=" + plain.URL}, false,
			[]string{"downloadUrl " + plain.URL + " is plain http", "insecureDownload"}},
		{"http with insecureDownload", []string{"CHECKSUMPUBLICKEY=" + key, "DOWNLOADURL=" + plain.URL, "INSECUREDOWNLOAD=true"}, true,
			[]string{"warning: downloading over plain http", "verified the minisign signature"}},
		{"a redirect from https to http is refused", []string{"CHECKSUMPUBLICKEY=" + key, "DOWNLOADURL=" + tls.URL + "/downgrade"}, false,
			[]string{"could not download"}},
		{"another scheme is refused", []string{"DOWNLOADURL=ftp://mirror.example/credd"}, false,
			[]string{`downloadUrl "ftp://mirror.example/credd": use an https:// URL`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "credd")
			cmd := exec.Command(sh, "-c", script)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + t.TempDir(), "DEST=" + dest,
				"DOWNLOADURL=" + tls.URL, "VERSION=v1.2.3", "INSECUREDOWNLOAD=false", "REQUIRESIGNATURE=false",
				"CHECKSUMPUBLICKEY=", "CREDD_RELEASE_PUBLIC_KEY=@CREDD_RELEASE_PUBLIC_KEY@", "CURL_CA_BUNDLE=" + ca}, tt.env...)
			out, err := cmd.CombinedOutput()
			t.Logf("install.sh:\n%s", out)
			if (err == nil) != tt.ok {
				t.Errorf("succeeded: %v, want %v\n%s", err == nil, tt.ok, out)
			}
			for _, want := range tt.outputs {
				if !strings.Contains(string(out), want) {
					t.Errorf("the output does not say %q:\n%s", want, out)
				}
			}
			got, err := os.ReadFile(dest)
			if tt.ok && !bytes.Equal(got, binary) {
				t.Errorf("the installed binary is %q (%v)", got, err)
			}
			if !tt.ok && err == nil {
				t.Errorf("a failed download installed %s", dest)
			}
		})
	}
}
