#!/usr/bin/env python3
"""pairranker against PyTorch, ONNX Runtime and OpenVINO on the same CPU, same weights, same
inputs, same threads, in one run.

    python3 scripts/bench/run_bench.py [--model DIR] [--threads 2] [--rounds 3] [--repeats 3]
                                       [--sides pairranker,pytorch,ort-fp32,...] [--max-foreign-load 0.10]

Makes a seeded full-size random PairRanker with `pairranker dev make-random-model` when --model is
absent (written to .build/bench-model, never committed). When a foreign runtime is among the
sides, scripts/bench/export_runtimes.py first makes its files from the same model.safetensors
(into --artifacts, default bench-out/runtimes; reused while the checkpoint and versions match).

Sides (--sides, all by default):
  pairranker      `pairranker dev bench` (fp32: the dense layers and attention's products on our
                  AVX-512 kernel where the CPU has it)
  pairranker-openblas  the same with `--fp32-kernel openblas`: every GEMM on OpenBLAS (what
                  CPUs without AVX-512 run; shows what the own kernel gains, in the same run)
  pairranker-int8 `pairranker dev bench --precision int8` (VNNI kernels; the same inputs)
  pytorch         torch_side.py: transformers + the pair head, fp32
  ort-fp32        ort_side.py on model.onnx, every graph optimization
  ort-int8        ort_side.py on model-int8.onnx (dynamic quantization, s8 weights per channel)
  ov-f32          openvino_side.py, f32, dynamic shapes
  ov-f32-static   openvino_side.py --static: f32, compiled per [batch, length]
  ov-int8         openvino_side.py on the NNCF int8 IR, dynamic shapes
  ov-int8-static  the same, compiled per shape
  ov-int8-static-bf16  the same with INFERENCE_PRECISION_HINT=bf16 for what NNCF left in float:
                  the plugin's own default on CPUs with AVX512-BF16 or AMX (approximate, so it
                  is compared with our int8; faster than f32 only where AMX does the bf16)

Each case runs in one fresh process per side, back to back, so a case's measurements are close in
time on a shared machine; the order of the sides reverses every round. Around every process the
script reads /proc/stat and subtracts the CPU time of that process (and its own): what is left is
the foreign load, the share of the machine's cores other programs used meanwhile (mean over the
process, and the busiest 0.5 s window). A round of a case is clean when every side's process in it
saw a mean foreign load of at most --max-foreign-load; medians use the clean rounds (all rounds,
flagged "loaded", when none is clean). Reports per case and side the median pairs/s and seconds
per sequence, pairranker's speed over that side's (the per-round ratios of adjacent processes; for an int8
side, pairranker-int8's when it runs),
the largest logit difference from pairranker, load time and peak RSS; for pairranker and PyTorch
also the GFLOP/s against the sgemm peak each process measured. An fp32 side differing from
pairranker by more than --fp32-tolerance (1e-4) in any logit fails the run (exit status 1, after
writing the results). Writes bench-out/results.json, bench-out/runtimes.md (the table) and
bench-out/pairs_per_second.png. Needs scripts/reference/requirements.txt,
scripts/bench/requirements.txt and `swift build -c release --product pairranker`.
"""
import argparse, json, os, resource, statistics, subprocess, sys, threading, time
from pathlib import Path

