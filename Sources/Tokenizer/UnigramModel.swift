/// The Unigram model over a SentencePiece vocabulary, as Hugging Face tokenizers runs it
/// (models/unigram/model.rs encode_optimized, itself sentencepiece's EncodeOptimized):
///
/// Viterbi over UTF-8 byte offsets. From each character boundary, every vocabulary piece that
/// starts there is a candidate edge (score + best score so far, in Double); if no piece covers
/// exactly the next character, an unknown edge of (min score − 10) does. Ties keep the first
/// candidate seen (shorter pieces are seen first). Consecutive unknown pieces fuse into one
/// token, looked up in the vocabulary (almost always `[UNK]`). No byte fallback.
struct UnigramModel: Sendable {
    let pieces: [[UInt8]]
    let scores: [Double]
    let unkID: Int32
    let trie: ByteTrie
    let unkScore: Double

    static let unknownPenalty = 10.0

    init(pieces: [[UInt8]], scores: [Double], unkID: Int32) {
        self.pieces = pieces
        self.scores = scores
        self.unkID = unkID
        trie = ByteTrie(keys: pieces, ids: (0..<Int32(pieces.count)).map { $0 })
        unkScore = (scores.min() ?? 0) - Self.unknownPenalty
    }

    /// Appends the ids of one pre-tokenized word (UTF-8) to `ids`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], nodes: inout [(Int32, Double, Int)]) {
        let n = word.count
        guard n > 0 else { return }
        nodes.removeAll(keepingCapacity: true)
        nodes.append(contentsOf: repeatElement((-1, 0.0, -1), count: n + 1))
        var pos = 0
        while pos < n {
            let base = nodes[pos].1
            let charLen = min(Self.utf8Length(word[pos]), n - pos)
            var coversChar = false
            trie.forEachPrefix(of: word, from: pos) { len, id in
                let end = pos + len
                let s = scores[Int(id)] + base
                if nodes[end].2 < 0 || s > nodes[end].1 { nodes[end] = (id, s, pos) }
                if len == charLen { coversChar = true }
            }
            if !coversChar {
                let end = pos + charLen
                let s = unkScore + base
                if nodes[end].2 < 0 || s > nodes[end].1 { nodes[end] = (unkID, s, pos) }
            }
            pos += charLen
        }
        // Backtrack, fusing runs of unknowns.
        var out: [Int32] = []
        var end = n, unkEnd = -1
        while end > 0 {
            let (id, _, start) = nodes[end]
            if id == unkID {
                if unkEnd < 0 { unkEnd = end }
            } else {
                if unkEnd >= 0 { out.append(fused(word, start: end, end: unkEnd)); unkEnd = -1 }
                out.append(id)
            }
            end = start
        }
        if unkEnd >= 0 { out.append(fused(word, start: 0, end: unkEnd)) }
        ids.append(contentsOf: out.reversed())
    }

    /// A fused run of unknown characters is looked up like any token, falling back to unk.
    private func fused(_ word: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int32 {
        trie.lookup(UnsafeBufferPointer(rebasing: word[start..<end])) ?? unkID
    }

    @inline(__always) static func utf8Length(_ lead: UInt8) -> Int {
        if lead < 0x80 { return 1 }
        if lead < 0xE0 { return 2 }
        if lead < 0xF0 { return 3 }
        return 4
    }
}
