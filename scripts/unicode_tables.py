#!/usr/bin/env python3
"""Generate Sources/Tokenizer/GraphemeTables.swift: the Unicode property data the tokenizer's
grapheme segmentation (the charsmap step, UAX #29 extended grapheme clusters) looks up.

The reference fast tokenizer (Hugging Face `tokenizers` 0.22.2, whose Cargo.lock pins the Rust
crate unicode-segmentation 1.12.0) segments with that crate's tables, built from the Unicode 16.0.0
Character Database. The token ids must not depend on the Swift toolchain's own (newer) Unicode
tables, so the tokenizer carries these.

Source of the data, said plainly: no copy of the Unicode 16.0.0 UCD text files
(GraphemeBreakProperty.txt, emoji-data.txt, DerivedCoreProperties.txt) is obtainable on the
project's machines (Debian's unicode-data is 15.0.0; no PyPI package ships the 16.0.0 files), so
this script reads the crate's published table data, its generated src/tables.rs, which is those
UCD files in the crate's own layout:

    python3 scripts/unicode_tables.py --crate-tables path/to/unicode-segmentation-1.12.0/src/tables.rs

With the UCD 16.0.0 files at hand, `--ucd DIR` builds the same tables from them instead (and
`--check-crate` compares the two). Deterministic: the same input gives the same file. (That path
was checked on the one UCD these machines have, Debian's unicode-data 15.0.0: its categories equal
those of the crate's tables at 15.0.0, commit b4c9ce1; 15.0 has no InCB, so the InCB part is
checked only by the 16.0.0 tests.)

    python3 scripts/unicode_tables.py --normalizers   (with tokenizers==0.22.2 installed)

writes Sources/Tokenizer/NormalizerTables.swift instead: the two other places where the reference
pipeline uses Unicode data, taken from the reference itself by running its normalizers over every
scalar value: Strip (Rust `char::is_whitespace`, the White_Space property) and Lowercase (Rust
`char::to_lowercase` per scalar, full mappings, no context such as final sigma). Both come from
the Rust core library the reference wheel was built with, so they are dumped, not derived.

Tables written: one value per code point, `category | (InCB=Extend ? 0x10) | (InCB=Linker ? 0x20)`,
where category is the crate's GraphemeCat (Grapheme_Cluster_Break, with Extended_Pictographic and
InCB=Consonant folded in as their own categories exactly as the crate does), as a sorted list of
disjoint ranges; code points in no range are Other (0).
"""
import argparse
import re
import sys
from pathlib import Path

# Order = the raw values of GraphemeBreak.Category in Sources/Tokenizer/GraphemeBreak.swift.
CATEGORIES = ["Any", "CR", "LF", "Control", "Extend", "ZWJ", "Regional_Indicator", "Prepend", "SpacingMark",
              "L", "V", "T", "LV", "LVT", "Extended_Pictographic", "InCB_Consonant"]
INCB_EXTEND = 0x10
INCB_LINKER = 0x20
VERSION = (16, 0, 0)

CHAR = r"'\\u\{([0-9a-fA-F]+)\}'"


def table_body(text, name):
    m = re.search(r"const " + name + r": &(?:'static )?\[[^\]]*\] = &\[(.*?)\];", text, re.S)
    if not m:
        sys.exit(f"tables.rs: no table {name}")
    return m.group(1)


def from_crate(path):
    text = Path(path).read_text(encoding="utf-8")
    v = re.search(r"pub const UNICODE_VERSION: \(u64, u64, u64\) = \((\d+), (\d+), (\d+)\);", text)
    if not v or tuple(int(x) for x in v.groups()) != VERSION:
        sys.exit(f"tables.rs is not Unicode {VERSION}: {v.group(0) if v else 'no UNICODE_VERSION'}")
    cats = {}
    for lo, hi, cat in re.findall(r"\(" + CHAR + r",\s*" + CHAR + r",\s*GC_(\w+)\)", table_body(text, "grapheme_cat_table")):
        if cat not in CATEGORIES:
            sys.exit(f"unknown grapheme category GC_{cat}")
        for cp in range(int(lo, 16), int(hi, 16) + 1):
            if cp in cats:
                sys.exit(f"U+{cp:04X} twice in grapheme_cat_table")
            cats[cp] = CATEGORIES.index(cat)
    extend = set()
    for lo, hi in re.findall(r"\(" + CHAR + r",\s*" + CHAR + r"\)", table_body(text, "InCB_Extend_table")):
        extend.update(range(int(lo, 16), int(hi, 16) + 1))
    m = re.search(r"pub fn is_incb_linker\(c: char\) -> bool \{\s*matches!\(c,([^)]*)\)", text)
    if not m:
        sys.exit("tables.rs: no is_incb_linker")
    linker = {int(h, 16) for h in re.findall(CHAR, m.group(1))}
    return cats, extend, linker


