#!/usr/bin/env bash
# Installs what the test suites need beyond Go and Node (20 or later) on a
# Debian 12 machine: Debian's AWS CLI v2 and boto3 (compatibility suite),
# gcc (the race detector needs cgo), debootstrap, jq and shellcheck (the
# Feature's chroot test and lint), minisign (the Feature's signed
# checksums), Debian's docker.io (the container suite, unless a Docker
# engine is installed already); the pip AWS CLI v1, boto3 and moto_server,
# pinned by test/compat/python/requirements.txt, into a virtualenv unless
# the compatibility suite finds them already; and the pinned npm packages
# (JS SDKs, the oidc-provider test IdP, the devcontainers CLI). Idempotent
# and quiet; test/run.sh calls it first.
#
# CREDD_SETUP_DRY_RUN=1 prints what it would install and installs nothing.
# CREDD_TEST_VENV is the virtualenv (default ~/.cache/credd-test-venv),
# CREDD_TEST_PYTHON the Python that makes it (default python3, 3.11 or later).
set -euo pipefail
cd "$(dirname "$0")/.."

dry_run=${CREDD_SETUP_DRY_RUN:-}
# act runs a command, or with CREDD_SETUP_DRY_RUN=1 only prints it.
act() {
	if [ -n "$dry_run" ]; then
		echo "   would run: $*"
	else
		"$@"
	fi
}

echo "== go modules (credd's, and each Go client's of test/compat, modules of their own)"
act go mod download
for modfile in test/compat/goclient/*/go*.mod; do
	act go mod download -C "$(dirname "$modfile")" -modfile "$(basename "$modfile")"
done

# --- The pip clients, looked for as test/compat looks for them
# (clients_test.go, pipProgram.find): the path in its variable, this
# virtualenv, pyenv, then PATH, never Debian's /usr/bin ones (other rows).
venv=${CREDD_TEST_VENV:-$HOME/.cache/credd-test-venv}
python=${CREDD_TEST_PYTHON:-python3}

# pip_usable NAME PATH: PATH is the pip client the suite wants.
pip_usable() {
	[ -f "$2" ] && [ -x "$2" ] || return 1
	case $1 in
	aws) "$2" --version 2>&1 | grep -q '^aws-cli/1\.' ;; # not a runner's v2
	python3) "$2" -c 'import boto3' >/dev/null 2>&1 ;;
	*) true ;;
	esac
}

# pip_found NAME VARIABLE: prints where the suite would find NAME, or fails
# (with 2 when VARIABLE names something else, which the suite would refuse).
pip_found() {
	local name=$1 var=$2 p dir pyenv
	if [ -n "${!var:-}" ]; then
		if pip_usable "$name" "${!var}"; then
			echo "\$$var"
			return
		fi
		echo "test/setup.sh: $var=${!var} is not a usable pip $name: unset it or fix it" >&2
		exit 2
	fi
	if pip_usable "$name" "$venv/bin/$name"; then
		echo "$venv"
		return
	fi
	pyenv=$(command -v pyenv || echo "${PYENV_ROOT:-$HOME/.pyenv}/bin/pyenv")
	if p=$("$pyenv" which "$name" 2>/dev/null) && [[ $p == */.pyenv/versions/* ]] && pip_usable "$name" "$p"; then
		echo "pyenv, $p"
		return
	fi
	local IFS=:
	for dir in $PATH; do
		case $dir in "" | */.pyenv/shims*) continue ;; esac
		case $(realpath -q "$dir" || true) in /usr/bin | /bin) continue ;; esac
		if pip_usable "$name" "$dir/$name"; then
			echo "PATH, $dir/$name"
			return
		fi
	done
	return 1
}

pip_missing=""
for t in aws:CREDD_COMPAT_AWS_V1 python3:CREDD_COMPAT_PYTHON moto_server:CREDD_COMPAT_MOTO; do
	if where=$(pip_found "${t%%:*}" "${t#*:}"); then
		echo "== pip ${t%%:*}: found in $where"
	elif [ $? -eq 2 ]; then
		exit 1
	else
		pip_missing="$pip_missing ${t%%:*}"
	fi
done

