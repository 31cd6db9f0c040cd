/// Builds segments and pair sequences from token ids exactly as llm-blender's
/// `CrossCompareCollator` + `CrossCompareReranker._forward` do for one input at a time.
public struct PairAssembler: Sendable {
    public let tokens: SpecialTokens
    public let sourceMaxLength: Int
    public let candidateMaxLength: Int

    public init(tokens: SpecialTokens, sourceMaxLength: Int, candidateMaxLength: Int) {
        self.tokens = tokens
        self.sourceMaxLength = sourceMaxLength
        self.candidateMaxLength = candidateMaxLength
    }

    /// HF `truncation=True` on one sequence, right side: keep `[CLS]`, the first `maxLength − 2`
    /// content tokens, then `[SEP]`.
    public func truncate(_ ids: [Int32], maxLength: Int) -> (ids: [Int32], truncated: Bool) {
        guard ids.count > maxLength else { return (ids, false) }
        return (Array(ids[0..<(maxLength - 1)]) + [tokens.sep], true)
    }

    /// - Parameters:
    ///   - source: untruncated `[CLS] <|source|> … [SEP]` ids (tokenizer output with special tokens).
    ///   - candidates: untruncated `[CLS] <|candidate|> … [SEP]` ids.
    public func segments(source: [Int32], candidates: [[Int32]]) throws -> Segments {
        try check(source, prefix: tokens.source, what: "source")
        for (i, c) in candidates.enumerated() { try check(c, prefix: tokens.candidate, what: "candidate \(i)") }
        let (src, srcCut) = truncate(source, maxLength: sourceMaxLength)
        // The budget grows by half of what the source leaves unused (collator.py, batch of one).
        let budget = candidateMaxLength + (sourceMaxLength - src.count) / 2
        var cut = srcCut ? 1 : 0
        let cands = candidates.map { c -> [Int32] in
            let (ids, t) = truncate(c, maxLength: budget)
            if t { cut += 1 }
            return ids
        }
        return Segments(source: src, candidates: cands, candidateBudget: budget, truncatedCount: cut)
    }

    /// The sequence with `left` in slot 1 and `right` in slot 2. Every `<|candidate|>` in the left
    /// segment becomes `<|candidate1|>` and in the right `<|candidate2|>`, as the reference does.
    ///
    /// NOTE: the reference pools wherever the marker ids occur (`torch.where`), so a text that
    /// itself contains a marker string yields extra rows and crashes it. We pool the structural
    /// positions we placed the markers at (index 1 of each segment), so such texts still rank;
    /// their marker tokens stay in the sequence as ordinary tokens.
    public func pair(source: [Int32], left: [Int32], right: [Int32]) -> PairSequence {
        var ids = source
        ids.reserveCapacity(source.count + left.count + right.count)
        ids += left.map { $0 == tokens.candidate ? tokens.candidate1 : $0 }
        ids += right.map { $0 == tokens.candidate ? tokens.candidate2 : $0 }
        return PairSequence(ids: ids, sourcePosition: 1, leftPosition: source.count + 1,
                            rightPosition: source.count + left.count + 1)
    }

    private func check(_ ids: [Int32], prefix: Int32, what: String) throws {
        guard ids.count >= 3, ids[0] == tokens.cls, ids[1] == prefix, ids.last == tokens.sep else {
            throw PairRankerError.invalidSegment(
                message: "\(what) segment must be [CLS] \(prefix == tokens.source ? SpecialTokens.sourcePrefix : SpecialTokens.candidatePrefix) … [SEP] "
                    + "(ids \(tokens.cls), \(prefix), …, \(tokens.sep)); got \(ids.prefix(3).map(String.init).joined(separator: ", "))…")
        }
    }
}
