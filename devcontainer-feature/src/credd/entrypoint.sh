#!/bin/sh
# The credd devcontainer Feature's entrypoint. Container entrypoints run in
# sequence, in the foreground, as the container user, each time the container
# starts: this one starts a supervisor in the background as the Feature's
# user and returns at once. The supervisor runs `credd daemon` and restarts it
# with backoff when it dies. One supervisor per container: it holds a flock on
# <state dir>/supervisor.lock (or, without flock, a pid file checked with
# kill -0), so running the entrypoint twice, or after a restart that left
# stale pid files and a stale socket behind, still leaves one daemon.
set -u

SHARE_DIR=/usr/local/share/credd
SELF=$SHARE_DIR/entrypoint.sh
CREDD=${CREDD_BIN:-/usr/local/bin/credd}

# setting exports NAME=VALUE unless the container's environment already set NAME.
setting() {
	eval "[ -n \"\${$1:-}\" ]" || export "$1=$2"
}

CREDD_FEATURE_USER=root
if [ -r "$SHARE_DIR/feature.env" ]; then
	. "$SHARE_DIR/feature.env"
else
	echo "credd entrypoint: $SHARE_DIR/feature.env is missing: was install.sh run? credd not started" >&2
	[ $# -gt 0 ] && exec "$@"
	exit 0
fi
STATE_DIR=${CREDD_STATE_DIR:-/var/lib/credd}
LOG=$STATE_DIR/credd.log

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) credd supervisor[$$]: $*"; }

# is_pid_of pid pattern: the process is alive and its command line matches.
is_pid_of() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/cmdline" ] || return 0
	case "$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" in
	*$2*) return 0 ;;
	esac
	return 1
}

# rotate keeps the log under about 1 MiB, with one old generation.
rotate() {
	size=$(wc -c <"$LOG" 2>/dev/null || echo 0)
	if [ "$size" -gt 1048576 ]; then
		mv -f "$LOG" "$LOG.1"
		exec >>"$LOG" 2>&1
	fi
}

supervise() {
	umask 077
	# The daemon names the STS session after the user; docker sets no USER.
	USER=${USER:-$(id -un)} && export USER
	exec >>"$LOG" 2>&1 </dev/null
	if command -v flock >/dev/null 2>&1; then
		exec 9>>"$STATE_DIR/supervisor.lock"
		if ! flock -n 9; then
			log "another supervisor (pid $(cat "$STATE_DIR/supervisor.pid" 2>/dev/null)) already runs credd; exiting"
			exit 0
		fi
	else
		old=$(cat "$STATE_DIR/supervisor.pid" 2>/dev/null)
		if [ "$old" != "$$" ] && is_pid_of "$old" "entrypoint.sh --supervise"; then
			log "another supervisor (pid $old) already runs credd; exiting"
			exit 0
		fi
	fi
	echo $$ >"$STATE_DIR/supervisor.pid"

	# A daemon left by a supervisor that was killed would hold the port.
	old=$(cat "$STATE_DIR/daemon.pid" 2>/dev/null)
	if is_pid_of "$old" "credd daemon"; then
		log "stopping the daemon a previous supervisor left running (pid $old)"
		kill -TERM "$old" 2>/dev/null
		i=0
		while kill -0 "$old" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
	fi

	child=
	stopping=
	trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT HUP
	backoff=1
	while [ -z "$stopping" ]; do
		rotate
		started=$(date +%s)
		log "starting $CREDD daemon (listen $CREDD_LISTEN, state dir $STATE_DIR)"
		"$CREDD" daemon 9>&- &
		child=$!
		echo "$child" >"$STATE_DIR/daemon.pid"
		# wait returns early when a trapped signal arrives; wait again then.
		while wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null; do :; done
		child=
		[ -z "$stopping" ] || break
		ran=$(($(date +%s) - started))
		[ "$ran" -lt 60 ] || backoff=1
		log "credd daemon exited with status $rc after ${ran}s; restarting in ${backoff}s"
		sleep "$backoff"
		backoff=$((backoff * 2))
		[ "$backoff" -le 30 ] || backoff=30
	done
	log "stopped"
	rm -f "$STATE_DIR/daemon.pid" "$STATE_DIR/supervisor.pid"
	exit 0
}

if [ "${1:-}" = --supervise ]; then
	supervise
fi

# start runs the supervisor, detached, as the Feature's user.
start() {
	if [ ! -d "$STATE_DIR" ]; then
		echo "credd entrypoint: the state dir $STATE_DIR is missing (a volume over it?): credd not started; run the Feature's install.sh again or recreate it owned by $CREDD_FEATURE_USER, mode 0700" >&2
		return
	fi
	detach=
	command -v setsid >/dev/null 2>&1 && detach=setsid
	if [ "$(id -un)" = "$CREDD_FEATURE_USER" ]; then
		$detach "$SELF" --supervise </dev/null >/dev/null 2>&1 &
	elif [ "$(id -u)" = 0 ]; then
		home=$(awk -F: -v u="$CREDD_FEATURE_USER" '$1 == u { print $6 }' /etc/passwd)
		if command -v setpriv >/dev/null 2>&1; then
			HOME=$home USER=$CREDD_FEATURE_USER LOGNAME=$CREDD_FEATURE_USER \
				$detach setpriv --reuid="$CREDD_FEATURE_USER" --regid="$(id -g "$CREDD_FEATURE_USER")" --init-groups \
				"$SELF" --supervise </dev/null >/dev/null 2>&1 &
		else
			HOME=$home $detach su -p -s /bin/sh "$CREDD_FEATURE_USER" -c "exec $SELF --supervise" </dev/null >/dev/null 2>&1 &
		fi
	else
		echo "credd entrypoint: running as $(id -un), but the Feature was installed for $CREDD_FEATURE_USER, who owns $STATE_DIR: credd not started; run \`$SELF\` as $CREDD_FEATURE_USER or root" >&2
	fi
}

start
[ $# -gt 0 ] && exec "$@"
exit 0
