/// Named tensors from one checkpoint file, whatever its format, converted to Float32 on request.
public final class Checkpoint: Sendable {
    public enum Format: String, Sendable { case safetensors, pytorch }

    public let path: String
    public let format: Format
    public let tensors: [String: TensorInfo]
    private let file: MappedFile

    /// Opens `path`, telling the format by its first bytes (a zip is PyTorch, else safetensors).
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.file = file
        self.path = path
        if file.count >= 4, file.le(UInt32.self, at: 0) == 0x0403_4b50 {
            format = .pytorch
            tensors = try TorchCheckpoint.read(file)
        } else if file.count >= 2, file.bytes(0..<2).elementsEqual([0x80, 0x02]) {
            throw CheckpointError.notACheckpoint(path: path, message: "legacy (pre-zip) PyTorch format is not supported; re-save it with torch.save")
        } else {
            format = .safetensors
            tensors = try SafeTensorsFile.read(file)
        }
    }

    public var names: [String] { tensors.keys.sorted() }

    /// The tensor as Float32 with the given shape. F32 contiguous aligned data is used in place
    /// (zero copy); other dtypes and strided tensors are converted into owned memory.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> Weight {
        guard let info = tensors[name] else { throw CheckpointError.missingTensor(path: path, tensor: name) }
        if let expected, expected != info.shape {
            throw CheckpointError.shapeMismatch(path: path, tensor: name, expected: expected, actual: info.shape)
        }
        guard info.dtype.isFloat else { throw CheckpointError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue) }
        // The readers checked that every element lies inside the storage and that there are no
        // more elements than the storage holds: `n` and each offset below are bounded by the file.
        let n = info.elementCount
        let src = info.storage.base + info.storageOffset * info.dtype.byteSize
        if info.dtype == .f32, info.isContiguous, Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
            return Weight(name: name, shape: info.shape, count: n, pointer: src.assumingMemoryBound(to: Float.self), owner: info.storage)
        }
        let owned = OwnedFloats(count: n)
        let dst = owned.pointer
        let strides = info.strides
        let shape = info.shape
        let contiguous = info.isContiguous
        var index = [Int](repeating: 0, count: shape.count)
        for i in 0..<n {
            var element = i
            if !contiguous {
                element = 0
                for d in 0..<shape.count { element += index[d] * strides[d] }
                var d = shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
            switch info.dtype {
            case .f32: dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: element * 4, as: UInt32.self)))
            case .f16: dst[i] = HalfConversion.f16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: element * 2, as: UInt16.self)))
            case .bf16: dst[i] = HalfConversion.bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: element * 2, as: UInt16.self)))
            default: break
            }
        }
        return Weight(name: name, shape: info.shape, count: n, pointer: UnsafePointer(dst), owner: owned)
    }
}
