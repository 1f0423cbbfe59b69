#!/bin/sh
# The credd devcontainer Feature's entrypoint. Container entrypoints run in
# sequence, in the foreground, as the container user, each time the container
# starts: this one starts a supervisor in the background as the Feature's
# user and returns once the daemon has written this start's authorization
# token (at most 5 s). The supervisor runs `credd daemon` and restarts it
# with backoff when it dies.
#
# - Ownership: while root, it gives the state dir and the defaults file
#   (0600: tokenCommand may be a secret) to the remote user's *current* UID
#   and GID at every start (the devcontainer CLI's updateRemoteUserUID
#   changes them after install.sh ran).
# - The authorization token: the first daemon of a container start writes a
#   new one, so a token collected by whoever held the port while no daemon
#   ran is useless; a restart after the daemon died keeps it
#   (CREDD_KEEP_TOKEN=true), so shells that read it once keep working. The
#   entrypoint waits for the new token (the supervisor writes the nonce it
#   was given to <state dir>/started), so that no shell opened after it
#   reads the last start's token into AWS_CONTAINER_AUTHORIZATION_TOKEN.
# - One supervisor per container start: the lock is a directory (mkdir is
#   atomic, with or without flock) named after the container's start (the
#   start time of its pid 1), so a lock left by an earlier start is stale by
#   its name; within one start, a lock whose supervisor died is broken under
#   a second lock, so entrypoints racing each other still leave one.
# - Errors reach the container log (`docker logs`): the entrypoint's own, the
#   supervisor's until its log file is open, and each daemon exit with the
#   daemon's last error line. The full log is <state dir>/credd.log.
#
# The daemon's settings come from the Feature's options in the defaults file
# (CREDD_DEFAULTS_FILE), under the container's environment and under the
# session environment the lifecycle hooks hand over (lifecycle.sh).
set -u

SHARE_DIR=/usr/local/share/credd
SELF=$SHARE_DIR/entrypoint.sh
CREDD=${CREDD_BIN:-/usr/local/bin/credd}

say() { echo "credd entrypoint: $*" >&2; }

CREDD_FEATURE_USER=root
CREDD_FEATURE_STATE_DIR=/var/lib/credd
CREDD_FEATURE_DEFAULTS_FILE=$SHARE_DIR/feature.toml
if [ -r "$SHARE_DIR/feature.env" ]; then
	. "$SHARE_DIR/feature.env"
