/// Errors of the DeBERTa module: configuration, and inputs the model cannot take.
public enum DebertaError: Error, CustomStringConvertible, Equatable {
    case config(path: String, message: String)
    case tokenOutOfRange(id: Int, vocabSize: Int)
    case sequenceTooLong(length: Int, limit: Int)
    case rowOutOfRange(row: Int, tokens: Int)
    case int8Unsupported
    case unknownPrecision(String)

    public var description: String {
        switch self {
        case let .config(path, message): return "\(path): \(message)"
        case let .tokenOutOfRange(id, vocabSize): return "token id \(id) is outside the vocabulary of \(vocabSize) rows"
        case let .sequenceTooLong(length, limit): return "sequence of \(length) tokens exceeds the limit of \(limit)"
        case let .rowOutOfRange(row, tokens): return "row \(row) to keep is outside the batch of \(tokens) tokens"
        case .int8Unsupported:
            return "precision int8 needs a CPU with AVX512-VNNI or AVX-VNNI, and this one has neither; use --precision fp32"
        case let .unknownPrecision(name): return "unknown precision '\(name)'; expected fp32 or int8"
        }
    }
}