root = Path(__file__).resolve().parents[2]
here = root / "scripts/bench"
SIDES = {  # name -> (label for tables, precision)
    "pairranker": ("pairranker fp32", "fp32"),
    "pairranker-openblas": ("pairranker fp32, dense layers on OpenBLAS (--fp32-kernel openblas)", "fp32"),
    "pairranker-int8": ("pairranker int8 (--precision int8: AMX or VNNI kernel)", "int8"),
    "pytorch": ("PyTorch fp32", "fp32"),
    "ort-fp32": ("ONNX Runtime fp32 (all graph optimizations)", "fp32"),
    "ov-f32": ("OpenVINO f32, dynamic shapes", "fp32"),
    "ov-f32-static": ("OpenVINO f32, static shape per length", "fp32"),
    "ort-int8": ("ONNX Runtime int8 (dynamic quantization, s8 weights per channel)", "int8"),
    "ov-int8": ("OpenVINO int8 (NNCF post-training), dynamic shapes", "int8"),
    "ov-int8-static": ("OpenVINO int8 (NNCF), static shape per length", "int8"),
    "ov-int8-static-bf16": ("OpenVINO int8 (NNCF), static shape, the rest in bf16 (its default with AMX)", "int8"),
}
ap = argparse.ArgumentParser()
ap.add_argument("--model", default=str(root / ".build/bench-model"))
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--lengths", default="128,256,384")
ap.add_argument("--batch-sizes", default="1", help="sequences per forward in the fixed-length cases: 1,4 adds L=Nx4")
ap.add_argument("--batch-lengths", default="", help="lengths that get the batch sizes above 1 (default: all of --lengths)")
ap.add_argument("--mix-instances", type=int, default=8)
ap.add_argument("--mix-candidates", type=int, default=2)
ap.add_argument("--sides", default=",".join(SIDES))
ap.add_argument("--max-foreign-load", type=float, default=0.10,
                help="a round is clean when no side's process saw more foreign CPU load than this share of the cores")
ap.add_argument("--fp32-tolerance", type=float, default=1e-4)
ap.add_argument("--out", default=str(root / "bench-out"))
ap.add_argument("--artifacts", help="where the ONNX/OpenVINO files go (default OUT/runtimes)")
args = ap.parse_args()
sides = [s for s in args.sides.split(",") if s]
unknown = [s for s in sides if s not in SIDES]
if unknown or "pairranker" not in sides or len(set(sides)) != len(sides):
    sys.exit(f"--sides: names from {', '.join(SIDES)}, each once, pairranker included (it writes the inputs); got {args.sides}")
# pairranker goes first in round 1: it writes the inputs every other side reads (stale files from
# an earlier run must never be read).
sides = ["pairranker"] + [s for s in sides if s != "pairranker"]
if args.rounds < 1 or args.repeats < 1 or args.threads < 1:
    sys.exit("--rounds, --repeats and --threads must be positive")
binary = str(root / ".build/release/pairranker")
out = Path(args.out); out.mkdir(exist_ok=True)
artifacts = Path(args.artifacts) if args.artifacts else out / "runtimes"
if not Path(args.model, "model.safetensors").exists():
    subprocess.run([binary, "dev", "make-random-model", "--out", args.model], check=True)
