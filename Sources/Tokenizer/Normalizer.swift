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
    /// scalar is looked up on its own.
    private func apply(_ map: PrecompiledCharsmap, to s: Substring, into out: inout [UInt8]) {
        var buffer: [UInt8] = []
        for cluster in s {
            buffer.removeAll(keepingCapacity: true)
            buffer += cluster.utf8
            if buffer.count < 6, let r = buffer.withUnsafeBufferPointer({ map.transform($0) }) {
                out += r
                continue
            }
            var start = 0
            for scalar in cluster.unicodeScalars {
                let n = UTF8.width(scalar)
                let r = buffer.withUnsafeBufferPointer { map.transform(UnsafeBufferPointer(rebasing: $0[start..<(start + n)])) }
                if let r { out += r } else { out += buffer[start..<(start + n)] }
                start += n
            }
        }
    }
}
