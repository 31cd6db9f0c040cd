"""What the reference knows about Unicode, for the tokenizer fixtures (never needed at run time or
in CI).

- The reference tokenizer (tokenizers 0.22.2) segments grapheme clusters with the Rust crate
  unicode-segmentation 1.12.0 (its Cargo.lock), whose tables are Unicode 16.0.0. `build_oracle`
  compiles grapheme_oracle.rs against a checkout of that crate with plain rustc (the crate has no
  dependencies), so the fixtures can hold the crate's own answers.
- `graphemebreak_tests` reads the crate's tests/testdata/mod.rs: the cases of Unicode 16.0.0's
  GraphemeBreakTest.txt, in the crate's generated layout.
- `assigned(version)` is the set of assigned code points of a Unicode version, from the
  `unicodedata2` package of that version installed with `pip install --target DIR
  unicodedata2==VERSION`; DIR is `$UNICODEDATA2_<major>` or venv-ref/unicodedata2-VERSION.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CRATE_VERSION = "1.12.0"
UNICODE_VERSION = "16.0.0"


def check_crate(crate: Path):
    toml = (crate / "Cargo.toml").read_text(encoding="utf-8")
    if not re.search(r'^version = "' + re.escape(CRATE_VERSION) + '"', toml, re.M):
        sys.exit(f"{crate} is not unicode-segmentation {CRATE_VERSION}")


def build_oracle(crate: Path, work: Path) -> Path:
    check_crate(crate)
    lib = work / "libunicode_segmentation.rlib"
    subprocess.run(["rustc", "-O", "--edition", "2018", "--crate-type", "lib", "--crate-name", "unicode_segmentation",
                    "--cap-lints", "allow", str(crate / "src" / "lib.rs"), "-o", str(lib)], check=True)
    exe = work / "grapheme_oracle"
    subprocess.run(["rustc", "-O", "--edition", "2021", str(HERE / "grapheme_oracle.rs"), "--extern",
                    f"unicode_segmentation={lib}", "-L", str(work), "-o", str(exe)], check=True)
    return exe


def oracle_clusters(exe: Path, texts):
    """Cluster sizes (in scalars) of each text, as the crate's graphemes(true) finds them."""
    inp = "".join(" ".join(f"{ord(c):x}" for c in t) + "\n" for t in texts)
    out = subprocess.run([str(exe)], input=inp, capture_output=True, text=True, check=True).stdout
    lines = out.split("\n")[:len(texts)]
    assert len(lines) == len(texts)
    return [[int(x) for x in line.split()] for line in lines]


def _rust_str(lit):
    return "".join(chr(int(h, 16)) for h in re.findall(r"\\u\{([0-9a-fA-F]+)\}", lit))


def graphemebreak_tests(crate: Path):
    """[(text, extended clusters)] from the crate's copy of GraphemeBreakTest.txt."""
    check_crate(crate)
    src = (crate / "tests" / "testdata" / "mod.rs").read_text(encoding="utf-8")
    if f"/Public/{UNICODE_VERSION}/ucd/auxiliary/GraphemeBreakTest.txt" not in src:
        sys.exit(f"the crate's test data is not GraphemeBreakTest {UNICODE_VERSION}")
    cases = []
    for name in ["TEST_SAME", "TEST_DIFF"]:
        body = re.search(r"pub const " + name + r": [^=]*= &\[(.*?)\n    \];", src, re.S).group(1)
        for m in re.finditer(r'\(("[^"]*")\s*,\s*&\[([^\]]*)\]', body):
            text = _rust_str(m.group(1))
            clusters = [_rust_str(s) for s in re.findall(r'"[^"]*"', m.group(2))]
            assert "".join(clusters) == text, m.group(0)
            cases.append((text, clusters))
    return cases


_DUMP = ("import sys, unicodedata2\n"
         "print(unicodedata2.unidata_version)\n"
         "print(' '.join('%x' % c for c in range(0x110000)"
         " if not 0xD800 <= c <= 0xDFFF and unicodedata2.category(chr(c)) != 'Cn'))\n")


def assigned(version: str):
    d = os.environ.get("UNICODEDATA2_" + version.split(".")[0]) or str(ROOT / "venv-ref" / f"unicodedata2-{version}")
    out = subprocess.run([sys.executable, "-c", _DUMP], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": d}).stdout.split("\n")
    if out[0] != version:
        sys.exit(f"unicodedata2 in {d} is Unicode {out[0]}, not {version}")
    return {int(h, 16) for h in out[1].split()}


def new_code_points(versions=("17.0.0", "18.0.0")):
    """{version: sorted code points assigned in it and unassigned in every earlier one since 16.0.0}."""
    seen = assigned(UNICODE_VERSION)
    out = {}
    for v in versions:
        now = assigned(v)
        out[v] = sorted(now - seen)
        seen |= now
    return out
