/// Every way reading a checkpoint can fail. Messages name the file, the tensor, the expected and
/// the actual value. Everything taken from the file (names, shapes, strings) is rendered with a
/// bounded size, so a crafted file cannot make an error message large.
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
    /// A tensor whose description (shape, strides, offset, storage size) cannot be honoured.
    case badTensor(path: String, tensor: String, message: String)

    public var description: String {
        typealias R = BoundedRendering
        switch self {
        case let .fileNotFound(path): return "\(path): no such file"
        case let .io(path, message): return "\(path): \(R.clip(message, max: R.maxMessageBytes))"
        case let .truncated(path, what, needed, available):
            return "\(path): truncated: \(R.clip(what, max: R.maxMessageBytes)) needs \(needed) bytes, only \(available) available"
        case let .badHeader(path, message): return "\(path): bad header: \(R.clip(message, max: R.maxMessageBytes))"
        case let .offsetsOutOfBounds(path, tensor, start, end, limit):
            return "\(path): tensor '\(R.clip(tensor))' has data offsets [\(start), \(end)) outside the data section of \(limit) bytes"
        case let .sizeMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(R.clip(tensor))' has \(actual) bytes of data, expected \(expected) for its dtype and shape"
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor '\(R.clip(tensor))' has dtype \(R.clip(dtype)), expected one of F32, F16, BF16"
        case let .missingTensor(path, tensor): return "\(path): tensor '\(R.clip(tensor))' is missing"
        case let .shapeMismatch(path, tensor, expected, actual):
            return "\(path): tensor '\(R.clip(tensor))' has shape \(R.shape(actual)), expected \(R.shape(expected))"
        case let .badZip(path, message): return "\(path): not a valid zip archive: \(R.clip(message, max: R.maxMessageBytes))"
        case let .unsupportedCompression(path, entry, method):
            return "\(path): zip entry '\(R.clip(entry))' uses compression method \(method), expected 0 (stored) or 8 (deflate)"
        case let .corruptEntry(path, entry, message): return "\(path): zip entry '\(R.clip(entry))' is corrupt: \(R.clip(message, max: R.maxMessageBytes))"
        case let .unknownPickleOpcode(path, opcode, offset):
            return "\(path): unknown pickle opcode 0x\(String(opcode, radix: 16)) at byte \(offset)"
        case let .disallowedPickleGlobal(path, module, name):
            return "\(path): pickle refers to '\(R.clip(module)).\(R.clip(name))', which is not an allowed state-dict global"
        case let .badPickle(path, message): return "\(path): malformed pickle: \(R.clip(message, max: R.maxMessageBytes))"
        case let .notACheckpoint(path, message): return "\(path): \(R.clip(message, max: R.maxMessageBytes))"
        case let .badTensor(path, tensor, message): return "\(path): tensor '\(R.clip(tensor))' \(R.clip(message, max: R.maxMessageBytes))"
        }
    }
}

/// Renders values read from a file within a fixed size: long strings keep their start and say how
/// long they were, long shapes their first dimensions and how many there were.
enum BoundedRendering {
    static let maxStringBytes = 160
    static let maxMessageBytes = 600
    static let maxDimensions = 8

    static func clip(_ s: String, max: Int = maxStringBytes) -> String {
        let total = s.utf8.count
        guard total > max else { return s }
        var kept = String.UnicodeScalarView()
        var bytes = 0
        for u in s.unicodeScalars {
            let n = UTF8.width(u)
            if bytes + n > max { break }
            kept.append(u)
            bytes += n
        }
        return String(kept) + "… (\(total) bytes)"
    }

    static func shape(_ dims: [Int]) -> String {
        guard dims.count > maxDimensions else { return "\(dims)" }
        return "[" + dims.prefix(maxDimensions).map(String.init).joined(separator: ", ") + ", … (\(dims.count) dimensions)]"
    }
}
