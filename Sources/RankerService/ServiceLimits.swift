/// Limits that bound what one request can make the service allocate or compute
/// (the security review in README.md lists them).
public struct ServiceLimits: Sendable, Equatable {
    /// Inputs (prompts) in one list-form request.
    public var maxInputs = 64
    /// Candidates for one input.
    public var maxCandidates = 32
    /// UTF-8 bytes of any one text (prompt, instruction, candidate, document).
    public var maxTextBytes = 64 * 1024
    /// Pair sequences (forward passes) one request may ask for: 32,768 admits the sort of 1,000
    /// documents (`RankerService.sortBudget(1000, top: nil)` = 29,632).
    public var maxPairsPerRequest = 32768
    /// Documents in one rerank request, and candidates for one input of `/rank` mode `sort`
    /// (Cohere's own ceiling). Checked on the count, before any text is tokenized.
    public var maxDocuments = 1000
    /// Rerank requests of up to this many documents use the full comparison matrix (N·(N−1)
    /// forwards, exactly the reference's scores); above it, the sort (`Ranking.sorted`).
    public var rerankFullUpTo = 32

    public init() {}
}
