/// Every way reading a checkpoint can fail. Messages name the file, the tensor, the expected and
/// the actual value (design.md §1).
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case io(path: String, message: String)
    case truncated(path: String, what: String, needed: Int, available: Int)
    case badHeader(path: String, message: String)
    case offsetsOutOfBounds(path: String, tensor: String, start: Int, end: Int, limit: Int)
    case sizeMismatch(path: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case missingTensor(path: String, tensor: String)
    case shapeMismatch(path: String, tensor: String, expected: [Int], actual: [Int])
    case badZip(path: String, message: String)
    case unsupportedCompression(path: String, entry: String, method: Int)
    case corruptEntry(path: String, entry: String, message: String)
    case unknownPickleOpcode(path: String, opcode: UInt8, offset: Int)
    case disallowedPickleGlobal(path: String, module: String, name: String)
    case badPickle(path: String, message: String)
    case notACheckpoint(path: String, message: String)

    public var description: String {
        switch self {
        case let .fileNotFound(path): return "\(path): no such file"
        case let .io(path, message): return "\(path): \(message)"
        case let .truncated(path, what, needed, available):
            return "\(path): truncated: \(what) needs \(needed) bytes, only \(available) available"
        case let .badHeader(path, message): return "\(path): bad header: \(message)"
        case let .offsetsOutOfBounds(path, tensor, start, end, limit):
            return "\(path): tensor '\(tensor)' has data offsets [\(start), \(end)) outside the data section of \(limit) bytes"
        case let .sizeMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(tensor)' has \(actual) bytes of data, expected \(expected) for its dtype and shape"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(tensor)' has dtype \(dtype), expected one of F32, F16, BF16"
        case let .missingTensor(path, tensor): return "\(path): tensor '\(tensor)' is missing"
        case let .shapeMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(tensor)' has shape \(actual), expected \(expected)"
        case let .badZip(path, message): return "\(path): not a valid zip archive: \(message)"
        case let .unsupportedCompression(path, entry, method):
            return "\(path): zip entry '\(entry)' uses compression method \(method), expected 0 (stored) or 8 (deflate)"
        case let .corruptEntry(path, entry, message): return "\(path): zip entry '\(entry)' is corrupt: \(message)"
        case let .unknownPickleOpcode(path, opcode, offset):
            return "\(path): unknown pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset)"
        case let .disallowedPickleGlobal(path, module, name):
            return "\(path): pickle refers to '\(module).\(name)', which is not an allowed state-dict global"
        case let .badPickle(path, message): return "\(path): malformed pickle: \(message)"
        case let .notACheckpoint(path, message): return "\(path): \(message)"
        }
    }
}
