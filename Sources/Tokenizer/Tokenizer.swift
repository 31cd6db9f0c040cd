/// The DeBERTa-v3 fast tokenizer (DebertaV2TokenizerFast), exactly as the reference runs it:
/// special tokens split on the raw text, the normalizer on each remaining piece, normalized
/// added tokens split on the normalized text, Metaspace (▁, prefix, split before each ▁), the
/// Unigram model per word, then the `[CLS] $A [SEP]` template.
public final class Tokenizer: Sendable {
    public enum PrependScheme: String, Sendable { case always, first, never }

    let model: UnigramModel
    let normalizer: Normalizer
    let rawTokens: AddedTokenMatcher
    let normalizedTokens: AddedTokenMatcher
    let prepend: PrependScheme
    let splitWords: Bool
    public let addedTokens: [AddedToken]
    public let cls: Int32
    public let sep: Int32
    /// Where it was loaded from (tokenizer.json or spm.model).
    public let source: String
    private let idToAdded: [Int32: String]

    static let metaspace: [UInt8] = [0xE2, 0x96, 0x81]  // "▁"

    init(model: UnigramModel, normalizer: Normalizer, added: [AddedToken], prepend: PrependScheme, splitWords: Bool,
         cls: Int32, sep: Int32, source: String) {
        self.model = model
        self.normalizer = normalizer
        self.prepend = prepend
        self.splitWords = splitWords
        self.cls = cls
        self.sep = sep
        self.source = source
        addedTokens = added
        let raw = added.filter { !$0.normalized }
        rawTokens = AddedTokenMatcher(patterns: raw.map { Array($0.content.utf8) }, ids: raw.map(\.id))
        // Normalized tokens are matched in their normalized form.
        let norm = added.filter(\.normalized)
        normalizedTokens = AddedTokenMatcher(patterns: norm.map { normalizer.normalize(Substring($0.content)) },
                                             ids: norm.map(\.id))
        idToAdded = Dictionary(added.map { ($0.id, $0.content) }, uniquingKeysWith: { a, _ in a })
        // Build the grapheme tables now, not on the first request.
        if normalizer.charsmap != nil { _ = GraphemeBreak.shared }
    }

    /// Size of the id space (pieces and added tokens).
    public var vocabularySize: Int { max(model.pieces.count, Int((addedTokens.map(\.id).max() ?? -1) + 1)) }

    /// `tokenizer(text, add_special_tokens=addSpecialTokens)["input_ids"]`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecialTokens { ids.append(cls) }
        var nodes: [(Int32, Double, Int)] = []
        var utf8 = Array(text.utf8)
        utf8.withUnsafeBufferPointer { raw in
            for piece in rawTokens.split(raw) {
                switch piece {
                case let .token(id): ids.append(id)
                case let .text(range):
                    let sub = String(decoding: UnsafeBufferPointer(rebasing: raw[range]), as: UTF8.self)
                    let normalized = normalizer.normalize(Substring(sub))
                    normalized.withUnsafeBufferPointer { norm in
                        for p in normalizedTokens.split(norm) {
                            switch p {
                            case let .token(id): ids.append(id)
                            case let .text(r):
                                encodeWords(UnsafeBufferPointer(rebasing: norm[r]),
                                            atTextStart: range.lowerBound == 0 && r.lowerBound == 0, into: &ids, nodes: &nodes)
                            }
                        }
                    }
                }
            }
        }
        utf8.removeAll()
        if addSpecialTokens { ids.append(sep) }
        return ids
    }

    /// Metaspace: spaces become ▁, a ▁ is prepended, the piece splits before every ▁.
    private func encodeWords(_ text: UnsafeBufferPointer<UInt8>, atTextStart: Bool, into ids: inout [Int32],
                             nodes: inout [(Int32, Double, Int)]) {
        guard !text.isEmpty else { return }
        var s: [UInt8] = []
        s.reserveCapacity(text.count + 8)
        let startsWithMeta = text.count >= 3 && text[0] == 0xE2 && text[1] == 0x96 && text[2] == 0x81
        let startsWithSpace = text[0] == 0x20
        if !startsWithMeta && !startsWithSpace && (prepend == .always || (prepend == .first && atTextStart)) {
            s += Self.metaspace
        }
        for b in text { if b == 0x20 { s += Self.metaspace } else { s.append(b) } }
        s.withUnsafeBufferPointer { w in
            guard splitWords else { model.encode(w, into: &ids, nodes: &nodes); return }
            var start = 0, i = 1
            while i + 2 < w.count {
                if w[i] == 0xE2 && w[i + 1] == 0x96 && w[i + 2] == 0x81 {
                    model.encode(UnsafeBufferPointer(rebasing: w[start..<i]), into: &ids, nodes: &nodes)
                    start = i
                    i += 3
                } else {
                    i += 1
                }
            }
            model.encode(UnsafeBufferPointer(rebasing: w[start..<w.count]), into: &ids, nodes: &nodes)
        }
    }

    /// The token strings of ids (pieces, or added-token contents).
    public func tokens(_ ids: [Int32]) -> [String] {
        ids.map { id in
            if let a = idToAdded[id] { return a }
            guard id >= 0, Int(id) < model.pieces.count else { return "" }
            return String(decoding: model.pieces[Int(id)], as: UTF8.self)
        }
    }

    /// The id of an added token or a piece with exactly this text.
    public func id(of token: String) -> Int32? {
        // Bytes, not String ==: Swift compares canonical equivalence, with the toolchain's
        // normalization data; the reference compares the exact text.
        if let a = addedTokens.first(where: { $0.content.utf8.elementsEqual(token.utf8) }) { return a.id }
        return model.trie.lookup(Array(token.utf8))
    }
}
