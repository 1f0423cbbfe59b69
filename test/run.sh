#!/usr/bin/env bash
# The test command from the README. It installs what the suites need
# (test/setup.sh), then runs static checks, every Go test with the race
# detector (unit, end to end, the real-SDK compatibility suite, the device
# login against a real IdP), the reliability suite on its own, brief
# fuzzing, and the devcontainer Feature's lint, packaging and chroot tests,
# and its suite in real containers (test/container).
#
# It checks docs/compatibility.md and docs/reliability.md against this run
# and fails if they are stale (their outcomes, not their numbers); with
# CREDD_WRITE_DOCS=1 (make docs) it rewrites them instead.
set -euo pipefail
cd "$(dirname "$0")/.."

bash test/setup.sh

echo "== gofmt"
# shellcheck disable=SC2046 # one argument per file
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path '*/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...
for mod in test/compat/goclient/*/go.mod; do # modules of their own, outside ./...
	go vet -C "$(dirname "$mod")" ./...
done

echo "== staticcheck (pinned in go.mod as a tool)"
go tool staticcheck ./...

echo "== go test -race"
# shellcheck disable=SC2046 # one argument per package
go test -race -count=1 -timeout 20m $(go list ./... | grep -v -e '/test/reliability$' -e '/test/container$')

echo "== compatibility matrix (test/compat, which checked docs/compatibility.md against it, or with CREDD_WRITE_DOCS=1 wrote it)"
cat test/compat/results/matrix.md

echo "== reliability suite, alone so that load from the other suites does not skew it"
# It records each check it makes here; its soak runs CREDD_SOAK.
CREDD_RELIABILITY_REPORT="$(mktemp)"
export CREDD_RELIABILITY_REPORT
trap 'rm -f "$CREDD_RELIABILITY_REPORT"' EXIT
export CREDD_SOAK="${CREDD_SOAK:-60s}"
go test -race -count=1 -timeout 20m ./test/reliability/

echo "== fuzz (every target briefly; seeds in each package's testdata/fuzz)"
bash test/fuzz.sh

if [ "${CREDD_WRITE_DOCS:-}" = 1 ]; then
	echo "== reliability report (CREDD_WRITE_DOCS=1: rewrites docs/reliability.md)"
	go run ./test/reliability/render -in "$CREDD_RELIABILITY_REPORT" -out docs/reliability.md
else
	echo "== reliability report (checks docs/reliability.md against this run; make docs rewrites it)"
	go run ./test/reliability/render -in "$CREDD_RELIABILITY_REPORT" -check docs/reliability.md
fi

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
