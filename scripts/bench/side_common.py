"""What every non-Swift side of the benchmark shares: the inputs `pairranker bench --dump-inputs`
writes, batches padded the way llm-blender pads them (right padding to the longest, attention
mask), the timing loop, and the JSON lines run_bench.py reads (the same events as torch_side.py).
No torch here: the ONNX Runtime and OpenVINO processes must not pay for importing it.
"""
import json, resource, time

import numpy as np


def padded(pairs):
    """input_ids, attention_mask [batch, longest] and pooled [batch, 3], all int64."""
    n = max(len(p["ids"]) for p in pairs)
    ids = np.zeros((len(pairs), n), dtype=np.int64)
    mask = np.zeros((len(pairs), n), dtype=np.int64)
    for i, p in enumerate(pairs):
        ids[i, : len(p["ids"])] = p["ids"]
        mask[i, : len(p["ids"])] = 1
    pooled = np.array([p["pooled"] for p in pairs], dtype=np.int64)
    if pooled.shape != (len(pairs), 3) or pooled.min() < 0 or pooled.max() >= n:
        raise ValueError(f"pooled rows out of range for a batch of length {n}")
    return {"input_ids": ids, "attention_mask": mask, "pooled": pooled}


def load_cases(path):
    with open(path) as f:
        return json.load(f)


def emit(obj):
    print(json.dumps(obj), flush=True)


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_cases(impl, cases, repeats, forward, extra=None):
    """Times every case like torch_side.py: one warm-up batch, then `repeats` passes over all the
    case's batches (llm-blender's forwards), median reported. `forward(feeds) -> logits [batch]`."""
    for c in cases:
        pairs = c["pairs"]
        feeds = [(b, padded([pairs[i] for i in b])) for b in c["batches"]]
        forward(feeds[0][1])  # warm-up
        times, logits = [], []
        for _ in range(repeats):
            s = time.perf_counter()
            logits = [None] * len(pairs)
            for b, f in feeds:
                out = forward(f)
                if len(out) != len(b):
                    raise RuntimeError(f"{impl}: {len(out)} logits for a batch of {len(b)}")
                for i, v in zip(b, out):
                    logits[i] = float(v)
            times.append(time.perf_counter() - s)
        times.sort()
        med = times[len(times) // 2]
        event = {"impl": impl, "case": c["case"], "pairs": len(pairs), "median_seconds": med,
                 "min_seconds": times[0], "max_seconds": times[-1], "pairs_per_second": len(pairs) / med,
                 "logits": logits}
        if extra:
            event.update(extra(c))
        emit(event)
    emit({"impl": impl, "event": "done", "peak_rss_mb": peak_rss_mb()})
