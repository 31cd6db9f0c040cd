#!/usr/bin/env python3
"""Makes the ONNX Runtime and OpenVINO files of a PairRanker checkpoint for the benchmark.

    python scripts/bench/export_runtimes.py --model DIR --out DIR [--check-inputs inputs.json]

From the same model.safetensors torch_side.py loads (transformers' DebertaV2Model plus the pair
head), it writes into --out (never into the model directory):

  model.onnx            the whole pair scorer: DeBERTa backbone, gather of the three pooled rows
                        (source, left, right), pair head, logit = mean(head(s,l) - head(s,r)).
                        Inputs input_ids, attention_mask [batch, seq] and pooled [batch, 3], all
                        int64; output logits [batch]; batch and seq dynamic. TorchScript exporter,
                        opset 17.
  model-int8.onnx       ONNX Runtime dynamic quantization: s8 weights per output channel, only the
                        MatMuls with a constant weight (attention's MatMuls stay float32).
  openvino-f32.xml/.bin OpenVINO IR converted from model.onnx, kept float32 (no fp16 compression).
  openvino-int8.xml/.bin NNCF post-training quantization of that IR (transformer preset), 24
                        calibration sequences of 96-384 random tokens, seeded.
  stamp.json            which checkpoint (size, mtime), versions and version of this script made
                        them; a later run with the same stamp reuses the files.

Export detail: transformers' `build_rpos` is a TorchScript function with an `if` on the key and
query lengths; it exports as an ONNX `If` whose output rank is dynamic, which OpenVINO's CPU plugin
refuses. In self-attention the two lengths are always equal, so the export replaces it by the
branch that is always taken (returning relative_pos), which computes the same numbers.

With --check-inputs (a `pairranker bench --dump-inputs` file) the fp32 ONNX file is run under
ONNX Runtime on every case and compared with the PyTorch module; more than --tolerance (1e-4) of
difference in any logit is an error.
"""
import argparse, hashlib, json, random, sys, time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--check-inputs")
ap.add_argument("--tolerance", type=float, default=1e-4)
ap.add_argument("--calibration", type=int, default=24, help="NNCF calibration sequences")
ap.add_argument("--seed", type=int, default=11)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--force", action="store_true", help="re-make the files even when the stamp matches")
args = ap.parse_args()

sys.path.insert(0, str(Path(__file__).resolve().parent))
from side_common import load_cases, padded  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import openvino as ov  # noqa: E402
import nncf  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import DebertaV2Config, DebertaV2Model  # noqa: E402
from transformers.models.deberta_v2 import modeling_deberta_v2  # noqa: E402

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
weights = Path(args.model, "model.safetensors")
st = weights.stat()
stamp = {"checkpoint": str(weights.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
         "calibration": args.calibration, "seed": args.seed,
         "recipe": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),  # this script, as it makes them
         "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
                      "onnxruntime": ort.__version__, "openvino": ov.__version__, "nncf": nncf.__version__}}
files = ["model.onnx", "model-int8.onnx", "openvino-f32.xml", "openvino-f32.bin", "openvino-int8.xml", "openvino-int8.bin"]
stamp_path = out / "stamp.json"
fresh = (not args.force and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
         and all((out / f).exists() for f in files))
torch.set_num_threads(args.threads)


class PairScorer(torch.nn.Module):
    """The pair scorer as torch_side.py computes it, batched and traceable."""

    def __init__(self, model_dir):
        super().__init__()
        cfg = DebertaV2Config.from_pretrained(model_dir)
        state = load_file(f"{model_dir}/model.safetensors")
        self.backbone = DebertaV2Model(cfg).eval()
        missing, unexpected = self.backbone.load_state_dict(
            {k[len("pretrained_model."):]: v for k, v in state.items() if k.startswith("pretrained_model.")}, strict=False)
        params = {n for n, _ in self.backbone.named_parameters()}
        if any(k in params for k in missing):
            raise SystemExit(f"checkpoint lacks backbone weights: {[k for k in missing if k in params][:5]}")
        h = cfg.hidden_size
        self.head = torch.nn.Sequential(torch.nn.Dropout(0.05), torch.nn.Linear(2 * h, h), torch.nn.Tanh(),
                                        torch.nn.Dropout(0.05), torch.nn.Linear(h, 1)).eval()
        self.head.load_state_dict({k[len("head_layer."):]: v for k, v in state.items() if k.startswith("head_layer.")})
        self.hidden = h
        self.eval()  # the wrapper too: torch.onnx.export restores every submodule to its mode

    def forward(self, input_ids, attention_mask, pooled):
        states = self.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        rows = torch.gather(states, 1, pooled.unsqueeze(-1).expand(-1, -1, self.hidden))  # [batch, 3, hidden]
        s, a, b = rows[:, 0], rows[:, 1], rows[:, 2]
        left = self.head(torch.cat([s, a], dim=-1))
        right = self.head(torch.cat([s, b], dim=-1))
        return (left - right).mean(dim=-1)


