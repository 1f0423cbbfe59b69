#!/usr/bin/env bash
# Lints the Feature's shell scripts with shellcheck (install.sh and the
# entrypoint as POSIX sh) and the GitHub workflows with actionlint, fetched
# from the Go module proxy at a pinned version.
set -euo pipefail
cd "$(dirname "$0")/../.."

actionlint=github.com/rhysd/actionlint/cmd/actionlint@v1.7.12

if command -v shellcheck >/dev/null 2>&1; then
	shellcheck -S warning -s sh devcontainer-feature/src/credd/*.sh
	shellcheck -S warning devcontainer-feature/test/*.sh devcontainer-feature/test/credd/*.sh devcontainer-feature/test/chroot/*
	echo "ok    shellcheck"
elif [ "${CI:-}" = true ]; then
	echo "lint: shellcheck is missing (.ci/run installs it)" >&2
	exit 1
else
	echo "lint: SKIP shellcheck (apt-get install shellcheck)"
fi

# actionlint also runs shellcheck on every run: block when it is installed.
go run "$actionlint" -no-color .github/workflows/*.yml
echo "ok    actionlint"