def ucd_ranges(path, prop=None):
    """(lo, hi, value) of a UCD property file, only lines whose value is `prop` when given."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(";")]
        if prop is not None and fields[1] != prop:
            continue
        lo, _, hi = fields[0].partition("..")
        out.append((int(lo, 16), int(hi or lo, 16), fields[1:]))
    return out


def from_ucd(d):
    d = Path(d)
    head = (d / "DerivedCoreProperties.txt").read_text(encoding="utf-8")[:200]
    want = "DerivedCoreProperties-" + ".".join(map(str, VERSION)) + ".txt"
    if want not in head:
        sys.exit(f"{d} is not the Unicode {'.'.join(map(str, VERSION))} UCD (no {want} header)")
    cats = {}
    for lo, hi, (value,) in ucd_ranges(d / "auxiliary" / "GraphemeBreakProperty.txt"):
        for cp in range(lo, hi + 1):
            cats[cp] = CATEGORIES.index(value)
    for lo, hi, _ in ucd_ranges(d / "emoji" / "emoji-data.txt", "Extended_Pictographic"):
        for cp in range(lo, hi + 1):
            cats.setdefault(cp, CATEGORIES.index("Extended_Pictographic"))
    extend, linker = set(), set()
    for lo, hi, f in ucd_ranges(d / "DerivedCoreProperties.txt", "InCB"):
        for cp in range(lo, hi + 1):
            if f[1] == "Consonant":
                cats.setdefault(cp, CATEGORIES.index("InCB_Consonant"))
            elif f[1] == "Extend":
                extend.add(cp)
            elif f[1] == "Linker":
                linker.add(cp)
    return cats, extend, linker


def ranges(cats, extend, linker):
    value = {}
    for cp in set(cats) | extend | linker:
        value[cp] = cats.get(cp, 0) | (INCB_EXTEND if cp in extend else 0) | (INCB_LINKER if cp in linker else 0)
    out = []
    for cp in sorted(value):
        v = value[cp]
        if v == 0:
            continue
        if out and out[-1][1] == cp - 1 and out[-1][2] == v:
            out[-1][1] = cp
        else:
            out.append([cp, cp, v])
    return out


def swift(rs, source):
    lines = [
        "// GENERATED by scripts/unicode_tables.py from " + source + "; do not edit.",
        "//",
        "// Grapheme_Cluster_Break, Extended_Pictographic and Indic_Conjunct_Break of Unicode "
        + ".".join(map(str, VERSION)) + ", the version of",
        "// the unicode-segmentation 1.12.0 tables that the reference tokenizers 0.22.2 links: the",
        "// charsmap step segments text with these, not with the Swift standard library's Unicode data.",
        "",
        "extension GraphemeBreak {",
        "    static let unicodeVersion = (" + ", ".join(map(str, VERSION)) + ")",
        "",
        "    /// Sorted disjoint ranges, two words each: first code point, then last << 8 | value",
        "    /// (category raw value | 0x10 InCB=Extend | 0x20 InCB=Linker). Unlisted code points: 0.",
        "    static let packedRanges: [UInt32] = [",
    ]
    row = []
    for lo, hi, v in rs:
        row.append(f"0x{lo:X}, 0x{(hi << 8) | v:X}")
        if len(row) == 6:
            lines.append("        " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("        " + ", ".join(row) + ",")
    lines += ["    ]", "}", ""]
    return "\n".join(lines)


def normalizer_tables():
    import tokenizers
    from tokenizers import normalizers
    if tokenizers.__version__ != "0.22.2":
        sys.exit(f"tokenizers {tokenizers.__version__} is installed, the reference is 0.22.2")
    strip, lower = normalizers.Strip(), normalizers.Lowercase()
    white, single, multi = [], [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if strip.normalize_str(ch + "x" + ch) == "x":
            white.append(cp)
        low = lower.normalize_str(ch)
        if low != ch:
            (single if len(low) == 1 else multi).append((cp, [ord(c) for c in low]))
    lines = [
        "// GENERATED by scripts/unicode_tables.py --normalizers from the reference tokenizers 0.22.2's",
        "// own Strip and Lowercase normalizers run over every scalar value; do not edit.",
        "",
        "extension Normalizer {",
        "    /// Rust char::is_whitespace as the reference has it (Strip).",
        "    static let whiteSpace: [UInt32] = [" + ", ".join(f"0x{c:X}" for c in white) + "]",
        "",
        "    /// Rust char::to_lowercase as the reference has it (Lowercase), scalars that map to one",
        "    /// other scalar: pairs of (scalar, lowercase), sorted.",
        "    static let lowercaseSingle: [UInt32] = [",
    ]
    row = []
    for cp, (low,) in single:
        row.append(f"0x{cp:X}, 0x{low:X}")
        if len(row) == 8:
            lines.append("        " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("        " + ", ".join(row) + ",")
    lines += ["    ]", "", "    /// Scalars whose lowercase is several scalars.",
              "    static let lowercaseMulti: [(UInt32, [UInt32])] = ["]
    for cp, low in multi:
        lines.append(f"        (0x{cp:X}, [" + ", ".join(f"0x{c:X}" for c in low) + "]),")
    lines += ["    ]", "}", ""]
    out = Path(__file__).resolve().parents[1] / "Sources/Tokenizer/NormalizerTables.swift"
    out.write_text("\n".join(lines), encoding="utf-8")
    print(f"{out}: {len(white)} white-space scalars, {len(single)} + {len(multi)} lowercase mappings")


def main():
    if sys.argv[1:] == ["--normalizers"]:
        return normalizer_tables()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--crate-tables", help="unicode-segmentation 1.12.0 src/tables.rs")
    src.add_argument("--ucd", help="a Unicode 16.0.0 UCD directory (with auxiliary/ and emoji/)")
    ap.add_argument("--check-crate", help="with --ucd: also read this tables.rs and require the same tables")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "Sources/Tokenizer/GraphemeTables.swift"))
    args = ap.parse_args()
    if args.crate_tables:
        rs = ranges(*from_crate(args.crate_tables))
        source = "the unicode-segmentation 1.12.0 crate's src/tables.rs (Unicode 16.0.0 UCD data)"
    else:
        rs = ranges(*from_ucd(args.ucd))
        source = "the Unicode 16.0.0 UCD files"
        if args.check_crate and rs != ranges(*from_crate(args.check_crate)):
            sys.exit("the UCD files and the crate's tables differ")
    Path(args.out).write_text(swift(rs, source), encoding="utf-8")
    print(f"{args.out}: {len(rs)} ranges")


if __name__ == "__main__":
    main()
