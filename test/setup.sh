#!/usr/bin/env bash
# Installs what the test suites need beyond Go: Debian's AWS CLI v2 and
# boto3 (compatibility suite), debootstrap, jq and shellcheck (the Feature's
# chroot test and lint), minisign (the Feature's signed checksums), Debian's docker.io (the container suite, unless a
# Docker engine is installed already), and the pinned npm packages (JS SDKs,
# the oidc-provider test IdP, the devcontainers CLI). Idempotent and quiet;
# test/run.sh calls it first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go modules (credd's, and the aws-sdk-go v1 client's, a module of its own)"
go mod download
go mod download -C test/compat/goclient/v1

missing=""
for t in debootstrap jq shellcheck minisign; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
for p in awscli python3-boto3; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
# test/container starts its own dockerd and uses /usr/bin/docker: another
# engine's packages (docker-ce, moby) conflict with docker.io, and serve too.
{ command -v dockerd >/dev/null 2>&1 && [ -x /usr/bin/docker ]; } || missing="$missing docker.io"
if [ -n "$missing" ]; then
	echo "== apt packages:$missing"
	if [ "$(id -u)" -ne 0 ]; then
		echo "test/setup.sh: run as root (or install these Debian packages):$missing" >&2
		exit 1
	fi
	# Install from the current package lists; refresh them only if that fails.
	apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
	apt_install 2>/dev/null || { apt-get update -qq && apt_install; }
fi

echo "== npm packages (pinned by lock files)"
npm ci --prefix test/login/idp --no-audit --no-fund --loglevel=error
npm ci --prefix devcontainer-feature --no-audit --no-fund --loglevel=error
npm ci --prefix test/compat/node --ignore-scripts --no-audit --no-fund --loglevel=error
