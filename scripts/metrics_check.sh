#!/usr/bin/env bash
# /metrics as Prometheus reads it: a live server (fixture model) after a few requests, checked by
# promtool (Debian's prometheus package), plus the families a dashboard relies on.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v promtool >/dev/null || { echo "metrics check: promtool missing (bash scripts/bootstrap.sh installs it)" >&2; exit 1; }
bin=.build/debug/pairranker
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --model Tests/Fixtures/tiny-pair-ranker --port "$port" --cache-mb 4 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in 1 2; do curl -sf "http://127.0.0.1:$port/rank" -d '{"input":"2+2?","candidates":["4","5","6"]}' >/dev/null; done
curl -s "http://127.0.0.1:$port/rank" -d '{"input":"2+2?","candidates":[]}' >/dev/null
curl -s "http://127.0.0.1:$port/nope" >/dev/null
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
echo "$metrics" | promtool check metrics
for family in pairranker_requests_total pairranker_request_duration_seconds_bucket pairranker_cache_hits_total \
              pairranker_build_info process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
              process_start_time_seconds; do
  grep -q "^$family" <<< "$metrics" || { echo "metrics check: $family missing" >&2; exit 1; }
done
grep -q '^pairranker_request_duration_seconds_count{route="/rank"} 3$' <<< "$metrics" \
  || { echo "metrics check: request durations are not labelled by route" >&2; exit 1; }
# Every metric the Grafana dashboard queries is one this server exports.
python3 - "$metrics" <<'PY'
import json, re, sys
exported = {l.split()[2] for l in sys.argv[1].splitlines() if l.startswith("# TYPE ")}
dash = json.load(open("deploy/grafana-dashboard.json"))
names = set()
for p in dash["panels"]:
    for t in p["targets"]:
        names |= set(re.findall(r"\b((?:pairranker|process)_[a-z_]+)", t["expr"]))
base = {re.sub(r"_(bucket|sum|count)$", "", n) if re.sub(r"_(bucket|sum|count)$", "", n) in exported else n for n in names}
missing = sorted(base - exported)
if missing:
    sys.exit(f"metrics check: the dashboard queries metrics the server does not export: {missing}")
print(f"metrics check: the dashboard's {len(names)} metrics are all exported")
PY
kill -TERM $pid; wait $pid
echo "metrics check: promtool clean, $(echo "$metrics" | grep -c '^# TYPE') families"
