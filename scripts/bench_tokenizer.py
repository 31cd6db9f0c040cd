#!/usr/bin/env python3
"""Tokenizer throughput: pairranker's Swift tokenizer against the Hugging Face Rust tokenizer
(`tokenizers`, the engine under DebertaV2TokenizerFast), one thread each, same corpus, same run.

    python3 scripts/bench_tokenizer.py [--model Tests/Fixtures/tiny-pair-ranker]
        [--corpus Tests/Fixtures/goldens/tokenizer_corpus.jsonl] [--rounds 5]

Needs scripts/reference/requirements.txt and a release build (swift build -c release).
Rounds alternate the two implementations; the report gives the median of each and the ratio.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

root = Path(__file__).resolve().parents[1]
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=str(root / "Tests/Fixtures/tiny-pair-ranker"))
ap.add_argument("--corpus", default=str(root / "Tests/Fixtures/goldens/tokenizer_corpus.jsonl"))
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--binary", default=str(root / ".build/release/pairranker"))
args = ap.parse_args()

texts = [json.loads(l)["text"] for l in open(args.corpus, encoding="utf-8") if l.strip()]
tok = Tokenizer.from_file(str(Path(args.model) / "tokenizer.json"))
for t in texts:  # warm-up
    tok.encode(t)

def rust_pass():
    best = float("inf")
    for _ in range(5):
        s = time.perf_counter()
        for t in texts:
            tok.encode(t)  # one call per string: no batch parallelism
        best = min(best, time.perf_counter() - s)
    return len(texts) / best

def swift_pass():
    out = subprocess.run([args.binary, "dev", "bench-tokenizer", "--model", args.model, "--input", args.corpus, "--repeats", "5"],
                         check=True, capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    return json.loads(out.stdout)["strings_per_second"]

rust, swift = [], []
for _ in range(args.rounds):
    rust.append(rust_pass())
    swift.append(swift_pass())
r, s = statistics.median(rust), statistics.median(swift)
print(f"corpus: {len(texts)} strings, {sum(len(t.encode()) for t in texts)} bytes")
print(f"HF tokenizers (Rust, 1 thread): median {r:,.0f} strings/s (min {min(rust):,.0f}, max {max(rust):,.0f})")
print(f"pairranker (Swift, 1 thread):   median {s:,.0f} strings/s (min {min(swift):,.0f}, max {max(swift):,.0f})")
print(f"ratio pairranker / HF: {s / r:.2f}x")
