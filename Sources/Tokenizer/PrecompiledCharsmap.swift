/// SentencePiece's compiled normalization rules (`normalizer_spec.precompiled_charsmap`):
/// `[u32 trie size in bytes][trie: u32 units (a Darts double array)][replacements, NUL-separated]`.
/// Lookups are bounds-checked: a corrupt map gives no match, never a crash.
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]

    init(_ data: [UInt8], path: String) throws {
        guard data.count >= 4 else { throw TokenizerError.badFile(path: path, message: "precompiled charsmap is shorter than 4 bytes") }
        let trieBytes = Int(UInt32(data[0]) | UInt32(data[1]) << 8 | UInt32(data[2]) << 16 | UInt32(data[3]) << 24)
        guard trieBytes % 4 == 0, trieBytes <= data.count - 4, trieBytes >= 4 else {
            throw TokenizerError.badFile(path: path, message: "precompiled charsmap trie of \(trieBytes) bytes does not fit its \(data.count - 4)")
        }
        var units = [UInt32](repeating: 0, count: trieBytes / 4)
        for i in 0..<units.count {
            let o = 4 + 4 * i
            units[i] = UInt32(data[o]) | UInt32(data[o + 1]) << 8 | UInt32(data[o + 2]) << 16 | UInt32(data[o + 3]) << 24
        }
        self.units = units
        replacements = Array(data[(4 + trieBytes)...])
    }

    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// The replacement of the shortest rule that is a prefix of `key` (the Darts common-prefix
    /// search's first result, as `spm_precompiled::Precompiled::transform` uses it), or nil.
    func transform(_ key: UnsafeBufferPointer<UInt8>) -> ArraySlice<UInt8>? {
        guard !units.isEmpty else { return nil }
        var node = Self.offset(units[0])
        for c in key {
            if c == 0 { return nil }
            node ^= Int(c)
            guard node < units.count else { return nil }
            let unit = units[node]
            guard unit & ((1 << 31) | 0xff) == UInt32(c) else { return nil }
            node ^= Self.offset(unit)
            guard node < units.count else { return nil }
            if (unit >> 8) & 1 == 1 {
                let start = Int(units[node] & ((1 << 31) - 1))
                guard start <= replacements.count else { return nil }
                var end = start
                while end < replacements.count && replacements[end] != 0 { end += 1 }
                return replacements[start..<end]
            }
        }
        return nil
    }
}
