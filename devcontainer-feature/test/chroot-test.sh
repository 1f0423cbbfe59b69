#!/usr/bin/env bash
# Tests the devcontainer Feature for real where there is no Docker engine: a
# Debian bookworm root made by debootstrap (cached under $CREDD_CI_CACHE,
# keyed by a hash of what goes into it) stands in for the container. In
# private mount, network and pid namespaces (so port 9911 is free, nothing
# binds outside, and every process and mount dies with the test) it runs
# install.sh as root with a locally built static binary, the entrypoint as
# the container user, and the scenario scripts of test/credd as the remote
# user, with containerEnv and a login shell as `devcontainer exec` would.
#
# Needs root, debootstrap, unshare, jq and go, and minisign (copied into the
# root, with its libsodium, for the signed-download tests). Without root or
# debootstrap it skips, except under CI=true, where it fails.
#
# `chroot-test.sh --rootfs-only` only builds (or finds) the cached root and
# prints its path as the last line: the container suite (test/container)
# imports it as its base image.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
feature=$here/../src/credd
tests=$here/credd
user=vscode # the scenarios' remoteUser

if [ "${1:-}" != --inside ]; then
	missing=
	[ "$(id -u)" = 0 ] || missing="root"
	for c in debootstrap unshare jq go minisign; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	if [ -n "$missing" ]; then
		if [ "${CI:-}" = true ]; then
			echo "chroot-test: missing:$missing (.ci/run installs them)" >&2
			exit 1
		fi
		echo "chroot-test: SKIP: needs$missing (run as root after: apt-get install debootstrap jq minisign)"
		exit 0
	fi

	suite=bookworm
	mirror=${CREDD_CI_MIRROR:-http://deb.debian.org/debian}
	packages="awscli curl ca-certificates"
	cache=${CREDD_CI_CACHE:-/var/cache/credd-ci}
	key=$(printf '%s\n' "rootfs v1" "$suite" minbase "$mirror" "$(dpkg --print-architecture 2>/dev/null || uname -m)" "$packages" | sha256sum | cut -c1-16)
	rootfs=$cache/rootfs-$suite-$key
	t0=$SECONDS

	echo "== debian root ($suite, minbase + $packages)"
	mkdir -p "$cache"
	exec 8>"$cache/lock"
	flock -w 900 8
	if [ -e "$rootfs/.credd-ready" ]; then
		echo "cached: $rootfs"
	else
		for old in "$cache"/rootfs-*; do
			[ -e "$old" ] && rm -rf --one-file-system "$old"
		done
		tmp=$rootfs.tmp
		echo "building $rootfs (debootstrap; log in $cache/build.log)"
		if ! {
			debootstrap --variant=minbase "$suite" "$tmp" "$mirror" &&
				cp /etc/resolv.conf "$tmp/etc/resolv.conf" &&
				printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d" && chmod 0755 "$tmp/usr/sbin/policy-rc.d" &&
				unshare --mount --propagation private -- sh -c '
					mount -t proc proc "$1/proc" &&
					chroot "$1" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $2 && apt-get clean"
				' - "$tmp" "$packages"
		} >"$cache/build.log" 2>&1; then
			tail -n 30 "$cache/build.log" >&2
			echo "chroot-test: building the Debian root failed (full log: $cache/build.log)" >&2
			exit 1
		fi
		rm -rf "$tmp/var/lib/apt/lists"/*_* 2>/dev/null || true
		touch "$tmp/.credd-ready"
		mv "$tmp" "$rootfs"
	fi
	exec 8>&-
	echo "debian root ready in $((SECONDS - t0))s"
	if [ "${1:-}" = --rootfs-only ]; then
		echo "$rootfs"
		exit 0
	fi

	work=$(mktemp -d /tmp/credd-chroot.XXXXXX)
	cleanup() {
		if grep -q " $work" /proc/self/mountinfo; then
			echo "chroot-test: $work still has mounts; not removing it" >&2
			return
		fi
		rm -rf --one-file-system "$work"
	}
	trap cleanup EXIT

	echo "== build a static credd"
	repo=$(cd "$here/../.." && pwd)
	(cd "$repo" && CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/credd-dev/credd/daemon/cli.Version=v0.0.0-chroot" -o "$work/credd" ./cmd/credd)
	# minisign and the libraries the root lacks go in later (both Debian).
	ms=$(command -v minisign)
	mkdir -p "$work/minisign-files"
	for f in "$ms" $(ldd "$ms" | awk '$3 ~ /^\// { print $3 }'); do
		cp --parents -L "$f" "$work/minisign-files/"
	done

	t1=$SECONDS
	CT_ROOTFS=$rootfs CT_WORK=$work unshare --mount --net --pid --fork --propagation private -- bash "$0" --inside
	echo "chroot tests took $((SECONDS - t1))s; total $((SECONDS - t0))s"
	exit 0
fi

# ---- inside the namespaces ---------------------------------------------------

root=$CT_WORK/root
mkdir -p "$CT_WORK/upper" "$CT_WORK/ovl" "$root"
unmount() {
	umount -l "$root/dev" 2>/dev/null || true
	umount -l "$root/proc" 2>/dev/null || true
	umount -l "$root" 2>/dev/null || true
}
trap unmount EXIT

ip link set lo up
if ! mount -t overlay overlay -o "lowerdir=$CT_ROOTFS,upperdir=$CT_WORK/upper,workdir=$CT_WORK/ovl" "$root" 2>/dev/null; then
	echo "(no overlayfs here: copying the root)"
	cp -a "$CT_ROOTFS/." "$root/"
fi
mount -t proc proc "$root/proc"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for d in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
	IFS=: read -r n ma mi <<<"$d"
	mknod -m 0666 "$root/dev/$n" c "$ma" "$mi"
done
ln -s /proc/self/fd "$root/dev/fd"

PASS=0
FAIL=0
expect() { # label cmd...
	local label=$1
	shift
	if "$@"; then
		echo "ok    $label"
		PASS=$((PASS + 1))
	else
		echo "FAIL  $label" >&2
		FAIL=$((FAIL + 1))
	fi
}
step() { echo; echo "== $*"; }

sys_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mapfile -t container_env < <(jq -r '.containerEnv | to_entries[] | "\(.key)=\(.value)"' "$feature/devcontainer-feature.json")
state=$(jq -r '.containerEnv.CREDD_STATE_DIR' "$feature/devcontainer-feature.json")

chroot "$root" useradd --create-home --shell /bin/bash --uid 1000 "$user"
uid=$(chroot "$root" id -u "$user")
gid=$(chroot "$root" id -g "$user")

# The devcontainer CLI copies the Feature's folder into the build and runs
# install.sh from it as root, options as upper-case variables.
mkdir -p "$root/tmp/build"
cp -a "$feature" "$root/tmp/build/credd"
install -D -m 0755 "$CT_WORK/credd" "$root/tmp/build/credd/bin/credd"
cp -a "$tests" "$root/tmp/feature-tests"
cp "$here/chroot/dev-container-features-test-lib" "$root/tmp/feature-tests/"

run_install() { # NAME=VALUE... (options)
	chroot "$root" env -i PATH=$sys_path _REMOTE_USER=$user _REMOTE_USER_HOME=/home/$user _CONTAINER_USER=root "$@" \
		sh -c 'cd /tmp/build/credd && ./install.sh'
}
scenario_options() { # scenario
	jq -r --arg s "$1" '.[$s].features.credd // {} | to_entries[] | "\(.key | ascii_upcase)=\(.value)"' "$tests/scenarios.json"
}
# entrypoint runs the Feature's entrypoint with containerEnv, as the
# container user (root, or the remote user with --user), and times it.
# Further NAME=VALUE arguments join the container's environment.
entrypoint() {
	local who=() t
	if [ "${1:-}" = --user ]; then
		who=(--userspec="$uid:$gid" --groups="$gid")
		shift
	fi
	t=$(date +%s%N)
	chroot "${who[@]}" "$root" env -i PATH=$sys_path HOME=/root "${container_env[@]}" "$@" /bin/sh -c /usr/local/share/credd/entrypoint.sh
	echo "entrypoint returned in $((($(date +%s%N) - t) / 1000000)) ms"
}
# scenario runs test/credd/<name>.sh as the remote user in a login shell
# with containerEnv, as `devcontainer features test` does through exec.
scenario() {
	chroot --userspec="$uid:$gid" --groups="$gid" "$root" env -i HOME=/home/$user USER=$user LOGNAME=$user SHELL=/bin/bash \
		LANG=C.UTF-8 PATH=$sys_path "${container_env[@]}" \
		bash -lc 'PATH=$PATH:/tmp/feature-tests; cd /tmp/feature-tests && ./"$0".sh' "$1"
}
daemon_pids() {
	local f
	for f in "$root"/proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in
		*credd\ daemon*) f=${f#"$root"/proc/}; echo "${f%/cmdline}" ;;
		esac
	done
}
daemon_count_is() { [ "$(daemon_pids | wc -l)" -eq "$1" ]; }
supervisor_pids() {
	local f
	for f in "$root"/proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in
		*entrypoint.sh\ --supervise*) f=${f#"$root"/proc/}; echo "${f%/cmdline}" ;;
		esac
	done
}
# as_user runs a command in the root as the remote user, with containerEnv
# and more NAME=VALUE pairs first: as_user [NAME=VALUE...] -- cmd...
as_user() {
	local env=()
	while [ "$1" != -- ]; do env+=("$1"); shift; done
	shift
	chroot --userspec="$uid:$gid" --groups="$gid" "$root" env -i HOME=/home/$user USER=$user PATH=$sys_path "${container_env[@]}" "${env[@]}" "$@"
}
# stop_all stops the supervisors (TERM, or KILL to leave stale state).
stop_all() { # signal
	local p
	for p in $(supervisor_pids); do kill "-$1" "$p" 2>/dev/null || true; done
	[ "$1" = TERM ] || for p in $(daemon_pids); do kill "-$1" "$p" 2>/dev/null || true; done
	wait_daemons 0
	for _ in $(seq 50); do [ -z "$(supervisor_pids)" ] && return 0; sleep 0.1; done
	echo "supervisors left: $(supervisor_pids | tr '\n' ' ')" >&2
	return 1
}
wait_daemons() { # n
	for _ in $(seq 50); do
		daemon_count_is "$1" && return 0
		sleep 0.1
	done
	echo "expected $1 credd daemon(s), found: $(daemon_pids | tr '\n' ' ')" >&2
	return 1
}
daemon_runs_as_user() {
	local pid
	pid=$(daemon_pids | head -n 1)
	[ -n "$pid" ] && [ "$(awk '/^Uid:/ { print $2 }' "$root/proc/$pid/status")" = "$uid" ]
}

step "install.sh from a release: download, verify the signature and SHA-256"
arch=$(case "$(uname -m)" in aarch64 | arm64) echo arm64 ;; *) echo amd64 ;; esac)
# minisign in the image, as a Dockerfile would install it.
(cd "$CT_WORK/minisign-files" && find . -type f) | while read -r f; do
	f=${f#.}
	[ -e "$root$f" ] || install -D -m 0755 "$CT_WORK/minisign-files$f" "$root$f"
done
minisign -G -W -p "$CT_WORK/release.pub" -s "$CT_WORK/release.key" >/dev/null
key=$(tail -n 1 "$CT_WORK/release.pub")
rel=$root/srv/release
release() { # tag [signed-for]
	mkdir -p "$rel/download/$1"
	cp "$CT_WORK/credd" "$rel/download/$1/credd-linux-$arch"
	(cd "$rel/download/$1" && sha256sum "credd-linux-$arch" >SHA256SUMS && echo "0000000000000000000000000000000000000000000000000000000000000000  credd-linux-other" >>SHA256SUMS)
	minisign -S -s "$CT_WORK/release.key" -m "$rel/download/$1/SHA256SUMS" -t "credd ${2:-$1} SHA256SUMS" </dev/null >/dev/null
}
release v9.9.9
release v6.6.6
echo "$(printf 'tampered' | sha256sum | cut -d' ' -f1)  credd-linux-$arch" >"$rel/download/v6.6.6/SHA256SUMS"
release v5.5.5
echo "$(printf 'tampered' | sha256sum | cut -d' ' -f1)  credd-linux-$arch" >"$rel/download/v5.5.5/SHA256SUMS"
rm "$rel/download/v5.5.5/SHA256SUMS.minisig"
release v4.4.4
rm "$rel/download/v4.4.4/SHA256SUMS.minisig"
chroot "$root" python3 -m http.server 8765 --bind 127.0.0.1 --directory /srv/release >"$CT_WORK/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null http://127.0.0.1:8765/ && break; sleep 0.1; done
mirror=DOWNLOADURL=http://127.0.0.1:8765
out=$(run_install "$mirror" VERSION=9.9.9 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "an http:// downloadUrl is refused" test "$rc" -ne 0
expect "... saying why and what to set" grep -q "downloadUrl http://127.0.0.1:8765 is plain http.*insecureDownload" <<<"$out"
mirror="$mirror INSECUREDOWNLOAD=true CHECKSUMPUBLICKEY=$key"
# shellcheck disable=SC2086 # $mirror is several options
out=$(run_install $mirror VERSION=9.9.9 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "with insecureDownload, a signed and verified download installs the binary" test "$rc" = 0
expect "... saying the signature was verified" grep -q "verified the minisign signature of SHA256SUMS (credd v9.9.9 SHA256SUMS" <<<"$out"
expect "the installed binary is the released one" cmp -s "$root/usr/local/bin/credd" "$rel/download/v9.9.9/credd-linux-$arch"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=v6.6.6 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "a tampered SHA256SUMS fails the install" test "$rc" -ne 0
expect "... as its signature does not verify" grep -q "the signature of .*/v6.6.6/SHA256SUMS does not verify" <<<"$out"
expect "... and leaves the installed binary alone" cmp -s "$root/usr/local/bin/credd" "$rel/download/v9.9.9/credd-linux-$arch"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=v4.4.4 REQUIRESIGNATURE=true 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "a missing SHA256SUMS.minisig fails with requireSignature" grep -q "requireSignature is set, but .*SHA256SUMS.minisig could not be downloaded" <<<"$out"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=v5.5.5 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "without it, the checksum is still checked" grep -q "checksum mismatch for credd-linux-$arch" <<<"$out"
mv "$root/usr/bin/minisign" "$root/usr/bin/minisign.hidden"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=9.9.9 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "an image without minisign installs, checking the SHA-256 only" test "$rc" = 0
expect "... and says so" grep -q "warning: minisign is not installed, so only the SHA-256 checksum was checked" <<<"$out"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=9.9.9 REQUIRESIGNATURE=true 2>&1) && rc=0 || rc=$?
expect "... or fails with requireSignature" grep -q "requireSignature is set, but minisign is not installed" <<<"$out"
mv "$root/usr/bin/minisign.hidden" "$root/usr/bin/minisign"
# shellcheck disable=SC2086
out=$(run_install $mirror VERSION=v7.7.7 2>&1) && rc=0 || rc=$?
echo "$out" | sed 's/^/    | /'
expect "a missing release fails with a clear message" grep -q "could not download .*check the version option" <<<"$out"
kill "$http_pid"

