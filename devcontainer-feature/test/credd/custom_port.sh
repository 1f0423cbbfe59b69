#!/bin/bash
# Scenario "custom_port": a non-default port reaches login shells through the
# profile script, since containerEnv cannot interpolate option values.
set -e

source dev-container-features-test-lib
source "$(dirname "$0")/checks.sh"

check "the daemon becomes healthy" healthy
check "one daemon runs" one_daemon
check "the daemon listens on the port option" bash -c 'credd status --json | grep -q "\"endpoint\": \"http://127.0.0.1:9922/v1/credentials\""'
check "the profile script sets FULL_URI to that port" test "$AWS_CONTAINER_CREDENTIALS_FULL_URI" = http://127.0.0.1:9922/v1/credentials
check "the token variable equals the token file" token_env_matches_file
check "the endpoint serves credentials" endpoint_serves
check "the AWS CLI gets credentials from credd" aws_identity
check "the duration option reaches the daemon" bash -c 'credd status --json | grep -q "\"duration\": \"2h0m0s\""'

reportResults
