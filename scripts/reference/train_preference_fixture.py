#!/usr/bin/env python3
"""Train a small PairRanker on a synthetic preference task, so that its decisions mean something.

The random fixture (tiny-pair-ranker, make_fixtures.py) checks arithmetic, but its pair logits are
small and carry no decision: nothing to judge a lossy path (int8) by. This one is trained until
its logits are decisive, on a task whose right answer is known from the text.

Run with the pinned stack of requirements.txt:

    /work/venv-bench/bin/python scripts/reference/train_preference_fixture.py [--out Tests/Fixtures]
    ... --from-saved   # no training: the goldens, instances and TRAINING.json from the saved model (1 min)

The output is byte-for-byte reproducible (same stack, same thread count).

The task. Source = an instruction ("Repeat the following words exactly.\n", ... or none) + a list
of 8 + 52 u^2 words (u uniform; from corpus.WORDS, now and then a number and a capital). Every
candidate is the list copied under a neutral wrapper ("Sure: ", "Answer: ", ... + " Done." ...)
with k corruptions: a word replaced by, or a word inserted from, a fixed set of 40 "noise" words
that never occur in sources, instructions or wrappers. The 3-5 candidates of an instance have
distinct k in 0..5; fewer corruptions is better. Pairs are 33-240 tokens (median ~100).

The model. DebertaV2Model (relative attention, 256 buckets, share_att_key, p2c|c2p, LayerNorm'd
relative embeddings, no absolute positions: the deberta-v3 switches of the tiny fixture's config)
with hidden 128, 3 layers, 4 heads, intermediate 256 (881,153 parameters with the head), under
llm-blender's CrossCompareReranker (head_layer = Dropout, Linear(2C, C), Tanh, Dropout,
Linear(C, 1)). The tokenizer files are the tiny fixture's, copied byte for byte (vocab 3005, the
four PairRanker tokens at 3001-3004), so the Swift tokenizer gives the same ids.

Training is llm-blender's own: CrossCompareCollator builds the batches from (source, candidates,
scores = -k), CrossCompareReranker.forward in training mode samples the pairs (all_pair,
num_pos = num_neg = 5, random left/right order) and applies the "instructgpt" loss
-log sigmoid(sign(k_right - k_left) * logit), the loss pair-ranker was trained with. 600 steps of
8 instances (one candidate count and similar lengths per batch: less padding), AdamW lr 1e-3, 60
warm-up steps then linear decay to 0, weight decay 0.01 (not on biases and LayerNorms), gradient
clip 1.0. Dropout 0 (config.json and ranker_config.json say so): with fresh data every step the
model underfits, and at 0.1 it sat on the initial plateau (loss 0.69) about twice as long. A
curriculum: 150 steps of short sources (8-20 words), a 150-step ramp to the full 8-60, then the
held-out distribution (with dropout 0.1 and long sources from the start, 250 steps did not leave
the plateau).
Seeds: SEED = 20261207; torch.manual_seed(SEED) before the model is built (its init and the pair
sampling draw from torch's global generator); training instances from random.Random(SEED + 1),
held-out ones from random.Random(SEED + 2) (checked disjoint from the training sources); the
noise/source word split from random.Random(SEED); torch.set_num_threads(2).

It writes:
  trained-pair-ranker/   model.safetensors (pretrained_model.* / head_layer.* keys, 3.5 MB),
                         config.json (backbone), ranker_config.json, the tokenizer files,
                         TRAINING.json (versions, seeds, hyper-parameters, held-out metrics). No
                         pytorch_model.bin: it would double the size, and tiny-pair-ranker
                         already covers that format.
  goldens/trained_instances.jsonl  2,200 held-out ranking instances, one /rank single-form object
                         per line ({"instruction"?, "input", "candidates"}) plus "name" and
                         "corruptions" (k per candidate; the lowest k is the best), which the
                         service ignores. `pairranker rank --input ... --output ...` reads it as is.
  goldens/trained_logits.json  the first 50 of those instances in the shape of pairs.json (segment
                         ids, the full matrix from _full_predict, rank scores and ranks from
                         Blender.rank, compare logits in the three modes from Blender.compare, all
                         with batch_size=1), for the Swift tests' 1e-4 fp32 check
                         (TrainedFixtureTests, TrainedGoldenTests).

Before the goldens and metrics are computed, the saved files are loaded back through the real
llm-blender path (Blender.loadranker over a directory holding model.safetensors, the backbone
directory holding different, untrained weights) and must reproduce the trained model's logits
exactly; every number reported comes from the reloaded model. The held-out metrics are over the
first 500 instances (6,522 ordered pairs); `pairranker rank` over all 2,200 gives the same picture.

Recorded runs (torch 2.13.0+cpu, 2 threads, AMD EPYC, the 2 cores shared with two other jobs,
load average 5-7): training 905 s and 873 s, held-out evaluation 33 s, 15.5-16 min in all, the
two runs' files byte-identical (on quieter cores 50 steps took 25 s, so about 5-7 min). Held-out, fp32:
  accuracy of the logit's sign, one order M[i, j]   99.71%  (|k_i - k_j| = 1: 99.21%, 2: 99.88%, 3+: 100%)
  accuracy of M[i, j] - M[j, i] (compare default)   99.82%
  best candidate ranked first 100%, whole order exact 98.6%
  |M[i, j]|: 99.80% > 0.5, 99.60% > 1, 0.05% < 0.1; min 0.0026, 1st percentile 1.9, 5th 4.4,
  median 12.5, max 20.1
Nothing here is needed at run time or in CI.
"""
import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import safetensors
import safetensors.torch
import sentencepiece as spm
import tokenizers
import torch
import transformers
from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

