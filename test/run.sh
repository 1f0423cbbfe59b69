#!/usr/bin/env bash
# The test command from the README. It installs what the suites need
# (test/setup.sh), then runs static checks, every Go test with the race
# detector (unit, end to end, the real-SDK compatibility suite, the device
# login against a real IdP), the reliability suite on its own, brief
# fuzzing, and the devcontainer Feature's lint, packaging and chroot tests,
# and its suite in real containers (test/container).
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...
go vet -C test/compat/goclient/v1 ./... # a module of its own, outside ./...

echo "== staticcheck (pinned in go.mod as a tool)"
go tool staticcheck ./...

echo "== go test -race"
go test -race -count=1 -timeout 20m $(go list ./... | grep -v -e '/test/reliability' -e '/test/container')

echo "== compatibility matrix (test/compat; a complete run rewrites docs/compatibility.md)"
cat test/compat/results/matrix.md

echo "== reliability suite, alone so that load from the other suites does not skew it"
# It records each check it makes here; its soak runs CREDD_SOAK.
export CREDD_RELIABILITY_REPORT="$(mktemp)"
export CREDD_SOAK="${CREDD_SOAK:-60s}"
go test -race -count=1 -timeout 20m ./test/reliability/

echo "== fuzz (every target briefly; seeds in each package's testdata/fuzz)"
bash test/fuzz.sh

echo "== reliability report (regenerates docs/reliability.md)"
go run ./test/reliability/render -in "$CREDD_RELIABILITY_REPORT" -out docs/reliability.md
rm -f "$CREDD_RELIABILITY_REPORT"

echo "== devcontainer Feature: lint, package, chroot test"
bash devcontainer-feature/test/lint.sh
bash devcontainer-feature/test/package-test.sh
bash devcontainer-feature/test/chroot-test.sh

echo "== devcontainer Feature in real containers (test/container: its own dockerd, the pinned devcontainers CLI, offline)"
container_log=$(mktemp)
if ! go test -count=1 -timeout 45m -v ./test/container/ >"$container_log" 2>&1; then
	tail -n 300 "$container_log"
	rm -f "$container_log"
	exit 1
fi
grep -E '^(container suite|  (ok|FAIL|skip) )' "$container_log"
rm -f "$container_log"

echo "== benchmark scripts, smoke mode (BENCHMARKS.md comes from a full bash bench/run.sh)"
bash bench/run.sh --smoke
