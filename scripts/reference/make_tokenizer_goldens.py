#!/usr/bin/env python3
"""Write Tests/Fixtures/goldens/tokenizer_corpus.jsonl: the tokenizer corpus with the reference fast
tokenizer's ids, from the fixture's tokenizer files only (no torch, no model: the model goldens
are make_fixtures.py's and stay as they are).

    python3 scripts/reference/make_tokenizer_goldens.py --crate path/to/unicode-segmentation-1.12.0

Needs transformers 4.57.6, tokenizers 0.22.2, sentencepiece (requirements.txt), and for the
Unicode-version part of the corpus the unicodedata2 packages of 16.0.0, 17.0.0 and 18.0.0
(unicode_reference.py says where) and the crate's copy of GraphemeBreakTest 16.0.0.

Each line: {"text", "ids": DebertaV2TokenizerFast from tokenizer.json, "lower_ids": the same
vocabulary converted from spm.model with do_lower_case=True (the Lowercase normalizer)}. The ids
from spm.model converted without lowercasing must equal "ids" (checked here), so the Swift tests
compare both of its loaders against "ids".
"""
import argparse
import json
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

import tokenizers
import transformers
from transformers import AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
import unicode_reference as ref  # noqa: E402
from corpus import tokenizer_corpus, unicode_version_corpus  # noqa: E402

SEED = 20261129  # make_fixtures.SEED


def spm_only(model_dir: Path, work: Path, lower: bool) -> Path:
    d = work / ("lower" if lower else "cased")
    d.mkdir()
    for f in ["spm.model", "special_tokens_map.json", "added_tokens.json"]:
        if (model_dir / f).exists():
            shutil.copy(model_dir / f, d / f)
    config = json.loads((model_dir / "tokenizer_config.json").read_text())
    config["do_lower_case"] = lower
    (d / "tokenizer_config.json").write_text(json.dumps(config))
    (d / "config.json").write_text(json.dumps({"model_type": "deberta-v2"}))
    return d


def texts(crate: Path):
    import unicodedata2
    assert unicodedata2.unidata_version == "18.0.0", unicodedata2.unidata_version
    cases = [t for t, _ in ref.graphemebreak_tests(crate)]
    return tokenizer_corpus(SEED) + unicode_version_corpus(SEED, ref.new_code_points(), cases,
                                                           lambda c: unicodedata2.category(chr(c)))


def write(out: Path, model_dir: Path, crate: Path):
    assert tokenizers.__version__ == "0.22.2" and transformers.__version__ == "4.57.6"
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    assert type(tok).__name__ == "DebertaV2TokenizerFast" and (model_dir / "tokenizer.json").exists()
    with tempfile.TemporaryDirectory() as w:
        cased = AutoTokenizer.from_pretrained(str(spm_only(model_dir, Path(w), False)))
        lower = AutoTokenizer.from_pretrained(str(spm_only(model_dir, Path(w), True)))
    assert type(lower).__name__ == "DebertaV2TokenizerFast"
    assert "Lowercase" in json.dumps(json.loads(lower.backend_tokenizer.to_str())["normalizer"])
    lines = []
    for text in texts(crate):
        ids = tok(text)["input_ids"]
        assert cased(text)["input_ids"] == ids, ("spm.model and tokenizer.json disagree", text)
        lines.append(json.dumps({"text": text, "ids": ids, "lower_ids": lower(text)["input_ids"]}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n")
    print(f"{out}: {len(lines)} strings")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crate", required=True, help=f"a checkout of unicode-segmentation {ref.CRATE_VERSION}")
    ap.add_argument("--fixtures", default=str(ref.ROOT / "Tests" / "Fixtures"))
    args = ap.parse_args()
    fx = Path(args.fixtures)
    write(fx / "goldens" / "tokenizer_corpus.jsonl", fx / "tiny-pair-ranker", Path(args.crate))


if __name__ == "__main__":
    main()
