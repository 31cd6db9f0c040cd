#!/usr/bin/env python3
"""A re-scoring workload through `pairranker serve`, with the exact score cache and without it.

    python3 scripts/bench/rescoring.py --model DIR [--prompts 12] [--candidates 4] [--precision fp32] [--cache-mb 64]

What RLHF and data pipelines send again, in one seeded sequence of requests:
  1. best-of-n: a /rank of each prompt's n candidates (every ordered pair);
  2. a /compare of each prompt's two best, as a judge step does after ranking (both orders are in
     the rank's pairs);
  3. retries: a quarter of the ranks sent again, as a client does after a timeout (OpenRLHF's
     reward client retries a failed request five times);
  4. the next round of best-of-n: half the prompts ranked again with one candidate replaced, so
     the pairs among the unchanged candidates repeat.
The same sequence runs against two servers started one after the other from the same build:
--cache-mb as given and --cache-mb 0. Reports wall time, pair sequences computed (usage.pairs)
and served from the cache (usage.cached), and checks that every response's numbers are the same
in both runs (the cache is exact). Standard library only.
"""
import argparse, http.client, json, os, random, sys, time
from pathlib import Path

import serving

root = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--prompts", type=int, default=12)
ap.add_argument("--candidates", type=int, default=4)
ap.add_argument("--precision", default="fp32")
ap.add_argument("--cache-mb", type=int, default=64)
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--seed", type=int, default=3)
ap.add_argument("--json", help="write the figures here")
args = ap.parse_args()
binary = str(root / ".build/release/pairranker")

rng = random.Random(args.seed)
words = "model answer reason proof number result method example value question simple correct".split()


def text(lo, hi):
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


prompts = [{"input": text(10, 25), "candidates": [text(15, 40) for _ in range(args.candidates)]} for _ in range(args.prompts)]
replacements = [text(15, 40) for _ in prompts]   # drawn once: both runs send the same requests


def workload(ranked):
    """The request sequence; `ranked(i)` gives prompt i's ranks from step 1 (for step 2)."""
    yield from (("rank", p) for p in prompts)
    for i, p in enumerate(prompts):
        r = ranked(i)
        best = sorted(range(len(r)), key=lambda k: r[k])[:2]
        yield "compare", {"input": p["input"], "candidate_a": p["candidates"][best[0]], "candidate_b": p["candidates"][best[1]]}
    yield from (("rank", p) for p in prompts[: max(1, len(prompts) // 4)])
    for i, p in enumerate(prompts[: max(1, len(prompts) // 2)]):
        c = list(p["candidates"])
        c[-1] = replacements[i]
        yield "rank", {"input": p["input"], "candidates": c}


def run(cache_mb):
    server, port = serving.start(binary, ["--model", args.model, "--threads", str(args.threads),
                                          "--precision", args.precision, "--cache-mb", str(cache_mb)])

    def post(path, body):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status != 200:
            sys.exit(f"{path}: {r.status} {data[:300]!r}")
        return json.loads(data)

    try:
        ranks, answers, computed, cached = {}, [], 0, 0
        start = time.perf_counter()
        for k, (route, body) in enumerate(workload(lambda i: ranks[i])):
            out = post("/" + route, body)
            if k < len(prompts):
                ranks[k] = out["ranks"]
            computed += out["usage"]["pairs"]
            cached += out["usage"].get("cached", 0)
            answers.append({key: v for key, v in out.items() if key != "usage"})
        return {"seconds": time.perf_counter() - start, "pairs_computed": computed, "pairs_cached": cached,
                "requests": len(answers)}, answers
    finally:
        serving.stop(server)


with_cache, a = run(args.cache_mb)
without, b = run(0)
same = a == b
report = {"model": args.model, "precision": args.precision, "prompts": args.prompts, "candidates": args.candidates,
          "with_cache": with_cache, "without_cache": without, "identical_answers": same,
          "speedup": without["seconds"] / with_cache["seconds"]}
print(json.dumps(report, indent=1))
if args.json:
    Path(args.json).write_text(json.dumps(report, indent=1))
if not same:
    k = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
    sys.exit(f"answers differ with and without the cache, first at request {k}:\n  with    {a[k]}\n  without {b[k]}")
