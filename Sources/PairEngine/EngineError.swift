/// Why the engine refused or gave up on a request. The API layer (RankerService) maps each case
/// to its HTTP status; `description` is the message a client reads.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Admitting the request would pass `Config.maxQueuePairs`; nothing was computed.
    case overloaded(admitted: Int, capacity: Int, requested: Int)
    /// The request's deadline passed with `remaining` of its `total` pairs not yet computed.
    case deadlineExceeded(remaining: Int, total: Int)
    /// The request's client went away.
    case cancelled
    /// The scorer broke its contract: not one logit per pair.
    case scorerMismatch(returned: Int, expected: Int)

    public var description: String {
        switch self {
        case let .overloaded(admitted, capacity, requested):
            return "the server is at capacity (\(admitted) of \(capacity) pairs admitted; "
                + "this request needs \(requested)); nothing was computed, retry later"
        case let .deadlineExceeded(remaining, total):
            return "the request's deadline passed before its pairs were computed (\(remaining) of \(total) left)"
        case .cancelled:
            return "the client went away"
        case let .scorerMismatch(returned, expected):
            return "the scorer returned \(returned) logits for \(expected) pairs"
        }
    }
}
