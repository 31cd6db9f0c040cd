#!/usr/bin/env bash
# Throughput and latency of the server under load, against the same pairs run back to back
# through the CLI, in one run (BENCHMARKS.md, "Serving"). Usage:
#   scripts/load_report.sh [MODEL_DIR] [SECONDS_PER_STEP] [CANDIDATES]
# Needs a release build (swift build -c release). Prints one JSON line per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-Tests/Fixtures/tiny-pair-ranker}
secs=${2:-10}
ncand=${3:-4}
bin=.build/release/pairranker
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
words="the quick brown fox jumps over a lazy dog while every model ranks each answer by how well it helps"
# Distinct rank bodies, so concurrent requests share no identical pair sequences.
for i in $(seq 1 400); do
  c=""
  for j in $(seq 1 "$ncand"); do
    c+="\"answer $i.$j: $(echo $words | cut -d' ' -f1-$(( (i * j) % 18 + 3 )))\","
  done
  echo "{\"input\":\"question $i: $words\",\"candidates\":[${c%,}]}"
done > "$work/rank.jsonl"
for i in $(seq 1 400); do echo "{\"input\":\"small $i\",\"candidate_a\":\"yes $i\",\"candidate_b\":\"no $i\"}"; done > "$work/compare.jsonl"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --model "$model" --port "$port" 2>"$work/server.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do sleep 0.2; done
for c in 1 4 16; do
  "$bin" dev load --port "$port" --path /rank --body "@$work/rank.jsonl" --concurrency "$c" --duration "$secs" --label "server c=$c"
done
# The same kind of bodies back to back through the CLI (one process, list form, no HTTP, no batching).
n=40
python3 - "$work/rank.jsonl" "$n" > "$work/list.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][: int(sys.argv[2])]
print(json.dumps({"inputs": [r["input"] for r in rows], "candidates": [r["candidates"] for r in rows]}))
PY
start=$(date +%s.%N)
pairs=$("$bin" rank --model "$model" --input "$work/list.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["usage"]["pairs"])')
end=$(date +%s.%N)
python3 -c "print('{\"label\":\"cli back to back\",\"requests\":$n,\"pairs\":$pairs,\"seconds\":%.2f,\"pairs_per_second\":%.3f}' % ($end-$start, $pairs/($end-$start)))"
# Small requests under a big-request load.
big=$(python3 -c "import json; print(json.dumps({'input':'big question','candidates':['candidate %d: '%i + 'word '*40 for i in range(12)]}))")
"$bin" dev load --port "$port" --path /rank --body "$big" --concurrency 2 --duration "$secs" --label "big /rank (12 candidates) background" > "$work/big.json" &
bg=$!
sleep 1
"$bin" dev load --port "$port" --path /compare --body "@$work/compare.jsonl" --concurrency 1 --duration "$((secs - 2))" --label "small /compare under big /rank load"
wait $bg
cat "$work/big.json"
"$bin" dev load --port "$port" --path /compare --body "@$work/compare.jsonl" --concurrency 1 --duration "$((secs / 2))" --label "small /compare alone"
kill -TERM $pid; wait $pid
