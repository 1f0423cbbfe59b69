#!/usr/bin/env bash
# Benchmarks: credd against the alternatives and against the limit.
#
#   bash bench/run.sh           the full run, a few minutes; writes BENCHMARKS.md
#   bash bench/run.sh --smoke   every step with small counts, under a minute; writes
#                               nothing in the repo, fails if any step breaks or
#                               any result is a problem (a lost request, a slow probe)
#
# Everything listens on 127.0.0.1 and every load is bounded in count or time.
# Results are ratios against baselines measured in the same run: absolute
# times on a shared 2-core machine are noise.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

SMOKE=0
OUT_DOC="$ROOT/BENCHMARKS.md"
for a in "$@"; do
	case "$a" in
	--smoke) SMOKE=1 ;;
	--out=*) OUT_DOC="${a#--out=}" ;;
	*) echo "usage: bash bench/run.sh [--smoke] [--out=FILE]" >&2; exit 2 ;;
	esac
done

if [ "$SMOKE" = 1 ]; then
	ROUNDS=1 DUR=1s CONNS="16" COLD_RUNS=1 STORM_N=2000 CLI_N=1 BOTO_RUNS=1 BOTO_CALLS=3 LOAD_N=2000 USER_ROUNDS=1
	STORM_RUNS=2 BASE_STORM_RUNS=1 FLOOD_SECS=2
	BENCH_ARGS=(-benchtime 5000x -count 1)
else
	ROUNDS=5 DUR=3s CONNS="1 16 64" COLD_RUNS=7 STORM_N=10000 CLI_N=50 BOTO_RUNS=5 BOTO_CALLS=50 LOAD_N=100000 USER_ROUNDS=5
	STORM_RUNS=3 BASE_STORM_RUNS=3 FLOOD_SECS=10
	BENCH_ARGS=(-benchtime 1s -count 3)
fi
LATENCY=100ms     # added to every AssumeRoleWithWebIdentity
STORM_LATENCY=600ms # the second cold storm: a slower STS, still under credd's 800 ms wait
FLOOD_RATE=1000     # new connections per second from the flooding process

WORK=$(mktemp -d /tmp/credd-bench.XXXXXX)
RES=$WORK/results BIN=$WORK/bin
mkdir -p "$RES/wrk" "$BIN"
PIDS=()
cleanup() {
	local rc=$?
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "bench: FAILED (rc $rc); logs and results kept in $WORK" >&2
	elif [ "${KEEP:-0}" = 1 ]; then
		echo "bench: results kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT

say() { printf 'bench: %s\n' "$*" >&2; }
# cmd records a command line for BENCHMARKS.md (secrets replaced by names).
cmd() { printf '%s\n' "$*" >>"$RES/commands.txt"; }
meta() { printf '%s=%s\n' "$1" "$2" >>"$RES/meta.txt"; }

# 10,000 connections at once need more than the usual 1024 descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
meta ulimit_n "$(ulimit -n)"
if [ "$(ulimit -n)" -lt $((STORM_N + 512)) ]; then
	STORM_N=$(($(ulimit -n) - 512))
	say "ulimit -n is $(ulimit -n): storm reduced to $STORM_N requests"
fi
# A silent flood may hold every connection it opens until it ends.
if [ "$(ulimit -n)" -lt $((FLOOD_RATE * FLOOD_SECS + 512)) ]; then
	FLOOD_RATE=$((($(ulimit -n) - 512) / FLOOD_SECS))
	say "ulimit -n is $(ulimit -n): flood reduced to $FLOOD_RATE connections/s"
fi

meta smoke "$SMOKE"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta rounds "$ROUNDS"
meta duration "$DUR"
meta latency "$LATENCY"
meta storm_latency "$STORM_LATENCY"
meta boto_calls "$BOTO_CALLS"
meta storm_n "$STORM_N"
meta storm_runs "$STORM_RUNS"
meta flood_rate "$FLOOD_RATE"
meta flood_duration "${FLOOD_SECS}s"
meta git "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"

# ---- build ----
say "building"
go build -o "$BIN/credd" ./cmd/credd
go build -ldflags "-s -w" -o "$BIN/credd-stripped" ./cmd/credd
go build -o "$BIN/baseline" ./bench/baseline
go build -o "$BIN/sandbox" ./bench/sandbox
go build -o "$BIN/storm" ./bench/storm
go build -o "$BIN/report" ./bench/report
cmd "go build -o credd ./cmd/credd && go build -ldflags '-s -w' -o credd-stripped ./cmd/credd"
{
	echo "size_credd $(stat -c %s "$BIN/credd")"
	echo "size_credd_stripped $(stat -c %s "$BIN/credd-stripped")"
	echo "size_baseline $(stat -c %s "$BIN/baseline")"
} >>"$RES/footprint.txt"
STORM=$BIN/storm

# The load tool: wrk (Debian) if present or installable, else bench/storm load.
TOOL=storm
if command -v wrk >/dev/null; then
	TOOL=wrk
elif [ "$SMOKE" = 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	say "installing wrk"
	if apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; }; then
		TOOL=wrk
	fi
fi
meta tool "$TOOL"
[ "$TOOL" = wrk ] && meta wrk_version "$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')"
meta aws_version "$(aws --version 2>&1 || echo none)"
meta boto3_version "$(python3 -c 'import boto3; print(boto3.__version__)' 2>/dev/null || echo none)"

# ---- the sandbox STS, standalone, with added latency ----
say "starting the sandbox STS with $LATENCY added latency"
WEBID_TOKEN=$WORK/webid-token
"$BIN/sandbox" -latency "$LATENCY" -token-file "$WEBID_TOKEN" >"$WORK/sandbox.json" 2>"$WORK/sandbox.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/sandbox.json" ] && break; sleep 0.05; done
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
STS_URL=$(json "$WORK/sandbox.json" sts_url)
ISSUER_URL=$(json "$WORK/sandbox.json" issuer_url)
STATS_URL=$(json "$WORK/sandbox.json" stats_url)
ROLE_ARN=$(json "$WORK/sandbox.json" role_arn)
cmd "bench/sandbox -latency $LATENCY -token-file \$WEBID_TOKEN   # prints its STS URL as \$STS"

