// The reference's grapheme segmentation, for fixtures only: unicode-segmentation's
// `graphemes(true)` (the call tokenizers' Precompiled normalizer makes). Built by
// grapheme_goldens.py against the crate version tokenizers 0.22.2's Cargo.lock pins.
// stdin: one string per line as space-separated hex scalar values; stdout: each cluster's size
// in scalars, space-separated, one line per input line.
use std::io::{self, BufRead, Write};
use unicode_segmentation::UnicodeSegmentation;

fn main() {
    let stdin = io::stdin();
    let mut out = io::BufWriter::new(io::stdout());
    for line in stdin.lock().lines() {
        let line = line.expect("stdin");
        let s: String = line
            .split_whitespace()
            .map(|h| char::from_u32(u32::from_str_radix(h, 16).expect("hex")).expect("scalar"))
            .collect();
        let sizes: Vec<String> = s.graphemes(true).map(|g| g.chars().count().to_string()).collect();
        writeln!(out, "{}", sizes.join(" ")).expect("stdout");
    }
}
