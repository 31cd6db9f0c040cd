#!/usr/bin/env bash
# Soak: constant load on a live server for a while, recording RSS, open descriptors and latency
# percentiles over time. Fails if any request failed or RSS grew more than 5% after warm-up.
#   scripts/soak.sh [SECONDS=600] [MODEL=Tests/Fixtures/tiny-pair-ranker] [CONCURRENCY=4]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}; model=${2:-Tests/Fixtures/tiny-pair-ranker}; conc=${3:-4}
bin=.build/release/pairranker
[ -x "$bin" ] || swift build -c release --product pairranker
work=$(mktemp -d)
for i in $(seq 1 300); do
  echo "{\"input\":\"soak question $i\",\"candidates\":[\"first answer $i\",\"second $((i % 7)) answer\",\"third $((i % 11))\"]}"
done > "$work/bodies.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --model "$model" --port "$port" 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.2; done
interval=30
rounds=$(( (secs + interval - 1) / interval ))
first_rss=0; errors=0; requests=0
printf '%6s %9s %5s %9s %8s %8s %8s %6s\n' t_s rss_mb fds req/s p50_ms p95_ms p99_ms errors
for r in $(seq 1 "$rounds"); do
  line=$("$bin" dev load --port "$port" --path /rank --body "@$work/bodies.jsonl" --concurrency "$conc" --duration "$interval")
  rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  fds=$(ls /proc/$pid/fd | wc -l)
  read -r rps p50 p95 p99 err req < <(python3 -c "import json,sys; d=json.loads(sys.argv[1]); print(d['requests_per_second'], d['p50_ms'], d['p95_ms'], d['p99_ms'], d['errors'], d['requests'])" "$line")
  errors=$((errors + err)); requests=$((requests + req))
  [ "$r" -eq 1 ] && first_rss=$rss
  printf '%6d %9.1f %5d %9s %8s %8s %8s %6s\n' $((r * interval)) "$(python3 -c "print($rss/1024)")" "$fds" "$rps" "$p50" "$p95" "$p99" "$err"
done
growth=$(python3 -c "print(round(100.0 * ($rss - $first_rss) / $first_rss, 2))")
echo "requests: $requests, errors: $errors, RSS after warm-up $((first_rss / 1024)) MB, at end $((rss / 1024)) MB ($growth%)"
kill -TERM $pid; wait $pid
python3 -c "import sys; sys.exit(0 if $errors == 0 and $growth <= 5 else 1)" || { echo "soak: FAILED (errors or RSS growth over 5%)" >&2; exit 1; }
echo "soak: passed"