# credd_args STATE_DIR PORT: a daemon on the standalone sandbox, as a user runs it.
credd_args() {
	echo daemon --token-source file --token-file "$WEBID_TOKEN" --role-arn "$ROLE_ARN" \
		--sts-endpoint "$STS_URL" --issuer "$ISSUER_URL" --region us-east-1 \
		--session-name bench --listen "127.0.0.1:$2" --state-dir "$1"
}
CREDD_CMDLINE="credd daemon --token-source file --token-file \$WEBID_TOKEN --role-arn $ROLE_ARN --sts-endpoint \$STS --issuer \$ISSUER --region us-east-1 --session-name bench --listen 127.0.0.1:\$PORT --state-dir \$STATE"
newstate() { local d; d=$(mktemp -d "$WORK/state.XXXX"); chmod 700 "$d"; echo "$d"; }
# await_credentials STATE_DIR PORT OUT: wait until the credd there serves credentials; save them to OUT.
await_credentials() {
	for _ in $(seq 200); do
		[ -s "$1/token" ] && curl -fsS -o "$3" -H "Authorization: $(cat "$1/token")" "http://127.0.0.1:$2/v1/credentials" 2>/dev/null && return 0
		sleep 0.05
	done
	say "credd never served credentials"
	exit 1
}

# ---- 2. cold start and storms ----
say "cold start: $COLD_RUNS starts"
ST=$(newstate) PORT=$("$STORM" freeport)
# shellcheck disable=SC2046
"$STORM" coldstart -runs "$COLD_RUNS" -url "http://127.0.0.1:$PORT/v1/credentials" -token-file "$ST/token" \
	-stats-url "$STATS_URL" -log "$WORK/credd-cold.log" -- "$BIN/credd" $(credd_args "$ST" "$PORT") >"$RES/cold-credd.json"
cmd "storm coldstart -runs $COLD_RUNS -url http://127.0.0.1:\$PORT/v1/credentials -token-file \$STATE/token -stats-url \$STATS -- $CREDD_CMDLINE"
PORT=$("$STORM" freeport)
"$STORM" coldstart -runs "$COLD_RUNS" -url "http://127.0.0.1:$PORT/" -log "$WORK/baseline.log" -- "$BIN/baseline" -addr "127.0.0.1:$PORT" >"$RES/cold-baseline.json"
cmd "storm coldstart -runs $COLD_RUNS -url http://127.0.0.1:\$PORT/ -- baseline -addr 127.0.0.1:\$PORT"

