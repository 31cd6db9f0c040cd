#!/usr/bin/env bash
# The test command: installs what it needs, builds, runs the Swift suites (units, goldens, live
# server tests), then the API contract check (openapi.yaml + schemathesis against a live server).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build
bash scripts/api_contract.sh
bash scripts/deploy_check.sh
# A short run of every fuzz target (the long runs: scripts/fuzz.sh 600).
bash scripts/fuzz.sh 15