from llm_blender.blender.blender import Blender
from llm_blender.blender.blender_utils import RankerDataset
from llm_blender.gpt_eval.utils import get_ranks_from_scores
from llm_blender.pair_ranker.collator import CrossCompareCollator
from llm_blender.pair_ranker.config import RankerConfig
from llm_blender.pair_ranker.ranker import CrossCompareReranker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import WORDS  # noqa: E402
import make_fixtures  # noqa: E402  (the shared backbone config)

SEED = 20261207
SOURCE_MAX = 128
CANDIDATE_MAX = 128
THREADS = 2

# Model and training. ~880k parameters (3.5 MB of float32).
HIDDEN, LAYERS, HEADS, INTERMEDIATE = 128, 3, 4, 256
STEPS = 600
INSTANCES_PER_STEP = 8       # up to 5 pairs each (all_pair sampling, num_pos = num_neg = 5)
LR, WARMUP, WEIGHT_DECAY, CLIP = 1e-3, 60, 0.01, 1.0
# Fresh data every step: the model underfits, never overfits, and dropout only slows it down.
DROPOUT = 0.0

# Held-out instances written to trained_instances.jsonl, and how many of them get goldens.
HELD_OUT = 2200
GOLDEN_INSTANCES = 50
EVAL_INSTANCES = 500   # the first ones: the held-out metrics (all 2200 would take as long as training)
MAX_CORRUPTIONS = 5
MIN_WORDS, SPAN_WORDS = 8, 52   # source words: 8 + 52 u^2, u uniform in [0, 1)
SHORT_STEPS, SHORT_SPAN, RAMP_STEPS = 150, 10, 150   # the training curriculum (curriculum_span)

INSTRUCTIONS = [None, "Repeat the following words exactly.\n", "Copy this list: ",
                "Write the sequence back without changes:\n", "Echo: "]
PREFIXES = ["", "", "Sure: ", "Here you go: ", "Answer: ", "Okay, copied:\n", "Result -> "]
SUFFIXES = ["", "", ".", " Done.", "\n"]


def word_sets():
    """Source words and noise words: disjoint, and no noise word occurs in an instruction or a
    wrapper, so the corruptions are the only thing that tells the candidates apart."""
    fixed = set()
    for t in INSTRUCTIONS + PREFIXES + SUFFIXES:
        for w in (t or "").replace(":", " ").replace(",", " ").replace(".", " ").split():
            fixed.add(w.lower())
    pool = sorted(set(WORDS) - fixed)
    random.Random(SEED).shuffle(pool)
    noise = sorted(pool[:40])
    source = sorted(set(WORDS) - set(noise))
    return source, noise


SOURCE_WORDS, NOISE_WORDS = word_sets()