else
	say "$SHARE_DIR/feature.env is missing: was install.sh run? credd not started"
	[ $# -gt 0 ] && exec "$@"
	exit 0
fi
# The container's environment wins (containerEnv sets CREDD_STATE_DIR).
CREDD_STATE_DIR=${CREDD_STATE_DIR:-$CREDD_FEATURE_STATE_DIR}
CREDD_DEFAULTS_FILE=${CREDD_DEFAULTS_FILE:-$CREDD_FEATURE_DEFAULTS_FILE}
export CREDD_STATE_DIR CREDD_DEFAULTS_FILE
STATE_DIR=$CREDD_STATE_DIR
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

# container_start names this start of the container: the boot and the start
# time of pid 1 (clock ticks since boot, field 22 of /proc/1/stat).
container_start() {
	boot=$(tr -dc '0-9a-f' </proc/sys/kernel/random/boot_id 2>/dev/null | cut -c1-12)
	t=$(sed 's/.*) //' /proc/1/stat 2>/dev/null | cut -d' ' -f20)
	echo "${boot:-0}-${t:-0}"
}

# rotate keeps the log under about 1 MiB, with one old generation.
rotate() {
	size=$(wc -c <"$LOG" 2>/dev/null || echo 0)
	if [ "$size" -gt 1048576 ]; then
		mv -f "$LOG" "$LOG.1"
		exec >>"$LOG" 2>&1
	fi
}

# last_error prints the daemon's last error line from the log.
last_error() {
	lines=$(grep -v ' credd supervisor\[' "$LOG" 2>/dev/null | tail -n 200)
	line=$(echo "$lines" | grep 'level=ERROR' | tail -n 1)
	[ -n "$line" ] || line=$(echo "$lines" | grep -i 'error' | tail -n 1)
	[ -n "$line" ] || line=$(echo "$lines" | tail -n 1)
	echo "${line:-no output}"
}

# to_container_log writes a line to the container's stderr (docker logs),
# ignoring a reader that is gone (SIGPIPE would kill the supervisor).
to_container_log() {
	(
		trap '' PIPE
		echo "credd supervisor: $*" >&3
	) 2>/dev/null
}

# live_supervisor pid: another supervisor runs with that pid.
live_supervisor() { [ "$1" != $$ ] && is_pid_of "$1" "entrypoint.sh --supervise"; }

# lock takes the supervisor lock for this container start, or exits when
# another live supervisor holds it.
lock() {
	start=$(container_start)
	LOCK=$STATE_DIR/supervisor.$start.lock
	# Locks of earlier starts are stale by their name.
	for old in "$STATE_DIR"/supervisor.*.lock "$STATE_DIR"/supervisor.*.lock.break; do
		case "$old" in
		"$LOCK" | "$LOCK.break") ;;
		*) [ -e "$old" ] && rm -rf "$old" ;;
		esac
	done
	rm -f "$STATE_DIR/supervisor.lock" # the flock file of older versions
	tries=0
	while :; do
		if mkdir "$LOCK" 2>/dev/null; then
			echo $$ >"$LOCK/pid"
			echo $$ >"$STATE_DIR/supervisor.pid"
			return 0
		fi
		holder=$(cat "$LOCK/pid" 2>/dev/null)
		if live_supervisor "$holder"; then
			log "another supervisor (pid $holder) already runs credd; exiting"
			ready
			exit 0
		fi
		tries=$((tries + 1))
		if [ "$tries" -gt 100 ]; then
			log "cannot take the lock $LOCK (held by pid ${holder:-unknown}); exiting"
			to_container_log "cannot take the lock $LOCK; credd not started"
			exit 1
		fi
		# The holder died (or has not written its pid yet): break the lock
		# under a second one, and only if it still names the same dead pid,
		# or names none 2 s after it was made.
		if mkdir "$LOCK.break" 2>/dev/null; then
			now=$(cat "$LOCK/pid" 2>/dev/null)
			age=$(($(date +%s) - $(stat -c %Y "$LOCK" 2>/dev/null || date +%s)))
			if [ -d "$LOCK" ] && [ "$now" = "$holder" ] && { [ -n "$now" ] || [ "$age" -ge 2 ]; } &&
				! live_supervisor "$now"; then
				log "breaking the lock of a supervisor that is gone (pid ${now:-none})"
				rm -rf "$LOCK"
			fi
			rmdir "$LOCK.break"
		else
			# A breaker that died leaves its lock behind: drop it after 10 s.
			age=$(($(date +%s) - $(stat -c %Y "$LOCK.break" 2>/dev/null || date +%s)))
			[ "$age" -lt 10 ] || rmdir "$LOCK.break" 2>/dev/null
		fi
		sleep 0.1
	done
}

# token_id names the token file's version: a new token is a new file
# (the daemon writes it by a rename), so its inode changes.
token_id() { stat -c %i "$STATE_DIR/token" 2>/dev/null || echo none; }

# ready tells the entrypoint that started this supervisor (the nonce it
# passed) that shells may now read the token file: it holds this start's
# token, or no daemon will write one soon.
ready() {
	[ -n "${CREDD_START_NONCE:-}" ] || return 0
	echo "$CREDD_START_NONCE" >"$STATE_DIR/started.new" && mv -f "$STATE_DIR/started.new" "$STATE_DIR/started"
	CREDD_START_NONCE=
}

# first_token waits, at most 5 s and while the daemon runs, for the token
# file to change from before; it reports whether it did.
first_token() { # before pid
	i=0
	while [ $i -lt 50 ] && kill -0 "$2" 2>/dev/null; do
		[ "$(token_id)" = "$1" ] || return 0
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(token_id)" != "$1" ]
}

