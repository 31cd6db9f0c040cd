#!/usr/bin/env bash
# The test command: installs what it needs, builds, and runs every test tier that needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
swift build --build-tests
swift test --skip-build
