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
        if lowercase { s = Substring(Self.lowercased(s)) }
        if stripLeft || stripRight {
            let scalars = s.unicodeScalars
            var lo = scalars.startIndex, hi = scalars.endIndex
            if stripLeft { while lo < hi, Self.isWhiteSpace(scalars[lo].value) { lo = scalars.index(after: lo) } }
            if stripRight {
                while hi > lo {
                    let prev = scalars.index(before: hi)
                    if !Self.isWhiteSpace(scalars[prev].value) { break }
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

    // NOTE: neither step asks the standard library (`lowercased()`, `properties.isWhitespace`),
    // whose answers follow the toolchain's Unicode version: both are the reference's own answers,
    // dumped from tokenizers 0.22.2 into NormalizerTables.swift (scripts/unicode_tables.py).

    /// Rust `char::is_whitespace` as the reference has it (the Strip normalizer).
    @inline(__always) static func isWhiteSpace(_ v: UInt32) -> Bool {
        v < 0x80 ? v == 0x20 || (0x09...0x0D).contains(v) : whiteSpace.contains(v)
    }

    private static let lowercaseMap: [UInt32: [UInt32]] = {
        var m: [UInt32: [UInt32]] = [:]
        var i = 0
        while i + 1 < lowercaseSingle.count {
            m[lowercaseSingle[i]] = [lowercaseSingle[i + 1]]
            i += 2
        }
        for (k, v) in lowercaseMulti { m[k] = v }
        return m
    }()

    /// The Lowercase normalizer: each scalar's full lowercase mapping on its own (Rust
    /// `char::to_lowercase`, no context such as a final sigma), as the reference has it.
    static func lowercased(_ s: Substring) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if let low = lowercaseMap[u.value] {
                for v in low { if let w = Unicode.Scalar(v) { out.append(w) } }
            } else {
                out.append(u)
            }
        }
        return String(out)
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