env = {**os.environ, "OPENBLAS_NUM_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
if any(s.startswith(("ort-", "ov-")) for s in sides):
    subprocess.run([sys.executable, str(here / "export_runtimes.py"), "--model", args.model, "--out", str(artifacts),
                    "--threads", str(args.threads)], check=True, env=env)

CLK = os.sysconf("SC_CLK_TCK")


def machine_cpu():
    """(busy, total) jiffies over all cores since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq + steal  # guest time is already inside user
    return busy, busy + idle + iowait


def process_jiffies(pid):
    """utime + stime of every thread of a live process (0 when it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measured(cmd):
    """Runs one side's process; returns its JSON events and the foreign CPU load around it."""
    b0, t0 = machine_cpu()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s0 = own_cpu()
    load0 = os.getloadavg()[0]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    windows, done = [], threading.Event()

    def sample():  # the busiest 0.5 s window: /proc/stat against the process's own ticks
        last = (*machine_cpu(), process_jiffies(p.pid), own_cpu())
        while not done.wait(0.5):
            now = (*machine_cpu(), process_jiffies(p.pid), own_cpu())
            if now[2] is None or last[2] is None:
                break
            total = now[1] - last[1]
            if total > 0:
                other = (now[0] - last[0]) - (now[2] - last[2]) - (now[3] - last[3]) * CLK
                windows.append(max(0.0, other / total))
            last = now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, stderr = p.communicate()
    done.set(); sampler.join()
    b1, t1 = machine_cpu()
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{stderr[-4000:]}")
    total = (t1 - t0) / CLK
    foreign = max(0.0, ((b1 - b0) / CLK - child - (own_cpu() - s0)) / total) if total > 0 else 0.0
    load = {"foreign_cpu": foreign, "foreign_cpu_max_window": max(windows, default=foreign),
            "loadavg_1min_before": load0, "loadavg_1min_after": os.getloadavg()[0], "seconds": total / os.cpu_count()}
    return [json.loads(l) for l in stdout.splitlines() if l.startswith("{")], load


def command(side, inputs):
    common = ["--inputs", str(inputs), "--threads", str(args.threads), "--repeats", str(args.repeats)]
    py = [sys.executable]
    if side == "pytorch":
        return py + [str(here / "torch_side.py"), "--model", args.model] + common
    if side.startswith("ort-"):
        f = "model.onnx" if side == "ort-fp32" else "model-int8.onnx"
        return py + [str(here / "ort_side.py"), "--onnx", str(artifacts / f), "--impl", side] + common
    f = "openvino-f32.xml" if side.startswith("ov-f32") else "openvino-int8.xml"
    return (py + [str(here / "openvino_side.py"), "--xml", str(artifacts / f), "--impl", side] + common
            + (["--static"] if "-static" in side else [])
            + (["--inference-precision", "bf16"] if side.endswith("-bf16") else []))


batch_lengths = set(x for x in args.batch_lengths.split(",") if x)
case_args = []
for l in [x for x in args.lengths.split(",") if x]:
    for b in [int(x) for x in args.batch_sizes.split(",") if x]:
        if b == 1 or not batch_lengths or l in batch_lengths:
            case_args.append((f"L={l}" + (f"x{b}" if b > 1 else ""),
                              ["--lengths", l, "--batch-sizes", str(b), "--mix-instances", "0"]))
if args.mix_instances > 0:
    case_args.append(("mix", ["--lengths", "", "--mix-instances", str(args.mix_instances),
                              "--mix-candidates", str(args.mix_candidates)]))
if not case_args:
    sys.exit("no case: give --lengths or --mix-instances")
# records[side][case] = one dict per round: the case's event, the process's setup/done events, its load
records = {s: {} for s in sides}
for k in range(args.rounds):
    order = sides if k % 2 == 0 else sides[::-1]
    for name, extra in case_args:
        # Seeded: a case's inputs are the same in every round; round 1 (pairranker first) writes them.
        case_inputs = out / f"inputs-{name.replace('=', '')}.json"
        for side in order:
            if side == "pairranker":
                cmd = [binary, "dev", "bench", "--model", args.model, "--threads", str(args.threads),
                       "--repeats", str(args.repeats), "--dump-inputs", str(case_inputs)] + extra
            elif side == "pairranker-openblas":  # the same seeded inputs, generated again
                cmd = [binary, "dev", "bench", "--model", args.model, "--threads", str(args.threads),
                       "--repeats", str(args.repeats), "--fp32-kernel", "openblas"] + extra
            elif side == "pairranker-int8":  # the same seeded inputs, generated again
                cmd = [binary, "dev", "bench", "--model", args.model, "--threads", str(args.threads),
                       "--repeats", str(args.repeats), "--precision", "int8"] + extra
            else:
                cmd = command(side, case_inputs)
            evs, load = measured(cmd)
            setup = next(e for e in evs if e.get("event") == "setup")
            done = next(e for e in evs if e.get("event") == "done")
            for e in evs:
                if "case" in e:
                    records[side].setdefault(e["case"], []).append(
                        {"round": k, "event": e, "setup": setup, "done": done, "load": load})
    loads = " ".join(f"{s} {records[s][c][-1]['load']['foreign_cpu']:.0%}" for s in order for c in [case_args[0][0]])
    print(f"round {k + 1}/{args.rounds} done; foreign CPU load per process of the first case: {loads}", file=sys.stderr)

case_names = list(records["pairranker"])
clean = {c: [k for k in range(args.rounds)
             if all(r["load"]["foreign_cpu"] <= args.max_foreign_load for s in sides for r in records[s][c] if r["round"] == k)]
         for c in case_names}
report = {"threads": args.threads, "rounds": args.rounds, "repeats": args.repeats, "sides": sides,
          "max_foreign_load": args.max_foreign_load, "clean_rounds": clean, "cases": {}, "sides_summary": {}}
failures = []
sw = records["pairranker"]
for s in sides:
    setups = [r["setup"] for c in case_names for r in records[s][c]]
    report["sides_summary"][s] = {
        "label": SIDES[s][0], "load_seconds": statistics.median(e["load_seconds"] for e in setups),
        "peak_rss_mb": max(r["done"]["peak_rss_mb"] for c in case_names for r in records[s][c]),
        **({"sgemm_peak_gflops": statistics.median(e["sgemm_peak_gflops"] for e in setups)} if "sgemm_peak_gflops" in setups[0] else {})}
for c in case_names:
    used = clean[c] or list(range(args.rounds))
    row = {"clean": bool(clean[c]), "rounds_used": used, "sides": {}}
    ours = {r["round"]: r["event"] for r in sw[c]}
    ours8 = {r["round"]: r["event"] for r in records.get("pairranker-int8", {}).get(c, [])}
    for s in sides:
        by_round = {r["round"]: r for r in records[s][c]}
        pps = [by_round[k]["event"]["pairs_per_second"] for k in used]
        # int8 sides are compared with our int8 path when it runs, fp32 sides with our fp32 path.
        mine = ours8 if SIDES[s][1] == "int8" and ours8 and s != "pairranker-int8" else ours
        ratios = [mine[k]["pairs_per_second"] / by_round[k]["event"]["pairs_per_second"] for k in used]
        dl = max(abs(a - b) for r in records[s][c] for a, b in zip(ours[r["round"]]["logits"], r["event"]["logits"]))
        pairs = by_round[used[0]]["event"]["pairs"]
        row["sides"][s] = {
            "pairs_per_second": pps, "median_pairs_per_second": statistics.median(pps),
            "seconds_per_sequence": 1 / statistics.median(pps), "pairranker_ratio_per_round": ratios,
            "pairranker_ratio": statistics.median(ratios), "ratio_against": "pairranker-int8" if mine is ours8 and ours8 else "pairranker",
            "max_logit_difference_from_pairranker": dl,
            "foreign_cpu_per_round": {r["round"]: r["load"] for r in records[s][c]}, "pairs": pairs}
        if s in ("pairranker", "pairranker-int8") and "gflops" in by_round[used[0]]["event"]:
            gf = statistics.median(by_round[k]["event"]["gflops"] for k in used)
            row["sides"][s]["gflops"] = gf
            row["sides"][s]["fraction_of_peak"] = gf / report["sides_summary"]["pairranker"]["sgemm_peak_gflops"]
        if SIDES[s][1] == "fp32" and s != "pairranker" and not dl <= args.fp32_tolerance:
            failures.append(f"{s} {c}: max |dlogit| {dl:.2e} from pairranker > {args.fp32_tolerance:.0e}")
    report["cases"][c] = row

summary = report["sides_summary"]
print(f"threads {args.threads}; sgemm peak {summary['pairranker']['sgemm_peak_gflops']:.0f} GFLOP/s "
      f"(OpenBLAS {sw[case_names[0]][0]['setup']['openblas_core']})"
      + (f", torch matmul {summary['pytorch']['sgemm_peak_gflops']:.0f}" if "pytorch" in sides else ""))
for c in case_names:
    row = report["cases"][c]
    print(f"\n{c}: {'clean rounds ' + ','.join(str(k + 1) for k in row['rounds_used']) if row['clean'] else 'LOADED (no clean round; all rounds used)'}"
          + (f"; pairranker {row['sides']['pairranker']['gflops']:.1f} GFLOP/s, {row['sides']['pairranker']['fraction_of_peak']:.0%} of peak"))
    print(f"  {'side':15} {'pairs/s (min-max)':>24} {'s/seq':>7} {'ours/theirs':>12} {'max |dlogit|':>13}  foreign CPU per round")
    for s in sides:
        d = row["sides"][s]
        fl = " ".join(f"{d['foreign_cpu_per_round'][k]['foreign_cpu']:.0%}" for k in sorted(d["foreign_cpu_per_round"]))
        print(f"  {s:15} {d['median_pairs_per_second']:9.3f} ({min(d['pairs_per_second']):.3f}-{max(d['pairs_per_second']):.3f}) "
              f"{d['seconds_per_sequence']:7.3f} {d['pairranker_ratio']:11.2f}x {d['max_logit_difference_from_pairranker']:13.2e}  {fl}")
print("\n" + "; ".join(f"{s}: load {v['load_seconds']:.2f} s, peak RSS {v['peak_rss_mb']:.0f} MB" for s, v in summary.items()))

# The markdown table: seconds per sequence, median over the clean rounds.
head = "| runtime, precision | " + " | ".join(((c[2:].split("x")[0] + " tokens" + (" x" + c.split("x")[1] if "x" in c else "")) if c.startswith("L=") else c) for c in case_names) + " |"
lines_md = [head, "| --- |" + " --- |" * len(case_names)]
for s in sides:
    cells = []
    for c in case_names:
        d = report["cases"][c]["sides"][s]
        cell = f"{d['seconds_per_sequence']:.3f}"
        if s not in ("pairranker", "pairranker-int8"):
            cell += f" ({d['pairranker_ratio']:.2f}x)"
        elif s == "pairranker-int8":
            cell += f" ({1 / d['pairranker_ratio']:.2f}x fp32)"
        cells.append(cell)
    lines_md.append(f"| {SIDES[s][0]} | " + " | ".join(cells) + " |")
# Per case: the best foreign runtime of each precision and our speed over it.
lines_md += ["", "| case | best fp32 runtime | pairranker fp32 over it | best int8 runtime | pairranker int8 over it |",
             "| --- | --- | --- | --- | --- |"]
for c in case_names:
    row = report["cases"][c]["sides"]
    cells = [c]
    for prec, mine in (("fp32", "pairranker"), ("int8", "pairranker-int8")):
        foreign = [s for s in sides if SIDES[s][1] == prec and not s.startswith("pairranker")]
        if not foreign or mine not in row:
            cells += ["-", "-"]; continue
        best = min(foreign, key=lambda s: row[s]["seconds_per_sequence"])
        cells += [f"{best} {row[best]['seconds_per_sequence']:.3f}", f"{row[best]['seconds_per_sequence'] / row[mine]['seconds_per_sequence']:.2f}x"]
    lines_md.append("| " + " | ".join(cells) + " |")
loaded = [c for c in case_names if not report["cases"][c]["clean"]]
md = ("Seconds per pair sequence (mix: per sequence of the case; Nx4: per sequence of a batch of 4), median over "
      "clean rounds; in brackets pairranker's speed over that runtime's (int8 runtimes: pairranker int8's, when "
      "it ran), and for pairranker int8 its speed over pairranker fp32.\n" + ("\nLOADED, NOT A RESULT: no clean round for " + ", ".join(loaded) + "\n" if loaded else "")
      + "\n" + "\n".join(lines_md) + "\n")
(out / "runtimes.md").write_text(md)
print("\n" + md)
(out / "results.json").write_text(json.dumps(report, indent=1))
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n in case_names if n.startswith("L=") and "x" not in n]
    xs = [int(n[2:]) for n in names]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in sides:
        style = "-" if SIDES[s][1] == "fp32" else "--"
        ax.plot(xs, [report["cases"][n]["sides"][s]["median_pairs_per_second"] for n in names], "o" + style,
                label=SIDES[s][0].replace(" (all graph optimizations)", ""), linewidth=2.5 if s == "pairranker" else 1.2)
    ax.set_xlabel("pair sequence length (tokens)"); ax.set_ylabel("pair sequences per second")
    cfg = json.loads(Path(args.model, "config.json").read_text())
    shape = f"{cfg.get('num_hidden_layers')} layers x {cfg.get('hidden_size')}"
    ax.set_title(f"PairRanker ({shape}), {args.threads} threads" + (" (LOADED MACHINE)" if loaded else ""))
    ax.grid(alpha=0.3); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(out / "pairs_per_second.png", dpi=120)
except ImportError:
    print("matplotlib not installed: no plot", file=sys.stderr)
if failures:
    sys.exit("fp32 disagreement:\n" + "\n".join(failures))