say "storm: $STORM_N concurrent requests at cold start, $STORM_RUNS runs"
ST=$(newstate) PORT=$("$STORM" freeport)
# shellcheck disable=SC2046
"$STORM" storm -n "$STORM_N" -runs "$STORM_RUNS" -url "http://127.0.0.1:$PORT/v1/credentials" -token-file "$ST/token" \
	-stats-url "$STATS_URL" -log "$WORK/credd-storm.log" -- "$BIN/credd" $(credd_args "$ST" "$PORT") >"$RES/storm-credd.json"
cmd "storm storm -n $STORM_N -runs $STORM_RUNS -url http://127.0.0.1:\$PORT/v1/credentials -token-file \$STATE/token -stats-url \$STATS -- $CREDD_CMDLINE"
PORT=$("$STORM" freeport)
"$STORM" storm -n "$STORM_N" -runs "$BASE_STORM_RUNS" -url "http://127.0.0.1:$PORT/" -log "$WORK/baseline.log" -- "$BIN/baseline" -addr "127.0.0.1:$PORT" >"$RES/storm-baseline.json"
cmd "storm storm -n $STORM_N -runs $BASE_STORM_RUNS -url http://127.0.0.1:\$PORT/ -- baseline -addr 127.0.0.1:\$PORT"
LATENCY_URL=${STATS_URL%/stats}/latency
curl -fsS -X POST "$LATENCY_URL?delay=$STORM_LATENCY"
ST=$(newstate) PORT=$("$STORM" freeport)
# shellcheck disable=SC2046
"$STORM" storm -n "$STORM_N" -runs "$STORM_RUNS" -url "http://127.0.0.1:$PORT/v1/credentials" -token-file "$ST/token" \
	-stats-url "$STATS_URL" -log "$WORK/credd-storm-slow.log" -- "$BIN/credd" $(credd_args "$ST" "$PORT") >"$RES/storm-credd-slow.json"
cmd "curl -X POST \$SANDBOX/latency?delay=$STORM_LATENCY; storm storm -n $STORM_N -runs $STORM_RUNS ... (as above); curl -X POST \$SANDBOX/latency?delay=$LATENCY"
curl -fsS -X POST "$LATENCY_URL?delay=$LATENCY"

# ---- 1. endpoint serving, and 4. footprint ----
say "endpoint: $TOOL at $CONNS connections, $ROUNDS rounds of $DUR, baseline and credd alternating"
ST=$(newstate) CPORT=$("$STORM" freeport)
# shellcheck disable=SC2046
taskset -c 0 "$BIN/credd" $(credd_args "$ST" "$CPORT") 2>"$WORK/credd-endpoint.log" &
CPID=$!
PIDS+=("$CPID")
CURL_URL="http://127.0.0.1:$CPORT/v1/credentials"
await_credentials "$ST" "$CPORT" "$WORK/body.json"
TOKEN=$(cat "$ST/token")
BPORT=$("$STORM" freeport)
taskset -c 0 "$BIN/baseline" -addr "127.0.0.1:$BPORT" -body-file "$WORK/body.json" >/dev/null &
BPID=$!
PIDS+=("$BPID")
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$BPORT/" 2>/dev/null && break; sleep 0.05; done
cmd "taskset -c 0 $CREDD_CMDLINE"
cmd "taskset -c 0 baseline -addr 127.0.0.1:\$BPORT -body-file body.json   # body.json: the $(stat -c %s "$WORK/body.json")-byte body credd serves"
echo "body_bytes $(stat -c %s "$WORK/body.json")" >>"$RES/footprint.txt"
sleep 1
procmem() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
{
	echo "rss_idle_credd $(procmem $CPID VmRSS)"
	echo "rss_idle_baseline $(procmem $BPID VmRSS)"
} >>"$RES/footprint.txt"

for r in $(seq "$ROUNDS"); do
	for c in $CONNS; do
		for s in baseline credd; do
			if [ $s = credd ]; then url=$CURL_URL; hdr=(-H "Authorization: $TOKEN"); else url="http://127.0.0.1:$BPORT/v1/credentials"; hdr=(); fi
			if [ "$TOOL" = wrk ]; then
				taskset -c 1 wrk -t1 -c"$c" -d"$DUR" --latency "${hdr[@]}" "$url" >"$RES/wrk/$s-c$c-r$r.txt"
			else
				n=$((c * 2000)); [ "$SMOKE" = 1 ] && n=$((c * 50))
				if [ $s = credd ]; then tf=(-token-file "$ST/token"); else tf=(); fi
				taskset -c 1 "$STORM" load -n "$n" -c "$c" "${tf[@]}" -url "$url" >"$RES/wrk/$s-c$c-r$r.json"
			fi
		done
	done
