import Foundation

/// safetensors: an 8-byte little-endian header length, a JSON header of
/// `name -> {dtype, shape, data_offsets: [begin, end]}` (offsets relative to the data section),
/// then the data. Every number in the header is checked before any byte is read.
enum SafeTensorsFile {
    static let maxHeaderBytes = 100 << 20

    static func read(_ file: MappedFile) throws -> [String: TensorInfo] {
        let path = file.path
        guard file.count >= 8 else {
            throw CheckpointError.truncated(path: path, what: "safetensors header length", needed: 8, available: file.count)
        }
        let headerLength = file.le(UInt64.self, at: 0)
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw CheckpointError.badHeader(path: path, message: "header length \(headerLength) exceeds \(maxHeaderBytes) bytes")
        }
        let n = Int(headerLength)
        guard n <= file.count - 8 else {
            throw CheckpointError.truncated(path: path, what: "safetensors header", needed: n, available: file.count - 8)
        }
        let header: [String: Entry]
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(file.bytes(8..<(8 + n)))).entries
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError.badHeader(path: path, message: "header is not a JSON object of tensor entries "
                                            + "{dtype, shape, data_offsets} (\(Self.describe(error)))")
        }
        let dataStart = 8 + n
        let dataCount = file.count - dataStart
        let storage = ByteStorage(owner: file, base: file.base + dataStart, count: dataCount)
        var out: [String: TensorInfo] = [:]
        var ranges: [(begin: Int, end: Int, name: String)] = []
        for (name, entry) in header {
            let shape = entry.shape, offsets = entry.dataOffsets
            guard offsets.count == 2 else {
                throw CheckpointError.badHeader(path: path, message: "entry '\(BoundedRendering.clip(name))' has \(offsets.count) data_offsets, expected 2")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else {
                throw CheckpointError.badHeader(path: path, message: "entry '\(BoundedRendering.clip(name))' has a negative dimension in shape \(BoundedRendering.shape(shape))")
            }
            let dtypeName = entry.dtype
            guard let dtype = DType(rawValue: dtypeName) else {
                throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: dtypeName)
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, end >= begin, end <= dataCount else {
                throw CheckpointError.offsetsOutOfBounds(path: path, tensor: name, start: begin, end: end, limit: dataCount)
            }
            guard let elements = TensorInfo.elementCount(of: shape) else {
                throw CheckpointError.badTensor(path: path, tensor: name, message: "has shape \(BoundedRendering.shape(shape)): "
                                                + "too many elements (the product of its dimensions overflows)")
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else {
                throw CheckpointError.badTensor(path: path, tensor: name, message: "has shape \(BoundedRendering.shape(shape)): "
                                                + "too many elements (\(elements) of \(dtype.byteSize) bytes overflow)")
            }
            guard bytes == end - begin else {
                throw CheckpointError.sizeMismatch(path: path, tensor: name, expectedBytes: bytes, actualBytes: end - begin)
            }
            if begin < end { ranges.append((begin, end, name)) }
            out[name] = TensorInfo(name: name, dtype: dtype, shape: shape, strides: TensorInfo.rowMajorStrides(shape),
                                   storageOffset: 0, elementCount: elements,
                                   storage: ByteStorage(owner: storage, base: storage.base + begin, count: end - begin))
        }
        // Tensors must not share bytes (the format forbids it; a reader that allowed it would hand
        // out aliased weights).
        ranges.sort { $0.begin < $1.begin }
        for (previous, next) in zip(ranges, ranges.dropFirst()) where next.begin < previous.end {
            throw CheckpointError.badHeader(path: path, message: "tensors '\(BoundedRendering.clip(previous.name))' [\(previous.begin), \(previous.end)) "
                                            + "and '\(BoundedRendering.clip(next.name))' [\(next.begin), \(next.end)) overlap")
        }
        return out
    }

    struct Entry: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]
        enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }
    }

    /// The header object; `__metadata__` (string to string) is skipped.
    struct Header: Decodable {
        let entries: [String: Entry]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            var entries: [String: Entry] = [:]
            for key in c.allKeys where key.stringValue != "__metadata__" {
                entries[key.stringValue] = try c.decode(Entry.self, forKey: key)
            }
            self.entries = entries
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx),
             let DecodingError.keyNotFound(_, ctx), let DecodingError.dataCorrupted(ctx):
            let where_ = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            return where_.isEmpty ? ctx.debugDescription : "at \(where_): \(ctx.debugDescription)"
        default: return "\(error)"
        }
    }
}
