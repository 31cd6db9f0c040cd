#!/usr/bin/env python3
"""What a request costs through `pairranker serve` beside what its forward costs in `pairranker dev bench`.

    python3 scripts/bench/server_latency.py --model DIR [--lengths 128,384] [--precision fp32] [--requests 7] [--rounds 3]

For each length L the script builds a /compare body ([A,B] mode: one pair sequence) whose pair
sequence has L tokens (it asks the server's /tokenize until `usage.tokens` says L), then, per
round: one `pairranker dev bench --lengths L` process (the median forward of --requests repeats)
and --requests warm, sequential requests to one running server with `Cache-Control: no-cache`
(so every request computes), timed at the client from the first byte sent to the last received.
Also reports the server's own `x-queue-time` / `x-inference-time` headers. Ratios are per round
(bench and server measured back to back), median over rounds. Standard library only.
"""
import argparse, http.client, json, os, random, statistics, subprocess, sys, time
from pathlib import Path

import serving

root = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--lengths", default="128,384")
ap.add_argument("--precision", default="fp32")
ap.add_argument("--requests", type=int, default=7)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--json", help="write the figures here")
args = ap.parse_args()
binary = str(root / ".build/release/pairranker")


server, port = serving.start(binary, ["--model", args.model, "--threads", str(args.threads), "--precision", args.precision])


def request(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    t = time.perf_counter() - t0
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, data, h, t


try:
    rng = random.Random(5)
    words = [w for w in "time river stone light paper garden music window answer number reason simple".split()]

    def body(n_words):
        def text(n):
            return " ".join(rng.choice(words) for _ in range(n))
        rng.seed(n_words)
        s = max(1, n_words // 3)
        return json.dumps({"input": text(s), "candidate_a": text((n_words - s) // 2),
                           "candidate_b": text(n_words - s - (n_words - s) // 2), "mode": "[A,B]"})

    def tokens(b):
        st, data, _, _ = request("POST", "/compare", b, {"Content-Type": "application/json", "Cache-Control": "no-cache"})
        assert st == 200, data
        u = json.loads(data)["usage"]
        return u["tokens"], u["truncated"]

    results = {}
    for L in [int(x) for x in args.lengths.split(",") if x]:
        lo, hi = 1, 4 * L
        while lo < hi:  # the smallest word count whose pair sequence reaches L tokens
            mid = (lo + hi) // 2
            if tokens(body(mid))[0] >= L:
                hi = mid
            else:
                lo = mid + 1
        b = body(lo)
        got, truncated = tokens(b)
        rounds = []
        for k in range(args.rounds):
            bench = subprocess.run([binary, "dev", "bench", "--model", args.model, "--lengths", str(got), "--mix-instances", "0",
                                    "--repeats", str(args.requests), "--threads", str(args.threads), "--precision", args.precision],
                                   capture_output=True, text=True, check=True)
            case = next(json.loads(l) for l in bench.stdout.splitlines() if '"case"' in l)
            times, queue, infer = [], [], []
            for _ in range(args.requests):
                st, data, h, t = request("POST", "/compare", b, {"Content-Type": "application/json", "Cache-Control": "no-cache"})
                assert st == 200, data
                times.append(t); queue.append(float(h.get("x-queue-time", "nan"))); infer.append(float(h.get("x-inference-time", "nan")))
            rounds.append({"bench_forward_s": case["median_seconds"], "server_request_s": statistics.median(times),
                           "server_queue_ms": statistics.median(queue), "server_inference_ms": statistics.median(infer),
                           "ratio": statistics.median(times) / case["median_seconds"]})
            print(f"L={got} round {k + 1}: bench forward {case['median_seconds']:.4f} s, request {statistics.median(times):.4f} s "
                  f"(queue {statistics.median(queue):.1f} ms, inference {statistics.median(infer):.1f} ms): "
                  f"{rounds[-1]['ratio']:.3f}x", file=sys.stderr)
        results[f"L={got}"] = {"tokens": got, "truncated": truncated, "rounds": rounds,
                               "median_ratio": statistics.median(r["ratio"] for r in rounds)}
        print(f"L={got}: request / bench forward = {results[f'L={got}']['median_ratio']:.3f} (median over {args.rounds} rounds)")
    if args.json:
        Path(args.json).write_text(json.dumps({"precision": args.precision, "threads": args.threads, "cases": results}, indent=1))
finally:
    serving.stop(server)