done
if [ "$TOOL" = wrk ]; then
	cmd "taskset -c 1 wrk -t1 -c{$(echo "$CONNS" | tr ' ' ,)} -d$DUR --latency -H 'Authorization: \$TOKEN' http://127.0.0.1:\$PORT/v1/credentials   # credd"
	cmd "taskset -c 1 wrk -t1 -c{$(echo "$CONNS" | tr ' ' ,)} -d$DUR --latency http://127.0.0.1:\$BPORT/v1/credentials   # baseline; each pair alternated, $ROUNDS rounds"
else
	cmd "taskset -c 1 storm load -n N -c {$CONNS} [-token-file \$STATE/token] -url URL   # wrk not available; $ROUNDS rounds"
fi
{
	echo "hwm_after_endpoint_credd $(procmem $CPID VmHWM)"
	echo "hwm_after_endpoint_baseline $(procmem $BPID VmHWM)"
} >>"$RES/footprint.txt"

say "CPU per 10k requests: $LOAD_N requests over 16 connections, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
	taskset -c 1 "$STORM" load -n "$LOAD_N" -c 16 -pid "$BPID" -url "http://127.0.0.1:$BPORT/v1/credentials" >"$RES/load-baseline-r$r.json"
	taskset -c 1 "$STORM" load -n "$LOAD_N" -c 16 -pid "$CPID" -token-file "$ST/token" -stats-url "$STATS_URL" -url "$CURL_URL" >"$RES/load-credd-r$r.json"
done
cmd "taskset -c 1 storm load -n $LOAD_N -c 16 -pid \$PID [-token-file \$STATE/token] -url URL   # utime+stime from /proc/\$PID/stat before and after"
kill "$CPID" "$BPID"
wait "$CPID" "$BPID" 2>/dev/null || true

# ---- 3. what a user feels ----
say "user: $CLI_N aws CLI runs and $BOTO_RUNS boto3 processes x $BOTO_CALLS calls, four ways"
ST=$(newstate) PORT=$("$STORM" freeport)
# shellcheck disable=SC2046
"$BIN/credd" $(credd_args "$ST" "$PORT") 2>"$WORK/credd-user.log" &
PIDS+=($!)
await_credentials "$ST" "$PORT" "$WORK/creds.json"
# A clean environment for each client: nothing of this shell's AWS settings.
BASE_ENV=(env -i "PATH=$PATH" "PYENV_ROOT=${PYENV_ROOT:-}" "LANG=C.UTF-8" "AWS_DEFAULT_REGION=us-east-1" "AWS_ENDPOINT_URL_STS=$STS_URL" "AWS_EC2_METADATA_DISABLED=true")
VIA_CREDD=("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:$PORT/v1/credentials" "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$ST/token")
VIA_WEBID=("AWS_WEB_IDENTITY_TOKEN_FILE=$WEBID_TOKEN" "AWS_ROLE_ARN=$ROLE_ARN" "AWS_ROLE_SESSION_NAME=bench")
VIA_STATIC=("AWS_ACCESS_KEY_ID=$(json "$WORK/creds.json" AccessKeyId)" "AWS_SECRET_ACCESS_KEY=$(json "$WORK/creds.json" SecretAccessKey)" "AWS_SESSION_TOKEN=$(json "$WORK/creds.json" Token)")
SHARED_HOME=$(mktemp -d "$WORK/home.XXXX")
user() { # NAME HOMEMODE VIA... -- CMD...
	local name=$1 homemode=$2; shift 2
	local via=()
	while [ "$1" != -- ]; do via+=("$1"); shift; done
	shift
	local h=(-fresh-home)
	[ "$homemode" = shared ] && h=(-home "$SHARED_HOME")
	"${BASE_ENV[@]}" "${via[@]}" "$STORM" repeat "${h[@]}" -stats-url "$STATS_URL" -n "$N" -- "$@" >"$RES/user-$name.json"
}
# Rounds alternate the ways, so that drift in the machine's load hits all alike.
for r in $(seq "$USER_ROUNDS"); do
	N=$((CLI_N / USER_ROUNDS))
	user cli-credd-r"$r" fresh "${VIA_CREDD[@]}" -- aws sts get-caller-identity
	user cli-webid-r"$r" fresh "${VIA_WEBID[@]}" -- aws sts get-caller-identity
	user cli-webid-cached-r"$r" shared "${VIA_WEBID[@]}" -- aws sts get-caller-identity
	user cli-static-r"$r" fresh "${VIA_STATIC[@]}" -- aws sts get-caller-identity
	N=$((BOTO_RUNS / USER_ROUNDS))
	user boto3-credd-r"$r" fresh "${VIA_CREDD[@]}" -- python3 "$ROOT/bench/boto3_calls.py" "$BOTO_CALLS"
	user boto3-webid-r"$r" fresh "${VIA_WEBID[@]}" -- python3 "$ROOT/bench/boto3_calls.py" "$BOTO_CALLS"
	user boto3-static-r"$r" fresh "${VIA_STATIC[@]}" -- python3 "$ROOT/bench/boto3_calls.py" "$BOTO_CALLS"
