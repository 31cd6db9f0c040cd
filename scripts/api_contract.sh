#!/usr/bin/env bash
# The API contract check of the test command: openapi.yaml validates as OpenAPI 3.1, and
# schemathesis, driven by it, finds no 5xx and no non-conforming response from a live server
# on the fixture model. Python tools live in .build/venv-api (pinned, from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.build/venv-api
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==4.32.5" "openapi-spec-validator==0.9.0"
fi
"$venv/bin/openapi-spec-validator" openapi.yaml
bin=.build/debug/pairranker
[ -x "$bin" ] || swift build --product pairranker
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$bin" serve --model Tests/Fixtures/tiny-pair-ranker --port "$port" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
"$venv/bin/schemathesis" run openapi.yaml --url "http://127.0.0.1:$port" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples 40 --seed 20261129 --no-color
kill -TERM $pid
wait $pid
echo "api contract: openapi.yaml valid, schemathesis clean, server drained and exited 0"
