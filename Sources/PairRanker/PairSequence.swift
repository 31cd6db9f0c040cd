/// One forward pass of the pair model: `[CLS] <|source|> s… [SEP] [CLS] <|candidate1|> x… [SEP]
/// [CLS] <|candidate2|> y… [SEP]` and the rows pooled for the head.
public struct PairSequence: Hashable, Sendable {
    public let ids: [Int32]
    public let sourcePosition: Int
    public let leftPosition: Int
    public let rightPosition: Int

    public init(ids: [Int32], sourcePosition: Int, leftPosition: Int, rightPosition: Int) {
        self.ids = ids
        self.sourcePosition = sourcePosition
        self.leftPosition = leftPosition
        self.rightPosition = rightPosition
    }
}

/// One input's segments after truncation, per input: the reference with a batch of one
/// (docs/model.md §1).
public struct Segments: Equatable, Sendable {
    /// `[CLS] <|source|> … [SEP]`, at most the source budget.
    public let source: [Int32]
    /// `[CLS] <|candidate|> … [SEP]` per candidate, at most the candidate budget.
    public let candidates: [[Int32]]
    /// The candidate budget this source leaves: C + (S − len(source)) / 2.
    public let candidateBudget: Int
    /// How many segments (source included) lost tokens.
    public let truncatedCount: Int
}