def draw_length(rng: random.Random, span: int = None) -> int:
    return MIN_WORDS + int((SPAN_WORDS if span is None else span) * rng.random() ** 2)


def curriculum_span(step: int) -> int:
    """Short sources first (a tiny transformer from scratch sits on a plateau far longer on long
    ones), then a ramp to the held-out distribution."""
    if step < SHORT_STEPS:
        return SHORT_SPAN
    t = min(1.0, (step - SHORT_STEPS) / RAMP_STEPS)
    return int(round(SHORT_SPAN + t * (SPAN_WORDS - SHORT_SPAN)))


def make_instance(rng: random.Random, n_candidates: int, n: int = None):
    n = draw_length(rng) if n is None else n
    words = [rng.choice(SOURCE_WORDS) for _ in range(n)]
    if rng.random() < 0.3:
        words[0] = words[0].capitalize()
    if rng.random() < 0.25:
        words.insert(rng.randint(0, len(words)), str(rng.randint(0, 10000)))
    instruction = rng.choice(INSTRUCTIONS)
    ks = rng.sample(range(MAX_CORRUPTIONS + 1), n_candidates)
    candidates = []
    for k in ks:
        out = list(words)
        touched = set()  # positions already corrupted: k operations give exactly k corruptions
        for _ in range(k):
            if rng.random() < 0.7:
                i = rng.choice([j for j in range(len(out)) if j not in touched])
                out[i] = rng.choice(NOISE_WORDS)
                touched.add(i)
            else:
                i = rng.randint(0, len(out))
                out.insert(i, rng.choice(NOISE_WORDS))
                touched = {j + 1 if j >= i else j for j in touched} | {i}
        candidates.append(rng.choice(PREFIXES) + " ".join(out) + rng.choice(SUFFIXES))
    return {"instruction": instruction, "input": " ".join(words), "candidates": candidates, "corruptions": ks}


def held_out_instances():
    rng = random.Random(SEED + 2)
    out = []
    for i in range(HELD_OUT):
        inst = make_instance(rng, rng.choice([3, 4, 5]))
        inst["name"] = f"trained-{i:04d}"
        out.append(inst)
    return out


def versions():
    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "sentencepiece": spm.__version__,
        "safetensors": getattr(safetensors, "__version__", "unknown"),
        "numpy": np.__version__,
        "llm_blender": "0.0.2",
        "seed": SEED,
        "threads": THREADS,
    }


def backbone_config(vocab_size: int) -> DebertaV2Config:
    # The tiny fixture's switches (those of deberta-v3-large), a little larger.
    return make_fixtures.backbone_config(vocab_size, hidden=HIDDEN, layers=LAYERS, heads=HEADS,
                                         intermediate=INTERMEDIATE, dropout=DROPOUT)


TOKENIZER_FILES = ["added_tokens.json", "special_tokens_map.json", "spm.model", "tokenizer.json",
                   "tokenizer_config.json"]


def ranker_config(backbone_dir: Path) -> RankerConfig:
    return RankerConfig(ranker_type="pairranker", model_type="deberta", model_name=str(backbone_dir),
                        source_maxlength=SOURCE_MAX, candidate_maxlength=CANDIDATE_MAX, n_tasks=1,
                        num_pos=5, num_neg=5, sub_sampling_mode="all_pair", loss_type="instructgpt",
                        drop_out=DROPOUT, fp16=False)


def build(tiny: Path, work: Path):
    """The backbone directory llm-blender loads from (config + untrained weights + the tiny
    fixture's tokenizer files), the tokenizer, the collator and a fresh CrossCompareReranker."""
    backbone_dir = work / "backbone"
    backbone_dir.mkdir()
    for f in TOKENIZER_FILES:
        shutil.copy(tiny / f, backbone_dir / f)
    tok = AutoTokenizer.from_pretrained(str(backbone_dir))
    assert type(tok).__name__ == "DebertaV2TokenizerFast", type(tok)
    n_before = len(tok)
    collator = CrossCompareCollator(SOURCE_MAX, tok, CANDIDATE_MAX)  # the four tokens: already there
    assert len(tok) == n_before == 3005, (n_before, len(tok))
    assert [tok.source_prefix_id, tok.cand1_prefix_id, tok.cand2_prefix_id, tok.cand_prefix_id] == [3001, 3002, 3003, 3004]

    torch.manual_seed(SEED)
    backbone = DebertaV2Model(backbone_config(len(tok)))
    backbone.save_pretrained(str(backbone_dir), safe_serialization=True)  # untrained: the reload must replace it
    backbone.config.out_hidden_state_size = backbone.config.hidden_size
    ranker = CrossCompareReranker(backbone, ranker_config(backbone_dir), tok)
    return backbone_dir, tok, collator, ranker


