/// One added token (tokenizer.json `added_tokens`): matched in the text before the model sees it.
public struct AddedToken: Sendable, Equatable {
    public let id: Int32
    public let content: String
    public let special: Bool
    /// Matched on normalized text (true) or on the raw text (false).
    public let normalized: Bool
}

/// Splits text at added tokens, leftmost-longest (as the aho-corasick matcher of
/// tokenizers' AddedVocabulary does).
struct AddedTokenMatcher: Sendable {
    enum Piece { case token(Int32), text(Range<Int>) }

    private let trie: ByteTrie
    let isEmpty: Bool

    init(patterns: [[UInt8]], ids: [Int32]) {
        trie = ByteTrie(keys: patterns, ids: ids)
        isEmpty = patterns.isEmpty
    }

    func split(_ bytes: UnsafeBufferPointer<UInt8>) -> [Piece] {
        guard !isEmpty else { return bytes.isEmpty ? [] : [.text(0..<bytes.count)] }
        var out: [Piece] = []
        var textStart = 0, i = 0
        while i < bytes.count {
            if let (len, id) = trie.longestPrefix(of: bytes, from: i) {
                if textStart < i { out.append(.text(textStart..<i)) }
                out.append(.token(id))
                i += len
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < bytes.count { out.append(.text(textStart..<bytes.count)) }
        return out
    }
}
