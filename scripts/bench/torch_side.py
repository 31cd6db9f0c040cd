#!/usr/bin/env python3
"""The reference side of the benchmark, in its own process: transformers' DebertaV2Model plus the
PairRanker head in float32, the same weights (model.safetensors) and inputs (pairranker dev bench
--dump-inputs), torch.set_num_threads(T), inference_mode, batches padded the way llm-blender
pads them (right padding to the longest, attention mask). Prints JSON lines like the Swift side.
"""
import argparse, json, resource, time
import torch
from safetensors.torch import load_file
from transformers import DebertaV2Config, DebertaV2Model

ap = argparse.ArgumentParser()
ap.add_argument("--model", required=True)
ap.add_argument("--inputs", required=True)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--repeats", type=int, default=3)
args = ap.parse_args()
torch.set_num_threads(args.threads)

t0 = time.perf_counter()
cfg = DebertaV2Config.from_pretrained(args.model)
state = load_file(f"{args.model}/model.safetensors")
backbone = DebertaV2Model(cfg).eval()
backbone.load_state_dict({k[len("pretrained_model."):]: v for k, v in state.items() if k.startswith("pretrained_model.")}, strict=False)
h = cfg.hidden_size
head = torch.nn.Sequential(torch.nn.Dropout(0.05), torch.nn.Linear(2 * h, h), torch.nn.Tanh(), torch.nn.Dropout(0.05), torch.nn.Linear(h, 1)).eval()
head.load_state_dict({k[len("head_layer."):]: v for k, v in state.items() if k.startswith("head_layer.")})
del state
load_seconds = time.perf_counter() - t0

a = torch.randn(384, 1024); b = torch.randn(4096, 1024)
with torch.inference_mode():
    a @ b.T
    best = 0
    for _ in range(5):
        s = time.perf_counter()
        for _ in range(4): a @ b.T
        best = max(best, 4 * 2 * 384 * 4096 * 1024 / (time.perf_counter() - s) / 1e9)
print(json.dumps({"impl": "pytorch", "event": "setup", "load_seconds": load_seconds, "sgemm_peak_gflops": best,
                  "threads": args.threads, "torch": torch.__version__}), flush=True)

def run_batch(pairs):
    n = max(len(p["ids"]) for p in pairs)
    ids = torch.zeros(len(pairs), n, dtype=torch.long)
    mask = torch.zeros(len(pairs), n, dtype=torch.long)
    for i, p in enumerate(pairs):
        ids[i, : len(p["ids"])] = torch.tensor(p["ids"])
        mask[i, : len(p["ids"])] = 1
    out = backbone(input_ids=ids, attention_mask=mask).last_hidden_state
    rows = torch.arange(len(pairs))
    pooled = torch.tensor([p["pooled"] for p in pairs])
    hs, h1, h2 = out[rows, pooled[:, 0]], out[rows, pooled[:, 1]], out[rows, pooled[:, 2]]
    left = head(torch.cat([hs, h1], dim=-1))
    right = head(torch.cat([hs, h2], dim=-1))
    return (left - right).mean(dim=-1).tolist()

cases = json.load(open(args.inputs))
with torch.inference_mode():
    for c in cases:
        pairs = c["pairs"]
        run_batch([pairs[i] for i in c["batches"][0]])  # warm-up
        times, logits = [], []
        for _ in range(args.repeats):
            s = time.perf_counter()
            logits = [None] * len(pairs)
            for b in c["batches"]:  # llm-blender's forwards: one (i, j) over a batch of instances
                for i, v in zip(b, run_batch([pairs[i] for i in b])):
                    logits[i] = v
            times.append(time.perf_counter() - s)
        times.sort()
        med = times[len(times) // 2]
        print(json.dumps({"impl": "pytorch", "case": c["case"], "pairs": len(pairs), "median_seconds": med,
                          "min_seconds": times[0], "max_seconds": times[-1], "pairs_per_second": len(pairs) / med,
                          "logits": logits}), flush=True)
print(json.dumps({"impl": "pytorch", "event": "done", "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