def training_batches():
    """The training instances, step by step (also replayed without training, for the check that
    no held-out source was trained on)."""
    rng = random.Random(SEED + 1)
    for step in range(STEPS):
        # One candidate count per batch (the collator stacks them) and similar lengths (the
        # batch is padded to its longest pair).
        n_c = rng.choice([3, 4, 5])
        base = draw_length(rng, curriculum_span(step))
        yield [make_instance(rng, n_c, max(8, base + rng.randint(-3, 3))) for _ in range(INSTANCES_PER_STEP)]


def train(ranker, collator, probe=(), log_every=50):
    no_decay = [p for n, p in ranker.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in ranker.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}], lr=LR)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / WARMUP) * max(0.0, (STEPS - s) / (STEPS - WARMUP)) if s >= WARMUP
        else (s + 1) / WARMUP)
    sources = set()
    ranker.train()
    t0 = time.time()
    run_loss, run_n = 0.0, 0
    for step, insts in enumerate(training_batches()):
        sources.update((i["instruction"] or "") + i["input"] for i in insts)
        batch = collator([{"source": (i["instruction"] or "") + i["input"], "candidates": i["candidates"],
                           "scores": [[-float(k)] for k in i["corruptions"]]} for i in insts])
        out = ranker(**batch)
        opt.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(ranker.parameters(), CLIP)
        opt.step()
        sched.step()
        run_loss += out["loss"].item()
        run_n += 1
        if (step + 1) % log_every == 0 or step == 0:
            note = ""
            if probe and ((step + 1) % (4 * log_every) == 0):
                # eval mode, no grad: draws nothing from torch's generator, so the run is the same
                ranker.eval()
                m = metrics(probe, matrices(ranker, collator, probe)[0])
                ranker.train()
                note = (f"  probe acc {m['accuracy_one_order']:.3f}  |logit|>0.5 "
                        f"{m['abs_logit']['fraction_above_0.5']:.3f}")
            print(f"step {step + 1}/{STEPS}  loss {run_loss / run_n:.4f}  lr {sched.get_last_lr()[0]:.2e}  "
                  f"{time.time() - t0:.0f} s{note}", flush=True)
            run_loss, run_n = 0.0, 0
    ranker.eval()
    return sources, time.time() - t0


