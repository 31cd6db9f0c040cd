/// The normalizer sequence the DeBERTa-v2 converter builds (convert_slow_tokenizer.py
/// DebertaV2Converter.normalizer): [Lowercase] → Strip → Precompiled(charsmap) → Replace(" {2,}", " ").
struct Normalizer: Sendable {
    var lowercase = false
    var stripLeft = false, stripRight = false
    var charsmap: PrecompiledCharsmap?
    /// Replace(Regex(" {2,}"), " "): runs of U+0020 collapse to one.
    var collapseSpaces = false

    /// Normalized UTF-8 of one piece of text (what lies between added tokens).
    func normalize(_ text: Substring) -> [UInt8] {
        var s = text
        if lowercase { s = Substring(s.lowercased()) }
        if stripLeft || stripRight {
            // Rust char::is_whitespace: the Unicode White_Space property.
            let scalars = s.unicodeScalars
            var lo = scalars.startIndex, hi = scalars.endIndex
            if stripLeft { while lo < hi, scalars[lo].properties.isWhitespace { lo = scalars.index(after: lo) } }
            if stripRight {
                while hi > lo {
                    let prev = scalars.index(before: hi)
                    if !scalars[prev].properties.isWhitespace { break }
                    hi = prev
                }
            }
            s = Substring(scalars[lo..<hi])
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        if let charsmap {
            apply(charsmap, to: s, into: &out)
        } else {
            out += s.utf8
        }
        if collapseSpaces {
            var w = 0
            for r in 0..<out.count where !(out[r] == 0x20 && w > 0 && out[w - 1] == 0x20) {
                out[w] = out[r]
                w += 1
            }
            out.removeLast(out.count - w)
        }
        return out
    }

    /// NOTE: this is how Hugging Face tokenizers applies the charsmap (normalizers/precompiled.rs),
    /// which the reference fast tokenizer uses, not SentencePiece's own longest-match loop: per
    /// extended grapheme cluster, a cluster shorter than 6 bytes is looked up whole (the shortest
    /// rule that prefixes it replaces the whole cluster); otherwise, or without a rule, each
    /// scalar is looked up on its own. Clusters are Unicode 16.0.0's (GraphemeBreak), as the
    /// reference's unicode-segmentation 1.12.0 finds them, never the toolchain's `Character`s.
    private func apply(_ map: PrecompiledCharsmap, to s: Substring, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            GraphemeBreak.shared.forEachCluster(bytes) { cluster in
                if cluster.count < 6, let r = map.transform(UnsafeBufferPointer(rebasing: bytes[cluster])) {
                    out += r
                    return
                }
                var start = cluster.lowerBound
                while start < cluster.upperBound {
                    let n = min(GraphemeBreak.decode(bytes, start).1, cluster.upperBound - start)
                    let part = UnsafeBufferPointer(rebasing: bytes[start..<(start + n)])
                    if let r = map.transform(part) { out += r } else { out += part }
                    start += n
                }
            }
        }
    }
}
