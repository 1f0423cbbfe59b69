#!/bin/bash
# Scenario "sandbox": the daemon runs its embedded issuer and STS emulator,
# started by the entrypoint; the environment from containerEnv and the
# profile script gives the AWS CLI working credentials.
set -e

source dev-container-features-test-lib
source "$(dirname "$0")/checks.sh"

check "credd is installed" credd version
check "the daemon becomes healthy" healthy
check "one daemon runs" one_daemon
check "FULL_URI is the default endpoint" test "$AWS_CONTAINER_CREDENTIALS_FULL_URI" = http://127.0.0.1:9911/v1/credentials
check "the token variable equals the token file" token_env_matches_file
check "RELATIVE_URI is unset" test -z "${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI+set}"
check "the endpoint serves credentials" endpoint_serves
check "the AWS CLI gets credentials from credd" aws_identity
check "a killed daemon comes back within seconds" comes_back
check "the AWS CLI still works after the restart" aws_identity
check "running the entrypoint again leaves one daemon" entrypoint_again
check "the supervisor logs to the state dir" logs_to_state_dir

reportResults