missing=""
for t in debootstrap jq shellcheck minisign; do command -v "$t" >/dev/null 2>&1 || missing="$missing $t"; done
command -v gcc >/dev/null 2>&1 || missing="$missing gcc libc6-dev" # go test -race needs cgo
command -v ip >/dev/null 2>&1 || missing="$missing iproute2" # the chroot test's loopback
# The matrix's Debian rows are Debian 12's own packages (AWS CLI v2, boto3,
# awscrt, the Ruby SDK, restic, rclone): another distribution has other
# versions, or none (Ubuntu 24.04 has no awscli).
# shellcheck source=/dev/null
os_id=$(. /etc/os-release 2>/dev/null && echo "${ID:-}")
for p in awscli python3-boto3 python3-awscrt ruby-aws-sdk-core restic rclone; do
	dpkg -s "$p" >/dev/null 2>&1 && continue
	if [ "$os_id" = debian ]; then
		missing="$missing $p"
	else
		echo "== not installed: Debian's $p, a row of the compatibility matrix that needs Debian 12 (here: ${os_id:-unknown});" \
			"test/compat skips it, or fails under CI=true: run the tests in Debian 12 (CI uses a debian:12 container)"
	fi
done
# test/container starts its own dockerd and uses /usr/bin/docker: another
# engine's packages (docker-ce, moby) conflict with docker.io, and serve too.
{ command -v dockerd >/dev/null 2>&1 && [ -x /usr/bin/docker ]; } || missing="$missing docker.io"
# A virtualenv needs the venv and ensurepip modules, which Debian and Ubuntu
# package apart from python3 (python3-venv).
if [ -n "$pip_missing" ] && ! [ -x "$venv/bin/pip" ]; then
	if ! command -v "$python" >/dev/null 2>&1; then
		if [ "$python" != python3 ]; then
			echo "test/setup.sh: CREDD_TEST_PYTHON=$python: not found" >&2
			exit 1
		fi
		missing="$missing python3 python3-venv"
	elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
		missing="$missing python3-venv"
	fi
fi
if [ -n "$missing" ]; then
	echo "== apt packages:$missing"
	if [ "$(id -u)" -ne 0 ] && [ -z "$dry_run" ]; then
		echo "test/setup.sh: run as root (or install these Debian packages):$missing" >&2
		exit 1
	fi
	# Install from the current package lists; refresh them only if that fails.
	# shellcheck disable=SC2086 # $missing is a list of package names
	apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
	if [ -n "$dry_run" ]; then
		echo "   would run: apt-get install -y -qq --no-install-recommends$missing (after apt-get update if that fails)"
	else
		apt_install 2>/dev/null || { apt-get update -qq && apt_install; }
	fi
fi

if [ -n "$pip_missing" ]; then
	echo "== pip packages (test/compat/python/requirements.txt) into $venv, for:$pip_missing"
	# A virtualenv of its own: Debian's and Ubuntu's system Python refuses
	# pip installs (PEP 668, "externally managed").
	if ! [ -x "$venv/bin/pip" ]; then
		if [ -z "$dry_run" ] && ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
			echo "test/setup.sh: $python is Python $("$python" -c 'import platform; print(platform.python_version())');" \
				"the pins in test/compat/python/requirements.txt need 3.11 or later: set CREDD_TEST_PYTHON to one" >&2
			exit 1
		fi
		act "$python" -m venv "$venv"
	fi
	act "$venv/bin/pip" install --quiet --disable-pip-version-check --require-virtualenv -r test/compat/python/requirements.txt
fi

echo "== npm packages (pinned by lock files)"
if ! node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null) || [ "$node_major" -lt 20 ]; then
	echo "test/setup.sh: the suites need Node 20 or later, with npm (found: $(node --version 2>/dev/null || echo none)):" \
		"install it (actions/setup-node in CI, or https://nodejs.org/en/download)" >&2
	[ -n "$dry_run" ] || exit 1
fi
act npm ci --prefix test/login/idp --no-audit --no-fund --loglevel=error
act npm ci --prefix devcontainer-feature --no-audit --no-fund --loglevel=error
for dir in test/compat/node*/; do # the JavaScript clients, a lock file each
	act npm ci --prefix "${dir%/}" --ignore-scripts --no-audit --no-fund --loglevel=error
done