# write_ecs_env writes, once per container start and in the background, what
# ECS would give the mirrored task's container (ecsTaskDefinition): login
# shells source it. The last start's file goes first: its secrets may be
# stale, and a shell must not take them for this start's.
write_ecs_env() {
	rm -f "$STATE_DIR/ecs-env.sh"
	[ "${CREDD_FEATURE_ECS:-false}" = true ] || return 0
	(
		if "$CREDD" ecs env --state-dir "$STATE_DIR" --wait 5m --output "$STATE_DIR/ecs-env.sh" 3>&-; then
			log "wrote the ECS task definition's environment to $STATE_DIR/ecs-env.sh"
		else
			to_container_log "credd ecs env failed (see $LOG); shells get no ECS task environment until it works: run credd ecs env by hand"
		fi
	) &
}

supervise() {
	umask 077
	# The supervisor's stderr is the container's (docker logs) until here.
	exec 3>&2
	if ! : >>"$LOG"; then
		to_container_log "cannot write $LOG as $(id -un) (uid $(id -u)); $STATE_DIR is $(ls -ldn "$STATE_DIR" 2>&1): credd not started. Restart the container (its entrypoint, as root, gives the directory to the remote user) or chown it."
		exit 1
	fi
	# The daemon names the STS session after the user; docker sets no USER.
	USER=${USER:-$(id -un)} && export USER
	exec >>"$LOG" 2>&1 </dev/null
	lock

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
	# The first start gets a new authorization token, whatever the
	# container's environment or a config file say; restarts keep it.
	keep_token=false
	while [ -z "$stopping" ]; do
		rotate
		started=$(date +%s)
		if [ "$keep_token" = true ]; then
			log "starting $CREDD daemon again, keeping its authorization token (state dir $STATE_DIR, defaults file $CREDD_DEFAULTS_FILE)"
		else
			log "starting $CREDD daemon with a new authorization token (state dir $STATE_DIR, defaults file $CREDD_DEFAULTS_FILE)"
		fi
		before=$(token_id)
		CREDD_KEEP_TOKEN=$keep_token CREDD_START_NONCE='' "$CREDD" daemon 3>&- &
		child=$!
		echo "$child" >"$STATE_DIR/daemon.pid"
		if [ "$keep_token" = false ]; then
			# Keep the token from now on only once a daemon wrote one: a
			# token from an earlier container start is not kept.
			first_token "$before" "$child" && keep_token=true
			ready
			write_ecs_env
		fi
		# wait returns early when a trapped signal arrives; wait again then.
		while wait "$child"; rc=$?; kill -0 "$child" 2>/dev/null; do :; done
		child=
		[ -z "$stopping" ] || break
		ran=$(($(date +%s) - started))
		[ "$ran" -lt 60 ] || backoff=1
		log "credd daemon exited with status $rc after ${ran}s; restarting in ${backoff}s"
		to_container_log "credd daemon exited with status $rc after ${ran}s: $(last_error); restarting in ${backoff}s (log: $LOG)"
		sleep "$backoff"
		backoff=$((backoff * 2))
		[ "$backoff" -le 30 ] || backoff=30
	done
	log "stopped"
	rm -f "$STATE_DIR/daemon.pid" "$STATE_DIR/supervisor.pid"
	rm -rf "$LOCK"
	exit 0
}

if [ "${1:-}" = --supervise ]; then
	supervise
fi

# repair gives the state dir to the Feature's user, as that user's UID and
# GID are now (root only).
repair() { # uid gid
	if [ ! -d "$STATE_DIR" ]; then
		mkdir -p "$STATE_DIR" && chmod 0700 "$STATE_DIR" || return 1
		say "created the missing state dir $STATE_DIR"
	fi
	was=$(stat -c '%u:%g' "$STATE_DIR" 2>/dev/null)
	# -h: a symlink in there is changed, never what it points at.
	if ! chown -R -h "$1:$2" "$STATE_DIR"; then
		say "cannot give $STATE_DIR to $CREDD_FEATURE_USER ($1:$2) as root (a read-only volume?): credd may not start"
		return 1
	fi
	[ "$was" = "$1:$2" ] || say "gave $STATE_DIR to $CREDD_FEATURE_USER (uid $1, gid $2; it was $was)"
	# The defaults file install.sh wrote, never one the container names.
	if [ -f "$CREDD_FEATURE_DEFAULTS_FILE" ] && ! [ -L "$CREDD_FEATURE_DEFAULTS_FILE" ]; then
		chown "$1:$2" "$CREDD_FEATURE_DEFAULTS_FILE" && chmod 0600 "$CREDD_FEATURE_DEFAULTS_FILE" ||
			say "cannot give $CREDD_FEATURE_DEFAULTS_FILE to $CREDD_FEATURE_USER ($1:$2): credd may not start"
	fi
	return 0
}

