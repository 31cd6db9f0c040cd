#!/usr/bin/env bash
# Runs the server and engine tests under ThreadSanitizer and the whole suite under
# AddressSanitizer, each in its own build folder.
#   scripts/sanitize.sh [thread|address|both]
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
if [ "$which" = thread ] || [ "$which" = both ]; then
  swift build --build-tests --sanitize=thread --scratch-path .build-tsan
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" swift test --skip-build --sanitize=thread --scratch-path .build-tsan \
    --filter "BatchingEngineTests|LiveServerTests|DrainTests|FaultTests|HTTPParserTests|ServiceTests"
fi
if [ "$which" = address ] || [ "$which" = both ]; then
  swift build --build-tests --sanitize=address --scratch-path .build-asan
  ASAN_OPTIONS="detect_leaks=0" swift test --skip-build --sanitize=address --scratch-path .build-asan
fi