def save(ranker, tiny: Path, model_dir: Path):
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    state = {k: v.detach().clone().contiguous() for k, v in ranker.state_dict().items()}
    assert all(k.startswith(("pretrained_model.", "head_layer.")) for k in state), list(state)
    safetensors.torch.save_file(state, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    ranker.pretrained_model.config.save_pretrained(str(model_dir))
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg.pop("out_hidden_state_size", None)
    (model_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    ranker_json = {
        "ranker_type": "pairranker", "model_type": "deberta", "model_name": "microsoft/deberta-v3-large",
        "cache_dir": None, "load_checkpoint": None, "source_maxlength": SOURCE_MAX,
        "candidate_maxlength": CANDIDATE_MAX, "n_tasks": 1, "num_pos": 5, "num_neg": 5,
        "sub_sampling_mode": "all_pair", "sub_sampling_ratio": 0.4, "loss_type": "instructgpt",
        "reduce_type": "linear", "inference_mode": "bubble", "drop_out": DROPOUT, "fp16": True,
    }
    (model_dir / "ranker_config.json").write_text(json.dumps(ranker_json, indent=4))
    for f in TOKENIZER_FILES:
        shutil.copy(tiny / f, model_dir / f)


def load_blender(model_dir: Path, backbone_dir: Path, work: Path) -> Blender:
    """The real llm-blender loading path (PairRM style: config.json holds the ranker settings,
    the checkpoint is model.safetensors)."""
    rdir = work / "ranker"
    rdir.mkdir()
    shutil.copy(model_dir / "model.safetensors", rdir / "model.safetensors")
    conf = {"ranker_type": "pairranker", "model_type": "deberta", "model_name": str(backbone_dir),
            "source_maxlength": SOURCE_MAX, "candidate_maxlength": CANDIDATE_MAX, "n_tasks": 1,
            "fp16": False, "device": "cpu"}
    (rdir / "config.json").write_text(json.dumps(conf))
    b = Blender()
    b.blender_config.use_tqdm = False
    b.loadranker(str(rdir), device="cpu", cache_dir=str(work / "cache"))
    return b


def strip_pad(ids, mask):
    return [int(x) for x, m in zip(ids, mask) if m]


def segments(collator, inst):
    """Source and candidate ids as the collator gives them for this instance alone (the budget
    the Swift engine uses: the instance's own source)."""
    ds = RankerDataset([inst["input"]], [inst["candidates"]],
                       instructions=[inst["instruction"]] if inst["instruction"] is not None else None)
    batch = collator([ds[0]])
    src = strip_pad(batch["source_ids"][0], batch["source_attention_mask"][0])
    cands = [strip_pad(batch["candidate_ids"][0, k], batch["candidate_attention_mask"][0, k])
             for k in range(batch["candidate_ids"].shape[1])]
    return src, cands


def pad(rows):
    n = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), n, dtype=torch.long)
    mask = torch.zeros(len(rows), n, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


def matrices(ranker, collator, instances, batch_pairs=64):
    """M[i, j] for every ordered pair of every instance, through CrossCompareReranker._forward on
    padded batches of pairs (padding changes a logit by rounding only)."""
    jobs = []
    for n, inst in enumerate(instances):
        src, cands = segments(collator, inst)
        for i in range(len(cands)):
            for j in range(len(cands)):
                if i != j:
                    jobs.append((n, i, j, src, cands[i], cands[j]))
    jobs.sort(key=lambda t: len(t[3]) + len(t[4]) + len(t[5]))
    out = [np.zeros((len(x["candidates"]), len(x["candidates"])), dtype=np.float32) for x in instances]
    tokens = 0
    with torch.no_grad():
        for b in range(0, len(jobs), batch_pairs):
            chunk = jobs[b:b + batch_pairs]
            s, sm = pad([c[3] for c in chunk])
            l, lm = pad([c[4] for c in chunk])
            r, rm = pad([c[5] for c in chunk])
            logits = ranker._forward(s, sm, l, lm, r, rm)["logits"]
            for (n, i, j, *_), v in zip(chunk, logits.tolist()):
                out[n][i, j] = v
            tokens += sum(len(c[3]) + len(c[4]) + len(c[5]) for c in chunk)
    return out, tokens / max(1, len(jobs))


def metrics(instances, mats):
    one, both, one_by_gap, top1, exact = [], [], {}, 0, 0
    logits = []
    for inst, m in zip(instances, mats):
        k = inst["corruptions"]
        n = len(k)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                ok = (m[i, j] > 0) == (k[i] < k[j])
                one.append(ok)
                one_by_gap.setdefault(abs(k[i] - k[j]), []).append(ok)
                logits.append(float(m[i, j]))
                if i < j:
                    both.append(((m[i, j] - m[j, i]) > 0) == (k[i] < k[j]))
        scores = np.asarray([(m[i].sum() - m[:, i].sum()) / n for i in range(n)], dtype=np.float32)
        top1 += int(np.argmax(scores) == int(np.argmin(k)))
        exact += int(list(np.argsort(-scores, kind="stable")) == list(np.argsort(k, kind="stable")))
    a = np.abs(np.asarray(logits))
    q = np.percentile(a, [1, 5, 10, 50, 90, 99])
    return {
        "instances": len(instances),
        "ordered_pairs": len(one),
        "accuracy_one_order": float(np.mean(one)),
        "accuracy_both_orders": float(np.mean(both)),
        "accuracy_one_order_by_corruption_gap": {str(g): float(np.mean(v)) for g, v in sorted(one_by_gap.items())},
        "top1_accuracy": top1 / len(instances),
        "exact_order_accuracy": exact / len(instances),
        "abs_logit": {"fraction_above_0.5": float(np.mean(a > 0.5)), "fraction_above_1": float(np.mean(a > 1.0)),
                      "fraction_below_0.1": float(np.mean(a < 0.1)), "min": float(a.min()), "max": float(a.max()),
                      "mean": float(a.mean()),
                      "percentiles": {p: float(v) for p, v in zip(["1", "5", "10", "50", "90", "99"], q)}},
    }


def golden_records(blender, tok, instances):
    """pairs.json-shaped records (make_fixtures.make_goldens without hidden states or
    rank_with_ref), every value from the Blender API with batch_size=1."""
    ranker, collator = blender.ranker, blender.ranker_collator
    records = []
    for inst in instances:
        instr = inst["instruction"]
        instrs = [instr] if instr is not None else None
        ds = RankerDataset([inst["input"]], [inst["candidates"]], instructions=instrs)
        batch = collator([ds[0]])
        src, cands = segments(collator, inst)
        src_text = ("<|source|>" + (instr or "") + inst["input"]).replace("[SEP]", " ")
        cand_texts = [("<|candidate|>" + c).replace("[SEP]", " ") for c in inst["candidates"]]
        with torch.no_grad():
            m = ranker._full_predict(**{k: v for k, v in batch.items() if v is not None})["logits"][0]
        scores = blender.rank([inst["input"]], [inst["candidates"]], instructions=instrs,
                              return_scores=True, batch_size=1, disable_tqdm=True)[0]
        rec = {
            "name": inst["name"], "instruction": instr, "input": inst["input"], "candidates": inst["candidates"],
            "corruptions": inst["corruptions"],
            "source_ids": src, "candidate_ids": cands,
            "source_full_ids": tok(src_text)["input_ids"],
            "candidate_full_ids": [tok(t)["input_ids"] for t in cand_texts],
            "matrix": [[float(x) for x in row] for row in m.tolist()],
            "scores": [float(x) for x in scores],
            "ranks": [int(x) for x in get_ranks_from_scores(scores)],
            "compare": {},
        }
        a, b_ = inst["candidates"][0], inst["candidates"][1]
        for mode in ["[A,B]+[B,A]", "[A,B]", "[B,A]"]:
            logit = blender.compare([inst["input"]], [a], [b_], instructions=instrs, batch_size=1,
                                    return_logits=True, mode=mode)
            rec["compare"][mode] = float(np.asarray(logit).reshape(-1)[0])
        records.append(rec)
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "Tests" / "Fixtures"))
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps (a shorter run is for trying things out)")
    ap.add_argument("--from-saved", action="store_true",
                    help="no training: load OUT/trained-pair-ranker/model.safetensors and rewrite the goldens, "
                         "the instances and TRAINING.json from it")
    args = ap.parse_args()
    globals()["STEPS"] = args.steps
    out = Path(args.out)
    tiny = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "tiny-pair-ranker"
    torch.set_num_threads(THREADS)
    t_start = time.time()

    held_out = held_out_instances()
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        backbone_dir, tok, collator, ranker = build(tiny, work)
        n_params = sum(p.numel() for p in ranker.parameters())
        print(f"model: {n_params} parameters; source words {len(SOURCE_WORDS)}, noise words {len(NOISE_WORDS)}")
        model_dir = out / "trained-pair-ranker"
        if args.from_saved:
            missing, unexpected = safetensors.torch.load_model(ranker, str(model_dir / "model.safetensors"))
            assert not missing and not unexpected, (missing, unexpected)
            ranker.eval()
            train_sources = {(i["instruction"] or "") + i["input"] for b in training_batches() for i in b}
            train_seconds = 0.0
        else:
            train_sources, train_seconds = train(ranker, collator, probe=held_out[EVAL_INSTANCES:EVAL_INSTANCES + 30])
            save(ranker, tiny, model_dir)
        overlap = sum((i["instruction"] or "") + i["input"] in train_sources for i in held_out)
        assert overlap == 0, f"{overlap} held-out sources were also trained on"

        blender = load_blender(model_dir, backbone_dir, work)

        # The reloaded model must be the trained one.
        probe = held_out[:40]
        mine, _ = matrices(ranker, collator, probe)
        theirs, _ = matrices(blender.ranker, blender.ranker_collator, probe)
        reload_delta = max(float(np.abs(a - b).max()) for a, b in zip(mine, theirs))
        assert reload_delta == 0.0, f"reloaded model differs by {reload_delta}"

        t_eval = time.time()
        evaluated = held_out[:EVAL_INSTANCES]
        mats, mean_tokens = matrices(blender.ranker, blender.ranker_collator, evaluated)
        result = metrics(evaluated, mats)
        result["mean_pair_tokens"] = mean_tokens
        eval_seconds = time.time() - t_eval

        gold = out / "goldens"
        gold.mkdir(parents=True, exist_ok=True)
        with open(gold / "trained_instances.jsonl", "w") as f:
            for inst in held_out:
                line = {} if inst["instruction"] is None else {"instruction": inst["instruction"]}
                line.update(input=inst["input"], candidates=inst["candidates"], name=inst["name"],
                            corruptions=inst["corruptions"])
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        records = golden_records(blender, tok, held_out[:GOLDEN_INSTANCES])
        worst = max(abs(r["matrix"][i][j] - float(mats[n][i, j]))
                    for n, r in enumerate(records) for i in range(len(r["candidates"]))
                    for j in range(len(r["candidates"])))
        assert worst < 1e-4, f"batched and batch-of-one logits differ by {worst}"
        doc = {"versions": versions(), "source_max_length": SOURCE_MAX, "candidate_max_length": CANDIDATE_MAX,
               "special_ids": {"pad": 0, "cls": 1, "sep": 2, "unk": 3, "mask": tok.convert_tokens_to_ids("[MASK]"),
                               "source": tok.source_prefix_id, "candidate1": tok.cand1_prefix_id,
                               "candidate2": tok.cand2_prefix_id, "candidate": tok.cand_prefix_id},
               "instances": records}
        # One instance per line: indent=1 would put every id on a line of its own (3x the size).
        head = json.dumps({k: v for k, v in doc.items() if k != "instances"}, ensure_ascii=False)[:-1]
        body = ",\n".join(json.dumps(r, ensure_ascii=False) for r in records)
        (gold / "trained_logits.json").write_text(head + ', "instances": [\n' + body + "\n]}\n")
        assert json.loads((gold / "trained_logits.json").read_text()) == json.loads(json.dumps(doc))

        training = {
            "versions": versions(),
            "backbone": {"hidden": HIDDEN, "layers": LAYERS, "heads": HEADS, "intermediate": INTERMEDIATE,
                         "vocab": len(tok), "parameters": n_params},
            "training": {"steps": args.steps, "instances_per_step": INSTANCES_PER_STEP, "lr": LR, "warmup": WARMUP,
                         "weight_decay": WEIGHT_DECAY, "clip": CLIP, "dropout": DROPOUT, "loss": "instructgpt",
                         "curriculum": {"short_steps": SHORT_STEPS, "short_span": SHORT_SPAN, "ramp_steps": RAMP_STEPS},
                         "sampling": "all_pair, num_pos = num_neg = 5",
                         "seeds": {"torch.manual_seed": SEED, "train instances": SEED + 1,
                                   "held-out instances": SEED + 2, "word split": SEED}},
            "task": {"source_words": len(SOURCE_WORDS), "noise_words": NOISE_WORDS,
                     "max_corruptions": MAX_CORRUPTIONS, "words": f"{MIN_WORDS} + {SPAN_WORDS} u^2",
                     "held_out_instances": HELD_OUT, "evaluated_instances": EVAL_INSTANCES},
            "held_out": result,
        }
        (model_dir / "TRAINING.json").write_text(json.dumps(training, indent=1) + "\n")

    total = time.time() - t_start
    print(json.dumps(result, indent=1))
    print(f"golden max |batched - batch of one| = {worst:.2e}")
    print(f"train {train_seconds:.0f} s, held-out eval {eval_seconds:.0f} s, total {total:.0f} s")
    for p in sorted(model_dir.iterdir()) + [gold / "trained_instances.jsonl", gold / "trained_logits.json"]:
        print(f"{p.stat().st_size:>10}  {p.relative_to(out)}")


if __name__ == "__main__":
    main()
