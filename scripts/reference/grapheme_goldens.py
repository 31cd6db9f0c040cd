#!/usr/bin/env python3
"""Write Tests/Fixtures/goldens/grapheme_clusters.jsonl: strings and their extended grapheme
clusters as the reference segments them (unicode-segmentation 1.12.0, Unicode 16.0.0, the crate
tokenizers 0.22.2 links), for GraphemeTests.

    python3 scripts/reference/grapheme_goldens.py --crate path/to/unicode-segmentation-1.12.0

Lines: {"source": "GraphemeBreakTest-16.0.0" | "random", "scalars": [...], "clusters": [sizes in
scalars]}. The conformance cases are every case of the crate's copy of GraphemeBreakTest.txt; the
crate's answers must equal them (checked here). The random strings (seeded) mix every category of
the tables, the InCB classes, and code points assigned in Unicode 17.0 and 18.0 (unicodedata2 of
those versions, see unicode_reference.py). Needs rustc.
"""
import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import unicode_reference as ref  # noqa: E402
from unicode_tables import CATEGORIES, from_crate  # noqa: E402

SEED = 20261207


def pools(crate: Path):
    cats, extend, linker = from_crate(crate / "src" / "tables.rs")
    by = {}
    for cp, c in cats.items():
        by.setdefault(CATEGORIES[c], []).append(cp)
    by["InCB_Extend"] = sorted(extend)
    by["InCB_Linker"] = sorted(linker)
    by["ascii"] = list(range(0x20, 0x7F))
    new = ref.new_code_points()
    by["new-17.0.0"] = new["17.0.0"]
    by["new-18.0.0"] = new["18.0.0"]
    by["any"] = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    return {k: sorted(v) for k, v in sorted(by.items()) if v}


def random_strings(p, n):
    rng = random.Random(SEED)
    names = list(p)
    out = []
    for i in range(n):
        # a few classes per string, so that rules meet (GB9c, GB11, RI pairs, Hangul)
        chosen = [rng.choice(names) for _ in range(rng.randint(1, 4))]
        length = rng.randint(1, 14)
        out.append("".join(chr(rng.choice(p[rng.choice(chosen)])) for _ in range(length)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crate", required=True, help=f"a checkout of unicode-segmentation {ref.CRATE_VERSION}")
    ap.add_argument("--random", type=int, default=6000)
    ap.add_argument("--out", default=str(ref.ROOT / "Tests" / "Fixtures" / "goldens" / "grapheme_clusters.jsonl"))
    args = ap.parse_args()
    crate = Path(args.crate)
    conformance = ref.graphemebreak_tests(crate)
    texts = [t for t, _ in conformance] + random_strings(pools(crate), args.random)
    with tempfile.TemporaryDirectory() as w:
        got = ref.oracle_clusters(ref.build_oracle(crate, Path(w)), texts)
    for (text, clusters), sizes in zip(conformance, got):
        assert sizes == [len(c) for c in clusters], (text, sizes, clusters)
    lines = []
    for i, (text, sizes) in enumerate(zip(texts, got)):
        source = f"GraphemeBreakTest-{ref.UNICODE_VERSION}" if i < len(conformance) else "random"
        lines.append(json.dumps({"source": source, "scalars": [ord(c) for c in text], "clusters": sizes}))
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"{args.out}: {len(conformance)} conformance cases, {len(texts) - len(conformance)} random strings")


if __name__ == "__main__":
    main()
