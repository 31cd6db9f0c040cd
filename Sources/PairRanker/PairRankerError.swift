/// Errors of the PairRanker module: model directories, and requests the ranker cannot answer.
public enum PairRankerError: Error, CustomStringConvertible, Equatable {
    case modelDirectory(path: String, message: String)
    case config(path: String, message: String)
    case invalidSegment(message: String)
    case invalidArgument(field: String, message: String)
    /// An evaluator answered with the wrong number of logits (a bug, never the client's input).
    case evaluation(message: String)

    public var description: String {
        switch self {
        case let .modelDirectory(path, message): return "model directory \(path): \(message)"
        case let .config(path, message): return "\(path): \(message)"
        case let .invalidSegment(message): return message
        case let .invalidArgument(field, message): return "\(field): \(message)"
        case let .evaluation(message): return "evaluation: \(message)"
        }
    }
}
