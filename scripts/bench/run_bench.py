#!/usr/bin/env python3
"""pairranker vs PyTorch on the same CPU, same weights, same inputs, same threads, in one run.

    python3 scripts/bench/run_bench.py [--model DIR] [--threads 2] [--rounds 3] [--repeats 3]

Makes a seeded full-size random PairRanker with `pairranker dev make-random-model` when --model is
absent (written to .build/bench-model, never committed). Runs each case in a pair of processes,
one per implementation, back to back (which goes first alternates by round), and reports per case the median pairs/s of each, the
ratio, the spread, the GFLOP/s against the sgemm peak each process measured, load time, peak RSS,
and the largest logit difference between the two. Writes bench-out/results.json and
bench-out/pairs_per_second.png. Needs scripts/reference/requirements.txt (+ matplotlib for the
plot) and `swift build -c release`.
"""
import argparse, json, os, statistics, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parents[2]
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=str(root / ".build/bench-model"))
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--lengths", default="128,256,384")
ap.add_argument("--mix-instances", type=int, default=8)
ap.add_argument("--mix-candidates", type=int, default=2)
ap.add_argument("--out", default=str(root / "bench-out"))
args = ap.parse_args()
binary = str(root / ".build/release/pairranker")
out = Path(args.out); out.mkdir(exist_ok=True)
if not Path(args.model, "model.safetensors").exists():
    subprocess.run([binary, "dev", "make-random-model", "--out", args.model], check=True)
env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}

def lines(cmd):
    r = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]

# Each case runs in its own pair of processes, back to back, so a pair's two measurements are
# close in time on this shared machine; which side goes first alternates round by round.
case_args = [(f"L={l}", ["--lengths", str(l), "--mix-instances", "0"]) for l in args.lengths.split(",") if l]
if args.mix_instances > 0:
    case_args.append(("mix", ["--lengths", "", "--mix-instances", str(args.mix_instances),
                              "--mix-candidates", str(args.mix_candidates)]))
runs = {"pairranker": [], "pytorch": []}
for k in range(args.rounds):
    for name, extra in case_args:
        # Seeded: a case's inputs are the same in every round; round 1 (ours first) writes them.
        case_inputs = out / f"inputs-{name.replace('=', '')}.json"
        ours = [binary, "dev", "bench", "--model", args.model, "--threads", str(args.threads), "--repeats", str(args.repeats),
                "--dump-inputs", str(case_inputs)] + extra
        theirs = [sys.executable, str(root / "scripts/bench/torch_side.py"), "--model", args.model,
                  "--inputs", str(case_inputs), "--threads", str(args.threads), "--repeats", str(args.repeats)]
        if k % 2 == 0:
            runs["pairranker"].append(lines(ours)); runs["pytorch"].append(lines(theirs))
        else:
            runs["pytorch"].append(lines(theirs)); runs["pairranker"].append(lines(ours))
    print(f"round {k + 1}/{args.rounds} done", file=sys.stderr)

def events(impl, name):
    return [e for r in runs[impl] for e in r if e.get("event") == name]

def cases(impl):
    by = {}
    for r in runs[impl]:
        for e in r:
            if "case" in e: by.setdefault(e["case"], []).append(e)
    return by

sw, pt = cases("pairranker"), cases("pytorch")
peak = statistics.median(e["sgemm_peak_gflops"] for e in events("pairranker", "setup"))
tpeak = statistics.median(e["sgemm_peak_gflops"] for e in events("pytorch", "setup"))
report = {"threads": args.threads, "rounds": args.rounds, "sgemm_peak_gflops": {"openblas": peak, "torch": tpeak},
          "load_seconds": {i: statistics.median(e["load_seconds"] for e in events(i, "setup")) for i in runs},
          "peak_rss_mb": {i: max(e["peak_rss_mb"] for e in events(i, "done")) for i in runs}, "cases": {}}
print(f"threads {args.threads}; sgemm peak {peak:.0f} GFLOP/s (OpenBLAS {events('pairranker','setup')[0]['openblas_core']}), torch matmul {tpeak:.0f}")
print(f"{'case':8} {'pairranker pairs/s':>20} {'pytorch pairs/s':>18} {'ratio':>7} {'GFLOP/s':>9} {'of peak':>8} {'max |dlogit|':>13}")
for name in sw:
    s = [e["pairs_per_second"] for e in sw[name]]; p = [e["pairs_per_second"] for e in pt[name]]
    ratios = [a / b for a, b in zip(s, p)]
    gf = statistics.median(e["gflops"] for e in sw[name])
    dl = max(abs(a - b) for e1, e2 in zip(sw[name], pt[name]) for a, b in zip(e1["logits"], e2["logits"]))
    report["cases"][name] = {"pairranker_pairs_per_second": s, "pytorch_pairs_per_second": p, "ratios": ratios,
                             "gflops": gf, "fraction_of_peak": gf / peak, "max_logit_difference": dl}
    print(f"{name:8} {statistics.median(s):12.3f} ({min(s):.3f}-{max(s):.3f}) {statistics.median(p):9.3f} ({min(p):.3f}-{max(p):.3f}) "
          f"{statistics.median(ratios):6.2f}x {gf:8.1f} {gf / peak:7.0%} {dl:13.2e}")
print(f"load: pairranker {report['load_seconds']['pairranker']:.2f} s, pytorch {report['load_seconds']['pytorch']:.2f} s; "
      f"peak RSS: pairranker {report['peak_rss_mb']['pairranker']:.0f} MB, pytorch {report['peak_rss_mb']['pytorch']:.0f} MB")
(out / "results.json").write_text(json.dumps(report, indent=1))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n in sw if n.startswith("L=")]
    xs = [int(n[2:]) for n in names]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, [statistics.median(e["pairs_per_second"] for e in sw[n]) for n in names], "o-", label="pairranker (Swift, OpenBLAS)")
    ax.plot(xs, [statistics.median(e["pairs_per_second"] for e in pt[n]) for n in names], "s-", label="PyTorch (transformers)")
    ax.set_xlabel("pair sequence length (tokens)"); ax.set_ylabel("pair sequences per second")
    ax.set_title(f"deberta-v3-large PairRanker, float32, {args.threads} threads"); ax.grid(alpha=0.3); ax.legend()
    fig.tight_layout(); fig.savefig(out / "pairs_per_second.png", dpi=120)
except ImportError:
    print("matplotlib not installed: no plot", file=sys.stderr)