step "ecsTaskDefinition: install.sh writes the ECS options for the daemon and the supervisor"
expect "install.sh succeeds with ecsTaskDefinition, ecsCluster and ecsContainer" \
	run_install TOKENSOURCE=sandbox LOCALBINARY=bin/credd ECSTASKDEFINITION=web:3 ECSCLUSTER=dev ECSCONTAINER=app
expect "... into the defaults file" grep -qx 'ecs_task_definition = "web:3"' "$root/usr/local/share/credd/feature.toml"
expect "... with the cluster and the container" grep -qx 'ecs_container = "app"' "$root/usr/local/share/credd/feature.toml"
expect "feature.env tells the supervisor to write ecs-env.sh" grep -qx 'CREDD_FEATURE_ECS=true' "$root/usr/local/share/credd/feature.env"
expect "the profile script sources ecs-env.sh when it is there" grep -q ". $state/ecs-env.sh" "$root/etc/profile.d/credd.sh"
out=$(run_install TOKENSOURCE=sandbox LOCALBINARY=bin/credd ECSCLUSTER=dev 2>&1) && rc=0 || rc=$?
expect "ecsCluster without ecsTaskDefinition is refused, saying what to set" grep -q "set ecsTaskDefinition" <<<"$out"

step "scenario sandbox: install.sh (twice) with $(scenario_options sandbox | tr '\n' ' ')"
mapfile -t opts < <(scenario_options sandbox)
expect "install.sh succeeds" run_install "${opts[@]}"
expect "install.sh succeeds again (idempotent)" run_install "${opts[@]}"
expect "the state dir is the remote user's, mode 0700" test "$(stat -c '%u %a' "$root$state")" = "$uid 700"
expect "the profile script is installed" test -r "$root/etc/profile.d/credd.sh"
expect "bash.bashrc is hooked once" test "$(grep -c '>>> credd devcontainer Feature >>>' "$root/etc/bash.bashrc")" = 1
expect "the options are in the defaults file, the user's, mode 0600" test "$(stat -c '%u %a' "$root/usr/local/share/credd/feature.toml")" = "$uid 600"
expect "feature.env, sourced by the entrypoint as root, is root's, mode 0644" test "$(stat -c '%u %a' "$root/usr/local/share/credd/feature.env")" = "0 644"
expect "... with the source and keep_login" grep -qx 'keep_login = "true"' "$root/usr/local/share/credd/feature.toml"
expect "... and token_source" grep -qx 'token_source = "sandbox"' "$root/usr/local/share/credd/feature.toml"
expect "feature.env names the defaults file for the entrypoint" grep -q '^CREDD_FEATURE_DEFAULTS_FILE=./usr/local/share/credd/feature.toml.$' "$root/usr/local/share/credd/feature.env"
expect "lifecycle.sh is installed" test -x "$root/usr/local/share/credd/lifecycle.sh"
expect "containerEnv holds no token" bash -c '! printf "%s\n" "$@" | grep -q "^AWS_CONTAINER_AUTHORIZATION_TOKEN="' - "${container_env[@]}"

