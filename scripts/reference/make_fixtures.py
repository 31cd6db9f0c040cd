#!/usr/bin/env python3
"""Write the reference fixtures the Swift tests compare against.

Run with the pinned stack of requirements.txt (see scripts/reference/README.md):

    python3 scripts/reference/make_fixtures.py --out Tests/Fixtures --crate path/to/unicode-segmentation-1.12.0

(scripts/reference/make_tokenizer_goldens.py rewrites only goldens/tokenizer_corpus.jsonl.)

What it writes (all seeded, all small):
  tiny-pair-ranker/   a tiny random PairRanker in the published file layout: pytorch_model.bin
                      (pretrained_model.* / head_layer.* keys, plus the int64 position_ids buffer a
                      transformers<4.31 save carries), model.safetensors (same weights), config.json
                      (backbone), ranker_config.json, and the tokenizer files written by
                      DebertaV2TokenizerFast.save_pretrained after [MASK] and the four PairRanker
                      tokens were added.
  goldens/pairs.json  per-instance segment ids (collated exactly as llm-blender does with
                      batch_size=1), the full comparison matrix, rank scores and ranks, compare
                      logits in the three modes and rank_with_ref scores, all from the real
                      llm-blender Blender API over the fixture checkpoint.
  goldens/hidden.safetensors  per-layer hidden states of a few assembled pair sequences.
  goldens/tokenizer_corpus.jsonl  reference ids of the tokenizer corpus (make_tokenizer_goldens.py).
  checkpoint-dtypes/  small safetensors / torch files with F32, F16, BF16, int64, strided and
                      shared-storage tensors, and a deflated zip variant, with their float32 values.

Nothing here is needed at run time or in CI.
"""
import argparse
import copy
import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import safetensors.torch
import sentencepiece as spm
import tokenizers
import torch
import transformers
from transformers import AutoTokenizer, DebertaV2Config, DebertaV2Model

import llm_blender
from llm_blender.blender.blender import Blender
from llm_blender.blender.blender_utils import RankerDataset
from llm_blender.gpt_eval.utils import get_ranks_from_scores
from llm_blender.pair_ranker.collator import CrossCompareCollator
from llm_blender.pair_ranker.config import RankerConfig
from llm_blender.pair_ranker.ranker import CrossCompareReranker

from corpus import spm_training_lines, ranking_instances

SEED = 20261129
SOURCE_MAX = 128
CANDIDATE_MAX = 128


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
    }


def train_spm(work: Path) -> Path:
    """A small SentencePiece unigram model shaped like deberta-v3's: nmt_nfkc, byte fallback,
    [PAD] [CLS] [SEP] [UNK] at ids 0-3."""
    prefix = work / "spm"
    cwd = os.getcwd()
    os.chdir(work)  # the trainer records model_prefix in the model: keep it free of the temp path
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(spm_training_lines(SEED)),
        model_prefix="spm",
        vocab_size=3000,
        model_type="unigram",
        normalization_rule_name="nmt_nfkc",
        byte_fallback=True,
        character_coverage=0.9995,
        pad_id=0, pad_piece="[PAD]",
        bos_id=1, bos_piece="[CLS]",
        eos_id=2, eos_piece="[SEP]",
        unk_id=3, unk_piece="[UNK]",
        num_threads=1,
        shuffle_input_sentence=False,
        seed_sentencepiece_size=200000,
        minloglevel=2,
    )
    os.chdir(cwd)
    return Path(str(prefix) + ".model")


def backbone_config(vocab_size: int, hidden: int = 64, layers: int = 3, heads: int = 4, intermediate: int = 128,
                    dropout: float = 0.1) -> DebertaV2Config:
    # Every deberta-v3-large switch on, small sizes (the tiny fixture's by default;
    # train_preference_fixture.py passes its own).
    return DebertaV2Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        hidden_act="gelu",
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        max_position_embeddings=512,
        type_vocab_size=0,
        initializer_range=0.02,
        layer_norm_eps=1e-7,
        relative_attention=True,
        max_relative_positions=-1,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        pad_token_id=0,
    )


def randomize(model: torch.nn.Module, std: float):
    """Weights scaled so attention is content-sensitive and logits are decisive; LayerNorm
    scales and biases random too, so a swapped gamma/beta cannot pass."""
    g = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("LayerNorm.bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.startswith("head_layer"):
                p.copy_(0.35 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))


