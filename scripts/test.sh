#!/usr/bin/env bash
# The test command: installs what it needs, lints (scripts/lint.sh), builds, runs the Swift suites (units, goldens, live
# server, faults), the goldens and batch invariance again under every OpenBLAS kernel family
# this CPU can run, the serving path's concurrency under ThreadSanitizer, the Python client
# against a live server, /metrics through promtool, the API contract check (openapi.yaml + schemathesis against a live
# server), the deploy check, and a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/lint.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The executable picks OpenBLAS's kernels for this CPU at start-up (and re-executes itself with
# OPENBLAS_CORETYPE); test processes cannot, and OpenBLAS's own detection falls back to its slow
# generic kernels on CPUs newer than it. So the tests run on the kernels the executable chooses,
# asked of the executable itself: one rule.
core=$(.build/debug/pairranker dev blas-core)
export OPENBLAS_CORETYPE="$core"
echo "test: OpenBLAS kernels $core (pairranker's choice on this CPU), exported as OPENBLAS_CORETYPE"
swift test --skip-build 2>&1 | tee "$log"
passed=$(sed -n 's/.*Test run with \([0-9]*\) tests.* passed after.*/\1/p' "$log" | tail -1)
total=${passed:-0}
# Goldens and batch invariance under each kernel family this CPU can execute: the engine runs one
# GEMM per batch on kernels whose rows do not depend on the batch and one per sequence elsewhere.
matrix="TensorsTests|DeBERTaTests|PairRankerTests|BatchingEngineTests|EngineServiceTests|BatchRankTests"
for c in $(.build/debug/pairranker dev blas-core --tested); do
  echo "test: goldens and batch invariance under OpenBLAS $c kernels"
  OPENBLAS_CORETYPE=$c swift test --skip-build --filter "$matrix" > "$log" 2>&1 || { cat "$log"; exit 1; }
  grep -E "rows independent|vs alone|Test run with" "$log"
  n=$(sed -n 's/.*Test run with \([0-9]*\) tests.* passed after.*/\1/p' "$log" | tail -1)
  total=$((total + ${n:-0}))
done
# The Python client (clients/python), installed as a user would, against a live server.
venv=.build/venv-client
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --force-reinstall --no-deps ./clients/python
rm -rf clients/python/build clients/python/*.egg-info
PAIRRANKER_BIN=.build/debug/pairranker PAIRRANKER_MODEL=Tests/Fixtures/tiny-pair-ranker \
  "$venv/bin/python" -W ignore::ResourceWarning -m unittest discover -s clients/python/tests -v > "$log" 2>&1 \
  || { cat "$log"; exit 1; }
tail -n 3 "$log"
# The engine, the live server and the lock-discipline run under ThreadSanitizer (a build of its
# own; about 2 minutes in all; the full TSan/ASan runs: scripts/sanitize.sh).
bash scripts/sanitize.sh serving
bash scripts/metrics_check.sh
bash scripts/api_contract.sh
bash scripts/deploy_check.sh
# A short run of every fuzz target (the long runs: scripts/fuzz.sh 600).
bash scripts/fuzz.sh 15
echo "swift tests: ${total} passed, 0 failed"
