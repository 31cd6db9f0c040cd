#!/usr/bin/env python3
"""The OpenVINO side of the benchmark, in its own process: an IR from export_runtimes.py
(openvino-f32.xml, or openvino-int8.xml from NNCF) on the CPU plugin with INFERENCE_NUM_THREADS=T,
PERFORMANCE_HINT=LATENCY, NUM_STREAMS=1 and INFERENCE_PRECISION_HINT=f32 (its default on a CPU
with AVX512-BF16 is bf16, which without AMX is slower and not the precision compared here).

Dynamic shapes (default): one compiled model for every input shape. --static: the model reshaped
to each [batch, length] the case's padded batches have and compiled once per shape before the
timing (compile time reported, not timed), as a deployment that pins its lengths would run it.
Inputs from `pairranker bench --dump-inputs`; prints the same JSON lines as torch_side.py.
"""
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_common import emit, load_cases, run_cases  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--xml", required=True)
ap.add_argument("--inputs", required=True)
ap.add_argument("--impl", default="openvino")
ap.add_argument("--static", action="store_true")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--inference-precision", default="f32",
                help="INFERENCE_PRECISION_HINT for what is not quantized: f32, or bf16 (the plugin's own default "
                     "on a CPU with AVX512-BF16 or AMX: faster and approximate)")
args = ap.parse_args()

t0 = time.perf_counter()
import openvino as ov  # noqa: E402

core = ov.Core()
config = {"INFERENCE_NUM_THREADS": args.threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1,
          "INFERENCE_PRECISION_HINT": args.inference_precision}
model = core.read_model(args.xml)
dynamic = None if args.static else core.compile_model(model, "CPU", config)
load_seconds = time.perf_counter() - t0
emit({"impl": args.impl, "event": "setup", "load_seconds": load_seconds, "threads": args.threads,
      "openvino": ov.__version__, "file": Path(args.xml).name, "static": args.static,
      "inference_precision": args.inference_precision})

compiled = {}  # (batch, length) -> infer request, static mode
compile_seconds = {}


def request_for(f):
    if dynamic is not None:
        return dynamic_request
    shape = f["input_ids"].shape
    if shape not in compiled:
        s = time.perf_counter()
        m = model.clone()
        m.reshape({"input_ids": list(shape), "attention_mask": list(shape), "pooled": [shape[0], 3]})
        compiled[shape] = core.compile_model(m, "CPU", config).create_infer_request()
        compile_seconds[shape] = time.perf_counter() - s
    return compiled[shape]


dynamic_request = dynamic.create_infer_request() if dynamic is not None else None
cases = load_cases(args.inputs)
if args.static:  # compile every shape of the case before its timing
    from side_common import padded
    for c in cases:
        for b in c["batches"]:
            request_for(padded([c["pairs"][i] for i in b]))


def forward(f):
    r = request_for(f)
    r.infer(f)
    return r.get_output_tensor(0).data.copy()


def extra(c):
    return {"compile_seconds": sum(compile_seconds.values())} if args.static else {}


run_cases(args.impl, cases, args.repeats, forward, extra)