step "entrypoint as root (the container user), at container start"
expect "the entrypoint returns at once" entrypoint
expect "one daemon starts" wait_daemons 1
expect "it runs as $user, not root" daemon_runs_as_user

step "test/credd/sandbox.sh as $user"
expect "scenario sandbox passes" scenario sandbox
expect "the entrypoint run again as root leaves one daemon" entrypoint
sleep 1
expect "... one daemon" daemon_count_is 1

step "the supervisor restarts a daemon that died, keeping its authorization token"
# listening n: the daemon has started listening n times since the log began.
listening() {
	for _ in $(seq 100); do
		[ "$(grep -c 'credd listening' "$root$state/credd.log")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
n=$(grep -c 'credd listening' "$root$state/credd.log")
token=$(cat "$root$state/token")
kill -KILL "$(daemon_pids | head -n 1)"
expect "a new daemon listens" listening $((n + 1))
expect "... with the same token" test "$(cat "$root$state/token")" = "$token"
expect "... and the supervisor says it kept it" grep -q 'starting .* daemon again, keeping its authorization token' "$root$state/credd.log"

step "container restart: processes killed, stale pid files and socket left; scenario custom_port"
for f in supervisor.pid daemon.pid; do kill -KILL "$(cat "$root$state/$f")" 2>/dev/null || true; done
wait_daemons 0 || true
expect "stale state is left behind" test -S "$root$state/control.sock" -a -s "$root$state/supervisor.pid"
mapfile -t opts < <(scenario_options custom_port)
expect "install.sh with new options over the old install" run_install "${opts[@]}"
n=$(grep -c 'credd listening' "$root$state/credd.log")
expect "the entrypoint as $user starts the daemon again" entrypoint --user CREDD_KEEP_TOKEN=true
# A shell opened as soon as the entrypoint returns must read this start's
# token, not the last one, into AWS_CONTAINER_AUTHORIZATION_TOKEN.
expect "... and returns once the new token is written" test "$(cat "$root$state/token")" != "$token"
expect "one daemon" wait_daemons 1
expect "... which listens" listening $((n + 1))
expect "... with a new token, though the container's environment says CREDD_KEEP_TOKEN=true" test "$(cat "$root$state/token")" != "$token"
expect "scenario custom_port passes" scenario custom_port

step "an image without flock: the supervisor's pid file, checked with kill -0"
kill -TERM "$(cat "$root$state/supervisor.pid")"
wait_daemons 0
mv "$root/usr/bin/flock" "$root/usr/bin/flock.hidden"
expect "the entrypoint starts the daemon" entrypoint --user
expect "one daemon" wait_daemons 1
sleep 0.5
expect "the entrypoint run again" entrypoint --user
sleep 1
expect "... leaves one daemon" daemon_count_is 1

step "no flock: 5 tries of 3 entrypoints started at once (TERM or KILL between tries)"
stop_all TERM
once() { # n: start three entrypoints at once, then check
	local pids=()
	for _ in 1 2 3; do
		entrypoint >/dev/null &
		pids+=($!)
	done
	wait "${pids[@]}"
	sleep 2
	local s d
	s=$(supervisor_pids | wc -l)
	d=$(daemon_pids | wc -l)
	echo "try $1: $s supervisor(s), $d daemon(s)"
	[ "$s" -eq 1 ] && [ "$d" -eq 1 ]
}
for try in 1 2 3 4 5; do
	expect "try $try: exactly one supervisor and one daemon" once "$try"
	# KILL leaves the lock of a dead supervisor behind for the next try.
	if [ $((try % 2)) = 0 ]; then stop_all KILL; else stop_all TERM; fi
done
expect "a stale lock was broken" grep -q 'breaking the lock of a supervisor that is gone' "$root$state/credd.log"
mv "$root/usr/bin/flock.hidden" "$root/usr/bin/flock"

step "start errors reach the container log"
entrypoint CREDD_DURATION=forever 2>"$CT_WORK/container.log"
for _ in $(seq 50); do grep -q 'credd daemon exited' "$CT_WORK/container.log" && break; sleep 0.1; done
sed 's/^/    | /' "$CT_WORK/container.log"
expect "a daemon that exits is reported on the container's stderr" grep -Eq 'credd supervisor: credd daemon exited with status [0-9]+ after .*forever' "$CT_WORK/container.log"
stop_all TERM

step "lifecycle.sh start hands the session's environment to the daemon"
entrypoint
wait_daemons 1
session=(GITHUB_USER=octocat CODESPACE_NAME=fuzzy-space-umbrella-x7 CREDD_ROLE_ARN=arn:aws:iam::123456789012:role/from-a-secret)
out=$(as_user "${session[@]}" -- /usr/local/share/credd/lifecycle.sh start) && rc=0 || rc=$?
echo "    | $out"
expect "it exits 0" test "$rc" = 0
expect "... printing one line" test "$(printf '%s\n' "$out" | wc -l)" = 1
assumed() { as_user -- credd status --json | jq -r '.roles[0].assumedRoleArn // empty' || true; }
arn=
for _ in $(seq 100); do
	arn=$(assumed)
	case "$arn" in */from-a-secret/octocat@fuzzy-space-umbrella-x7) break ;; esac
	sleep 0.1
done
echo "    assumed role: $arn"
expect "the assumed role is the secret's, the session GITHUB_USER@CODESPACE_NAME" test "${arn##*:assumed-role/}" = from-a-secret/octocat@fuzzy-space-umbrella-x7
out=$(as_user "${session[@]}" -- /usr/local/share/credd/lifecycle.sh attach) && rc=0 || rc=$?
echo "    | $out"
expect "lifecycle.sh attach exits 0 with one line" test "$rc" = 0 -a "$(printf '%s\n' "$out" | wc -l)" = 1

step "the remote user's UID changes after install (updateRemoteUserUID: /etc/passwd and \$HOME only)"
stop_all TERM
sed -i "s/^$user:\([^:]*\):$uid:$gid:/$user:\1:1500:1500:/" "$root/etc/passwd"
sed -i "s/^$user:\([^:]*\):$gid:/$user:\1:1500:/" "$root/etc/group"
chroot "$root" chown -R 1500:1500 "/home/$user"
uid=1500
gid=1500
expect "the state dir still belongs to the old UID" test "$(stat -c %u "$root$state")" != 1500
# Output to a file: the supervisor keeps the entrypoint's stderr (the
# container log), so a pipe would never end.
entrypoint --user >"$CT_WORK/ep.out" 2>&1 || true
out=$(cat "$CT_WORK/ep.out")
echo "$out" | sed 's/^/    | /'
expect "the entrypoint as the user says why it cannot start credd" grep -q "belongs to uid .*cannot give it back: credd not started" <<<"$out"
expect "... and starts nothing" daemon_count_is 0
entrypoint >"$CT_WORK/ep.out" 2>&1
out=$(cat "$CT_WORK/ep.out")
echo "$out" | sed 's/^/    | /'
expect "the entrypoint as root gives the state dir to the new UID" test "$(stat -c '%u %g %a' "$root$state")" = "1500 1500 700"
expect "... says so" grep -q "gave $state to $user (uid 1500, gid 1500" <<<"$out"
expect "... and every file in it" test -z "$(find "$root$state" ! -uid 1500)"
expect "... and the defaults file" test "$(stat -c '%u %a' "$root/usr/local/share/credd/feature.toml")" = "1500 600"
expect "one daemon starts" wait_daemons 1
expect "it runs as UID 1500" daemon_runs_as_user
expect "scenario custom_port passes as UID 1500" scenario custom_port

step "stopping the supervisor stops the daemon"
kill -TERM "$(cat "$root$state/supervisor.pid")"
expect "no daemon is left" wait_daemons 0
echo
echo "-- $state/credd.log (supervisor lines)"
grep 'supervisor' "$root$state/credd.log" | sed 's/^/    /'

echo
echo "chroot-test: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