def feeds_torch(f):
    return tuple(torch.from_numpy(f[k]) for k in ("input_ids", "attention_mask", "pooled"))


def random_sequence(rng, n, vocab):
    ids = [1] + [rng.randrange(5, vocab - 5) for _ in range(n - 2)] + [2]
    a, b = n // 3, 2 * n // 3
    return {"ids": ids, "pooled": [0, a, b]}


scorer = None
if not fresh:
    t0 = time.perf_counter()
    scorer = PairScorer(args.model)
    vocab = scorer.backbone.config.vocab_size
    example = padded([random_sequence(random.Random(0), 64, vocab), random_sequence(random.Random(1), 40, vocab)])
    # The always-taken branch of build_rpos (query and key lengths are equal in self-attention).
    original_rpos = modeling_deberta_v2.build_rpos
    modeling_deberta_v2.build_rpos = lambda query, key, relative_pos, buckets, max_positions: relative_pos
    try:
        with torch.no_grad():
            torch.onnx.export(scorer, feeds_torch(example), str(out / "model.onnx"), dynamo=False, opset_version=17,
                              input_names=["input_ids", "attention_mask", "pooled"], output_names=["logits"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                            "pooled": {0: "batch"}, "logits": {0: "batch"}})
    finally:
        modeling_deberta_v2.build_rpos = original_rpos
    graph = onnx.load(str(out / "model.onnx"), load_external_data=False)
    ifs = sum(1 for n in graph.graph.node if n.op_type == "If")
    print(f"exported model.onnx in {time.perf_counter() - t0:.1f} s ({len(graph.graph.node)} nodes, {ifs} If)", file=sys.stderr)
    del graph

    from onnxruntime.quantization import QuantType, quantize_dynamic
    t0 = time.perf_counter()
    quantize_dynamic(str(out / "model.onnx"), str(out / "model-int8.onnx"), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"], extra_options={"MatMulConstBOnly": True})
    print(f"ONNX Runtime dynamic quantization in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    t0 = time.perf_counter()
    ov_model = ov.convert_model(str(out / "model.onnx"))
    ov.save_model(ov_model, str(out / "openvino-f32.xml"), compress_to_fp16=False)
    rng = random.Random(args.seed)
    calibration = [padded([random_sequence(rng, rng.randrange(96, 385), vocab)]) for _ in range(args.calibration)]
    ov_int8 = nncf.quantize(ov_model, nncf.Dataset(calibration), subset_size=len(calibration),
                            model_type=nncf.ModelType.TRANSFORMER)
    ov.save_model(ov_int8, str(out / "openvino-int8.xml"), compress_to_fp16=False)
    del ov_model, ov_int8
    print(f"OpenVINO IR and NNCF int8 in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    stamp_path.write_text(json.dumps(stamp, indent=1))
else:
    print(f"{out}: files match the checkpoint and versions; reused", file=sys.stderr)

if args.check_inputs:
    if scorer is None:
        scorer = PairScorer(args.model)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    session = ort.InferenceSession(str(out / "model.onnx"), so, providers=["CPUExecutionProvider"])
    worst = 0.0
    for c in load_cases(args.check_inputs):
        for b in c["batches"]:
            f = padded([c["pairs"][i] for i in b])
            with torch.inference_mode():
                expected = scorer(*feeds_torch(f)).numpy()
            got = session.run(["logits"], f)[0]
            worst = max(worst, float(np.max(np.abs(expected - got))))
    print(f"ONNX Runtime fp32 vs PyTorch: max |dlogit| {worst:.2e} over {args.check_inputs}", file=sys.stderr)
    print(json.dumps({"event": "export_check", "max_logit_difference": worst, "tolerance": args.tolerance}))
    if not worst <= args.tolerance:
        stamp_path.unlink(missing_ok=True)  # never reuse files that failed the check
        raise SystemExit(f"the exported model disagrees with PyTorch by {worst:.2e} > {args.tolerance:.0e}")
