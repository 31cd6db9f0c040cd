#!/usr/bin/env python3
"""The ONNX Runtime side of the benchmark, in its own process: a file from export_runtimes.py
(model.onnx in fp32, or model-int8.onnx, dynamic quantization), the CPU execution provider with
T intra-op threads, one inter-op thread, sequential execution and every graph optimization
(ORT_ENABLE_ALL), on the inputs of `pairranker bench --dump-inputs`, batches padded as llm-blender
pads them. Prints the same JSON lines as torch_side.py.
"""
import argparse, sys, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_common import emit, load_cases, run_cases  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--onnx", required=True)
ap.add_argument("--inputs", required=True)
ap.add_argument("--impl", default="onnxruntime")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=3)
args = ap.parse_args()

t0 = time.perf_counter()
import onnxruntime as ort  # noqa: E402

so = ort.SessionOptions()
so.intra_op_num_threads = args.threads
so.inter_op_num_threads = 1
so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
load_seconds = time.perf_counter() - t0
emit({"impl": args.impl, "event": "setup", "load_seconds": load_seconds, "threads": args.threads,
      "onnxruntime": ort.__version__, "file": Path(args.onnx).name})

run_cases(args.impl, load_cases(args.inputs), args.repeats, lambda f: session.run(["logits"], f)[0])