done
cmd "env -i PATH=… AWS_DEFAULT_REGION=us-east-1 AWS_ENDPOINT_URL_STS=\$STS \$VIA storm repeat -fresh-home -stats-url \$STATS -n $((CLI_N / USER_ROUNDS)) -- aws sts get-caller-identity   # $USER_ROUNDS rounds, the four ways in turn"
cmd "  VIA credd:  AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:\$PORT/v1/credentials AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=\$STATE/token"
cmd "  VIA web identity: AWS_WEB_IDENTITY_TOKEN_FILE=\$WEBID_TOKEN AWS_ROLE_ARN=$ROLE_ARN AWS_ROLE_SESSION_NAME=bench   (cached: -home \$SHARED_HOME instead of -fresh-home)"
cmd "  VIA static keys: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN copied from credd"
cmd "same with -n $((BOTO_RUNS / USER_ROUNDS)) -- python3 bench/boto3_calls.py $BOTO_CALLS"

# ---- 6. under a flood ----
say "flood: $FLOOD_RATE connections/s for ${FLOOD_SECS}s of each kind, each against a newly started credd"
for kind in silent unauth churn slowloris; do
	ST=$(newstate) PORT=$("$STORM" freeport)
	# shellcheck disable=SC2046
	"$BIN/credd" $(credd_args "$ST" "$PORT") 2>"$WORK/credd-flood-$kind.log" &
	FPID=$!
	PIDS+=("$FPID")
	await_credentials "$ST" "$PORT" "$WORK/flood-creds.json"
	"$STORM" flood -kind "$kind" -rate "$FLOOD_RATE" -duration "${FLOOD_SECS}s" -pid "$FPID" \
		-url "http://127.0.0.1:$PORT/v1/credentials" -token-file "$ST/token" >"$RES/flood-$kind.json"
	kill "$FPID" 2>/dev/null || say "credd died during the $kind flood (see $WORK/credd-flood-$kind.log)"
	wait "$FPID" 2>/dev/null || true
done
cmd "storm flood -kind {silent,unauth,churn} -rate $FLOOD_RATE -duration ${FLOOD_SECS}s -pid \$PID -url http://127.0.0.1:\$PORT/v1/credentials -token-file \$STATE/token   # each against a newly started, warm $CREDD_CMDLINE"

# ---- 5. go test -bench ----
say "go test -bench"
BENCH_RE='^Benchmark(ServeCredentials|ServeCredentialsParallel|AuthCheck|HostCheck|HTTPRoundTrip)$'
go test -run '^$' -bench "$BENCH_RE" -benchmem "${BENCH_ARGS[@]}" ./daemon/server/ >"$RES/gobench.txt"
cmd "go test -run '^\$' -bench '$BENCH_RE' -benchmem ${BENCH_ARGS[*]} ./daemon/server/"

meta loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"

# ---- the document ----
if [ "$SMOKE" = 1 ]; then
	"$BIN/report" -dir "$RES" -out "$WORK/BENCHMARKS.md" -check
	say "smoke OK"
else
	"$BIN/report" -dir "$RES" -out "$OUT_DOC"
	say "wrote $OUT_DOC"
fi
