/// Errors of the Tokenizer module; messages name the file and the problem.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFiles(directory: String)
    case badFile(path: String, message: String)
    case unsupported(path: String, message: String)

    public var description: String {
        switch self {
        case let .missingFiles(dir): return "\(dir): no tokenizer.json or spm.model"
        case let .badFile(path, message): return "\(path): \(message)"
        case let .unsupported(path, message): return "\(path): \(message)"
        }
    }
}