# await_token returns once the supervisor started with nonce says the
# token file holds this start's token, or after 5 s: a shell opened after
# the entrypoint then never reads the token of an earlier start into
# AWS_CONTAINER_AUTHORIZATION_TOKEN.
await_token() { # nonce
	i=0
	while [ $i -lt 50 ]; do
		[ "$(cat "$STATE_DIR/started" 2>/dev/null)" = "$1" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	say "credd has not written its authorization token within 5 s; it goes on starting in the background (log: $LOG)"
}

# start runs the supervisor, detached, as the Feature's user, with the
# container's stderr, and waits until its token is written (await_token).
start() {
	user=$CREDD_FEATURE_USER
	if ! uid=$(id -u "$user" 2>/dev/null); then
		say "the user $user the Feature was installed for does not exist in this container: credd not started; create the user or reinstall the Feature with _REMOTE_USER set"
		return
	fi
	gid=$(id -g "$user")
	detach=
	command -v setsid >/dev/null 2>&1 && detach=setsid
	if [ "$(id -u)" = 0 ]; then
		repair "$uid" "$gid"
	elif [ ! -d "$STATE_DIR" ]; then
		say "the state dir $STATE_DIR is missing (a volume over it?) and the entrypoint runs as $(id -un), not root, so it cannot create it: credd not started; recreate it owned by $user, mode 0700"
		return
	elif [ "$(stat -c %u "$STATE_DIR")" != "$(id -u)" ]; then
		say "$STATE_DIR belongs to uid $(stat -c %u "$STATE_DIR"), not to $(id -un) (uid $(id -u)), and the entrypoint runs as $(id -un), not root, so it cannot give it back: credd not started. Run the container's entrypoints as root (the default containerUser), or chown -R $user $STATE_DIR"
		return
	elif [ -e "$CREDD_DEFAULTS_FILE" ] && ! [ -r "$CREDD_DEFAULTS_FILE" ]; then
		say "$CREDD_DEFAULTS_FILE belongs to uid $(stat -c %u "$CREDD_DEFAULTS_FILE"), not to $(id -un) (uid $(id -u)), and the entrypoint runs as $(id -un), not root, so it cannot give it back: credd not started. Run the container's entrypoints as root (the default containerUser), or chown $user $CREDD_DEFAULTS_FILE"
		return
	fi
	CREDD_START_NONCE="$$.$(date +%s%N)" && export CREDD_START_NONCE
	if [ "$(id -u)" = "$uid" ]; then
		$detach "$SELF" --supervise </dev/null >/dev/null &
	elif [ "$(id -u)" = 0 ]; then
		home=$(awk -F: -v u="$user" '$1 == u { print $6 }' /etc/passwd)
		if command -v setpriv >/dev/null 2>&1; then
			HOME=$home USER=$user LOGNAME=$user \
				$detach setpriv --reuid="$uid" --regid="$gid" --init-groups \
				"$SELF" --supervise </dev/null >/dev/null &
		else
			HOME=$home $detach su -p -s /bin/sh "$user" -c "exec $SELF --supervise" </dev/null >/dev/null &
		fi
	else
		say "running as $(id -un), but the Feature was installed for $user, who owns $STATE_DIR: credd not started; run \`$SELF\` as $user or root"
		return
	fi
	await_token "$CREDD_START_NONCE"
}

start
[ $# -gt 0 ] && exec "$@"
exit 0