def build_fixture_model(out: Path, work: Path):
    backbone_dir = work / "backbone"
    backbone_dir.mkdir()
    spm_path = train_spm(work)
    shutil.copy(spm_path, backbone_dir / "spm.model")
    (backbone_dir / "tokenizer_config.json").write_text(
        json.dumps({"do_lower_case": False, "vocab_type": "spm"}))
    # microsoft/deberta-v3-large ships config.json beside spm.model; AutoTokenizer reads its model_type.
    (backbone_dir / "config.json").write_text(json.dumps({"model_type": "deberta-v2"}))
    # The reference path: AutoTokenizer over spm.model converts to DebertaV2TokenizerFast.
    base = AutoTokenizer.from_pretrained(str(backbone_dir))
    assert type(base).__name__ == "DebertaV2TokenizerFast", type(base)
    n_pieces = spm.SentencePieceProcessor(model_file=str(spm_path)).get_piece_size()
    assert base.convert_tokens_to_ids("[MASK]") == n_pieces, "[MASK] must follow the spm pieces"

    torch.manual_seed(SEED)
    config = backbone_config(vocab_size=len(base) + 7)  # slack like deberta-v3 (128100 vs 128001)
    backbone = DebertaV2Model(config).eval()
    backbone.save_pretrained(str(backbone_dir), safe_serialization=True)

    tok = AutoTokenizer.from_pretrained(str(backbone_dir))
    CrossCompareCollator(SOURCE_MAX, tok, CANDIDATE_MAX)  # adds the four PairRanker tokens
    backbone.resize_token_embeddings(len(tok))
    rconf = RankerConfig(ranker_type="pairranker", model_type="deberta", model_name=str(backbone_dir),
                         source_maxlength=SOURCE_MAX, candidate_maxlength=CANDIDATE_MAX, n_tasks=1)
    backbone.config.out_hidden_state_size = backbone.config.hidden_size
    ranker = CrossCompareReranker(backbone, rconf, tok).eval()
    randomize(ranker, std=0.12)

    model_dir = out / "tiny-pair-ranker"
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    state = {k: v.detach().clone().contiguous() for k, v in ranker.state_dict().items()}
    safetensors.torch.save_file(state, str(model_dir / "model.safetensors"), metadata={"format": "pt"})
    # A transformers<4.31 save (the one pair-ranker was trained with) also carries this int64 buffer.
    legacy = dict(state)
    legacy["pretrained_model.embeddings.position_ids"] = torch.arange(512, dtype=torch.int64)[None, :]
    torch.save(legacy, str(model_dir / "pytorch_model.bin"))
    ranker.pretrained_model.config.save_pretrained(str(model_dir))
    cfg = json.loads((model_dir / "config.json").read_text())
    cfg.pop("out_hidden_state_size", None)
    (model_dir / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    ranker_json = {
        "ranker_type": "pairranker", "model_type": "deberta", "model_name": "microsoft/deberta-v3-large",
        "cache_dir": None, "load_checkpoint": None, "source_maxlength": SOURCE_MAX,
        "candidate_maxlength": CANDIDATE_MAX, "n_tasks": 1, "num_pos": 5, "num_neg": 5,
        "sub_sampling_mode": "all_pair", "sub_sampling_ratio": 0.4, "loss_type": "instructgpt",
        "reduce_type": "linear", "inference_mode": "bubble", "drop_out": 0.05, "fp16": True,
    }
    (model_dir / "ranker_config.json").write_text(json.dumps(ranker_json, indent=4))
    tok.save_pretrained(str(model_dir))
    return model_dir, backbone_dir, tok


def load_blender(model_dir: Path, backbone_dir: Path, work: Path) -> Blender:
    """The real llm-blender loading path: a ranker directory whose config.json holds the ranker
    settings (PairRM style) and whose checkpoint is our pytorch_model.bin."""
    rdir = work / "ranker"
    rdir.mkdir()
    shutil.copy(model_dir / "pytorch_model.bin", rdir / "pytorch_model.bin")
    conf = {"ranker_type": "pairranker", "model_type": "deberta", "model_name": str(backbone_dir),
            "source_maxlength": SOURCE_MAX, "candidate_maxlength": CANDIDATE_MAX, "n_tasks": 1,
            "fp16": False, "device": "cpu"}
    (rdir / "config.json").write_text(json.dumps(conf))
    b = Blender()
    b.blender_config.use_tqdm = False
    b.loadranker(str(rdir), device="cpu", cache_dir=str(work / "cache"))
    return b


def strip_pad(row):
    return [int(x) for x, m in zip(row[0], row[1]) if m]


def make_goldens(out: Path, blender: Blender, tok):
    ranker = blender.ranker
    collator = blender.ranker_collator
    instances = ranking_instances(SEED)
    records = []
    for inst in instances:
        instr = inst.get("instruction")
        ds = RankerDataset([inst["input"]], [inst["candidates"]],
                           instructions=[instr] if instr is not None else None)
        batch = collator([ds[0]])
        src = strip_pad((batch["source_ids"][0], batch["source_attention_mask"][0]))
        cands = [strip_pad((batch["candidate_ids"][0, k], batch["candidate_attention_mask"][0, k]))
                 for k in range(batch["candidate_ids"].shape[1])]
        src_text = ("<|source|>" + (instr or "") + inst["input"]).replace("[SEP]", " ")
        cand_texts = [("<|candidate|>" + c).replace("[SEP]", " ") for c in inst["candidates"]]
        with torch.no_grad():
            m = ranker._full_predict(**{k: v for k, v in batch.items() if v is not None})["logits"][0]
        scores = blender.rank([inst["input"]], [inst["candidates"]],
                              instructions=[instr] if instr is not None else None,
                              return_scores=True, batch_size=1, disable_tqdm=True)[0]
        ranks = get_ranks_from_scores(scores)
        rec = {
            "name": inst["name"],
            "instruction": instr,
            "input": inst["input"],
            "candidates": inst["candidates"],
            "source_ids": src,
            "candidate_ids": cands,
            "source_full_ids": tok(src_text)["input_ids"],
            "candidate_full_ids": [tok(t)["input_ids"] for t in cand_texts],
            "matrix": [[float(x) for x in row] for row in m.tolist()],
            "scores": [float(x) for x in scores],
            "ranks": [int(x) for x in ranks],
        }
        if len(inst["candidates"]) >= 2:
            a, b_ = inst["candidates"][0], inst["candidates"][1]
            rec["compare"] = {}
            for mode in ["[A,B]+[B,A]", "[A,B]", "[B,A]"]:
                logit = blender.compare([inst["input"]], [a], [b_],
                                        instructions=[instr] if instr is not None else None,
                                        batch_size=1, return_logits=True, mode=mode)
                rec["compare"][mode] = float(np.asarray(logit).reshape(-1)[0])
            rec["rank_with_ref"] = {}
            for ref_mode in ["longest", "shortest", "median_length", "first", "last"]:
                s = blender.rank_with_ref([inst["input"]], [inst["candidates"]],
                                          instructions=[instr] if instr is not None else None,
                                          return_scores=True, batch_size=1, ref_mode=ref_mode)
                rec["rank_with_ref"][ref_mode] = [float(x) for x in np.asarray(s).reshape(-1)]
        records.append(rec)

    # Per-layer hidden states of assembled pair sequences (single, unpadded).
    hidden = {}
    seqs = []
    model = ranker.pretrained_model
    pick = [r for r in records if len(r["candidates"]) >= 2]
    chosen = [pick[0], max(pick, key=lambda r: len(r["source_ids"]) + len(r["candidate_ids"][0])
                           + len(r["candidate_ids"][1]))]
    for si, r in enumerate(chosen):
        left = [tok.cand1_prefix_id if x == tok.cand_prefix_id else x for x in r["candidate_ids"][0]]
        right = [tok.cand2_prefix_id if x == tok.cand_prefix_id else x for x in r["candidate_ids"][1]]
        ids = r["source_ids"] + left + right
        with torch.no_grad():
            o = model(input_ids=torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                      output_hidden_states=True)
        for li, h in enumerate(o.hidden_states):
            hidden[f"seq{si}.layer{li}"] = h[0].contiguous()
        seqs.append({"name": r["name"], "ids": ids, "layers": len(o.hidden_states)})
    gold = out / "goldens"
    gold.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(hidden, str(gold / "hidden.safetensors"))
    doc = {"versions": versions(), "source_max_length": SOURCE_MAX, "candidate_max_length": CANDIDATE_MAX,
           "special_ids": {"pad": 0, "cls": 1, "sep": 2, "unk": 3, "mask": tok.convert_tokens_to_ids("[MASK]"),
                           "source": tok.source_prefix_id, "candidate1": tok.cand1_prefix_id,
                           "candidate2": tok.cand2_prefix_id, "candidate": tok.cand_prefix_id},
           "hidden_sequences": seqs, "instances": records}
    (gold / "pairs.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
    longest = max(len(s["ids"]) for s in seqs)
    print(f"goldens: {len(records)} instances, hidden sequences up to {longest} tokens")
    spread = [abs(x) for r in records for row in r["matrix"] for x in row if x != 0]
    print(f"|logit| median {np.median(spread):.3f} min {min(spread):.4f} max {max(spread):.3f}")


def make_aggregation_goldens(out: Path):
    """get_scores_from_cmps / get_ranks_from_scores on random float32 matrices of every size up to
    40 (numpy's pairwise float32 mean is exact-order dependent past 8 elements), plus tie cases."""
    from llm_blender.gpt_eval.utils import get_scores_from_cmps
    rng = np.random.default_rng(SEED + 3)
    cases = []
    for n in list(range(1, 41)) + [64, 130]:
        m = (rng.standard_normal((n, n)) * 2).astype(np.float32)
        np.fill_diagonal(m, 0)
        if n >= 4:
            m[1, :] = m[2, :]  # duplicate rows/cols give tied scores
            m[:, 1] = m[:, 2]
            m[1, 2] = m[2, 1] = 0
        scores = get_scores_from_cmps(m[None])[0]
        cases.append({"matrix": m.tolist(), "scores": scores.tolist(),
                      "ranks": get_ranks_from_scores(scores).tolist()})
    ties = [[1.0, 1.0, 0.5], [0.0, 0.0, 0.0], [2.0, -1.0, 2.0, 3.0, -1.0]]
    tie_cases = [{"scores": t, "ranks": get_ranks_from_scores(np.array(t, dtype=np.float32)).tolist()} for t in ties]
    (out / "goldens" / "aggregation.json").write_text(
        json.dumps({"versions": versions(), "matrices": cases, "ties": tie_cases}) + "\n")


def make_tokenizer_corpus(out: Path, crate: Path):
    # One writer for both scripts: make_tokenizer_goldens.py regenerates only these goldens.
    import make_tokenizer_goldens
    make_tokenizer_goldens.write(out / "goldens" / "tokenizer_corpus.jsonl", out / "tiny-pair-ranker", crate)


def make_dtype_fixtures(out: Path):
    d = out / "checkpoint-dtypes"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    g = torch.Generator().manual_seed(SEED + 2)
    base = torch.randn(3, 5, generator=g) * 3
    tensors = {
        "f32": base.clone(),
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "scalar": torch.tensor(1.5),
        "specials16": torch.tensor([0.0, -0.0, float("inf"), float("-inf"), 6.1e-5, 5.96e-8, 65504.0],
                                   dtype=torch.float16),
    }
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, str(d / "dtypes.safetensors"))
    storage = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    torchd = dict(tensors)
    torchd["i64"] = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    torchd["transposed"] = storage.t()          # stride (1, 6): not contiguous
    torchd["view_offset"] = storage[1:3, 2:5]   # storage offset 8, shares storage with `transposed`
    torch.save(torchd, str(d / "dtypes.bin"))
    with zipfile.ZipFile(d / "dtypes.bin") as zin, \
            zipfile.ZipFile(d / "dtypes-deflated.bin", "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(fixed, zin.read(info.filename))
    # float32 bit patterns (JSON has no infinities)
    values = {k: {"shape": list(v.shape),
                  "bits": v.to(torch.float32).reshape(-1).numpy().view(np.uint32).tolist()}
              for k, v in torchd.items()}
    back = torch.load(str(d / "dtypes-deflated.bin"), map_location="cpu", weights_only=True)
    assert all(torch.equal(back[k], torchd[k]) for k in torchd)
    (d / "values.json").write_text(json.dumps({"versions": versions(), "tensors": values}, indent=1) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "Tests" / "Fixtures"))
    ap.add_argument("--crate", required=True, help="a checkout of unicode-segmentation 1.12.0 (tokenizer corpus)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as w:
        work = Path(w)
        model_dir, backbone_dir, tok = build_fixture_model(out, work)
        blender = load_blender(model_dir, backbone_dir, work)
        make_goldens(out, blender, tok)
        make_tokenizer_corpus(out, Path(args.crate))
        make_aggregation_goldens(out)
    make_dtype_fixtures(out)
    (out / "VERSIONS.json").write_text(json.dumps(versions(), indent=1) + "\n")


if __name__ == "__main__":
    main()
