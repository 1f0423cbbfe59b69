#!/usr/bin/env bash
# Packages the Feature with the pinned devcontainers CLI (package.json and its
# lock beside src/) as the release workflow does, and checks that the
# packaged metadata carries every option and the containerEnv, and that the
# tarball holds the scripts and nothing built locally.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/devcontainer ]; then
	echo "installing the pinned devcontainers CLI (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

node_modules/.bin/devcontainer features package src --output-folder "$out" --force-clean-output-folder --log-level info 2>&1 | sed 's/^/    /'

fail=0
check() { # label cmd...
	local label=$1
	shift
	if "$@"; then echo "ok    $label"; else echo "FAIL  $label" >&2; fail=1; fi
}
collection=$out/devcontainer-collection.json
src=src/credd/devcontainer-feature.json
same() { [ "$(jq -S "$1" "$collection")" = "$(jq -S "$2" "$src")" ]; }
check "the collection lists the credd Feature" same '.features[0].id' '.id'
check "the packaged metadata carries every option" same '.features[0].options' '.options'
check "the packaged metadata carries containerEnv" same '.features[0].containerEnv' '.containerEnv'
check "... and the entrypoint" same '.features[0].entrypoint' '.entrypoint'
files=$(tar -tf "$out/devcontainer-feature-credd.tgz" | sed 's|^\./||' | sort)
for f in devcontainer-feature.json install.sh entrypoint.sh lifecycle.sh NOTES.md; do
	check "the package holds $f" grep -qx "$f" <<<"$files"
done
check "the package holds no locally built binary" bash -c '! grep -q "^bin/" <<<"$1"' - "$files"
[ "$fail" -eq 0 ]
