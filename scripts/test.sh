#!/usr/bin/env bash
# The test command: installs what it needs, builds, runs the Swift suites (units, goldens, live
# server, faults), the serving path's concurrency under ThreadSanitizer, the API contract check
# (openapi.yaml + schemathesis against a live server), the deploy check, and a short run of every
# fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test --skip-build 2>&1 | tee "$log"
passed=$(sed -n 's/.*Test run with \([0-9]*\) tests.* passed after.*/\1/p' "$log" | tail -1)
# The engine, the live server and the lock-discipline run under ThreadSanitizer (a build of its
# own; about 2 minutes in all; the full TSan/ASan runs: scripts/sanitize.sh).
bash scripts/sanitize.sh serving
bash scripts/api_contract.sh
bash scripts/deploy_check.sh
# A short run of every fuzz target (the long runs: scripts/fuzz.sh 600).
bash scripts/fuzz.sh 15
echo "swift tests: ${passed:-0} passed, 0 failed"
