# shellcheck shell=bash
# Checks shared by the scenarios that run the daemon (sourced, bash).

state=${CREDD_STATE_DIR:-/var/lib/credd}

# daemons prints the pids of running `credd daemon` processes.
daemons() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		case "$(tr '\0' ' ' 2>/dev/null <"$f")" in
		*credd\ daemon*) f=${f#/proc/}; echo "${f%/cmdline}" ;;
		esac
	done
}

one_daemon() {
	local n
	n=$(daemons | wc -l)
	echo "credd daemon processes: $n ($(daemons | tr '\n' ' '))"
	[ "$n" -eq 1 ]
}

# healthy waits up to 10 s for `credd status` to exit 0.
healthy() {
	local i
	for i in $(seq 50); do
		credd status >/dev/null 2>&1 && { credd status; return 0; }
		sleep 0.2
	done
	credd status
	return 1
}

endpoint_serves() {
	local body
	body=$(curl -fsS --max-time 5 -H "Authorization: $(cat "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")" "$AWS_CONTAINER_CREDENTIALS_FULL_URI") || return 1
	echo "$body" | sed 's/"\(SecretAccessKey\|Token\)":"[^"]*"/"\1":"<redacted>"/g'
	case "$body" in *'"AccessKeyId":"'*'"Expiration":"'*) return 0 ;; esac
	return 1
}

token_env_matches_file() {
	[ -n "${AWS_CONTAINER_AUTHORIZATION_TOKEN:-}" ] && [ "$AWS_CONTAINER_AUTHORIZATION_TOKEN" = "$(cat "$AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")" ]
}

# aws_identity asks the sandbox STS who the AWS CLI's credentials belong to.
# The Debian AWS CLI 2.9 ignores AWS_ENDPOINT_URL_STS, hence --endpoint-url.
aws_identity() {
	local sts arn
	sts=$(credd status --json | sed -n 's/.*"stsUrl": *"\([^"]*\)".*/\1/p')
	[ -n "$sts" ] || { echo "credd status --json has no sandbox.stsUrl"; return 1; }
	arn=$(aws sts get-caller-identity --region us-east-1 --endpoint-url "$sts" --query Arn --output text) || return 1
	echo "aws sts get-caller-identity: $arn"
	case "$arn" in arn:aws:sts::*:assumed-role/*) return 0 ;; esac
	return 1
}

# comes_back kills the daemon and waits up to 10 s for a new, healthy one.
comes_back() {
	local old new i
	old=$(cat "$state/daemon.pid")
	kill -KILL "$old" || return 1
	for i in $(seq 100); do
		new=$(cat "$state/daemon.pid" 2>/dev/null)
		if [ -n "$new" ] && [ "$new" != "$old" ] && credd status >/dev/null 2>&1; then
			echo "daemon $old killed; daemon $new healthy after $((i / 10)).$((i % 10))s"
			return 0
		fi
		sleep 0.1
	done
	echo "no healthy daemon 10s after killing $old"
	tail -n 20 "$state/credd.log"
	return 1
}

# entrypoint_again runs the entrypoint once more: it must return at once
# and leave the running daemon alone.
entrypoint_again() {
	local before after start
	before=$(cat "$state/daemon.pid")
	start=$(date +%s%N)
	/usr/local/share/credd/entrypoint.sh || return 1
	echo "entrypoint returned in $((($(date +%s%N) - start) / 1000000)) ms"
	sleep 1
	after=$(cat "$state/daemon.pid")
	[ "$before" = "$after" ] && one_daemon
}

logs_to_state_dir() {
	grep -q 'starting /usr/local/bin/credd daemon' "$state/credd.log" && grep -q 'restarting in' "$state/credd.log"
}
