#!/usr/bin/env bash
# Probe latency under load: CONCURRENCY /rank requests kept in flight (distinct bodies, cache
# off) while /health, /ready and /metrics are probed every 20 ms, as a kubelet and Prometheus
# would. Prints each probe route's p50/p99/max and fails if any p99 is 50 ms or more, or a probe
# went unanswered.
#   scripts/probe_under_load.sh [MODEL=Tests/Fixtures/tiny-pair-ranker] [CONCURRENCY=250] [SECONDS=30]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-Tests/Fixtures/tiny-pair-ranker}; conc=${2:-250}; secs=${3:-30}
bin=.build/release/pairranker
[ -x "$bin" ] || swift build -c release --product pairranker
work=$(mktemp -d)
for i in $(seq 1 1000); do
  echo "{\"input\":\"probe load question $i about something\",\"candidates\":[\"first answer $i, a sentence or two long\",\"second answer $((i * 7)) that says more\",\"third $((i * 13))\"]}"
done > "$work/bodies.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --model "$model" --port "$port" --cache-mb 0 --max-queue-pairs 100000 --handler-threads 512 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.5; done
"$bin" dev load --port "$port" --path /rank --body "@$work/bodies.jsonl" --concurrency "$conc" --duration "$((secs + 5))" > "$work/load.json" &
load=$!
sleep 3   # let the load reach its concurrency
python3 - "$port" "$secs" <<'PY'
import http.client, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
lat = {"/health": [], "/ready": [], "/metrics": []}
failed = 0
end = time.time() + secs
conns = {p: http.client.HTTPConnection("127.0.0.1", port, timeout=5) for p in lat}
while time.time() < end:
    for path, c in conns.items():
        t = time.perf_counter()
        try:
            c.request("GET", path)
            r = c.getresponse(); r.read()
            if r.status != 200: failed += 1
        except Exception:
            failed += 1
            conns[path] = c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            continue
        lat[path].append((time.perf_counter() - t) * 1000)
    time.sleep(0.02)
worst = 0
for path, xs in lat.items():
    xs.sort()
    p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    print(f"{path:9s} probes {len(xs):5d}  p50 {p(0.5):7.2f} ms  p99 {p(0.99):7.2f} ms  max {xs[-1]:7.2f} ms")
    worst = max(worst, p(0.99))
print(f"unanswered or non-200 probes: {failed}")
sys.exit(0 if failed == 0 and worst < 50 else 1)
PY
rc=$?
wait $load || true
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('load: %d requests, %.2f req/s, p50 %s ms, errors %d, concurrency %d' % (d['requests'], d['requests_per_second'], d['p50_ms'], d['errors'], $conc))" "$work/load.json"
exit $rc
