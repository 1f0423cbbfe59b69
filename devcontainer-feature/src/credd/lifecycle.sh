#!/bin/sh
# The credd devcontainer Feature's lifecycle hooks: postStartCommand runs
# `lifecycle.sh start`, postAttachCommand `lifecycle.sh attach`, as the remote
# user. They run with the session's environment, which the daemon, started
# earlier by the entrypoint, never saw: Codespaces secrets and remoteEnv (such
# as CREDD_ROLE_ARN), GITHUB_USER, CODESPACE_NAME, ... `credd reload
# --from-env` hands the settings among them to the daemon, over the control
# socket, waiting up to 20 s for the daemon to answer.
#
# Prints one line: at start what happened; at attach the daemon's "needs a
# login: run credd login" line when a login is needed, else a short status.
# Never fails the lifecycle (exit 0), so a credd problem cannot stop the
# container from opening; the line says what to do.
set -u

CREDD=${CREDD_BIN:-/usr/local/bin/credd}
STATE_DIR=${CREDD_STATE_DIR:-/var/lib/credd}
hook=${1:-start}

say() { echo "credd ($hook): $*"; }

if ! [ -x "$CREDD" ]; then
	say "$CREDD is missing: reinstall the credd Feature"
	exit 0
fi

out=$("$CREDD" reload --from-env --wait 20s 2>&1)
rc=$?
login=$(printf '%s\n' "$out" | grep 'credd login' | head -n 1)
first=$(printf '%s\n' "$out" | grep -v '^[[:space:]]*$' | head -n 1)

case $rc in
0)
	if [ -n "$login" ]; then
		echo "$login"
	elif [ "$hook" = attach ]; then
		st=$("$CREDD" status 2>&1)
		if printf '%s\n' "$st" | grep -q 'credd login'; then
			say "a login is needed: run credd login"
		else
			say "$(printf '%s\n' "$st" | head -n 1)"
		fi
	else
		say "the daemon has this session's settings (credd status shows them)"
	fi
	;;
1)
	say "the daemon refused this session's settings and keeps its own: ${first:-no reason given} (credd status; $STATE_DIR/credd.log)"
	;;
2)
	say "the daemon is not running: see $STATE_DIR/credd.log and the container log (docker logs)"
	;;
*)
	say "credd reload failed (exit $rc): ${first:-no output}"
	;;
esac
exit 0
