/// Limits that bound what one request can make the service allocate or compute
/// (the security review in README.md lists them).
public struct ServiceLimits: Sendable, Equatable {
    /// Inputs (prompts) in one list-form request.
    public var maxInputs = 64
    /// Candidates for one input.
    public var maxCandidates = 32
    /// UTF-8 bytes of any one text (prompt, instruction, candidate, document).
    public var maxTextBytes = 64 * 1024
    /// Pair sequences (forward passes) one request may ask for.
    public var maxPairsPerRequest = 4096

    public init() {}
}
