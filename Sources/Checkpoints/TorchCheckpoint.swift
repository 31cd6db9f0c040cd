/// PyTorch's zip checkpoint (`torch.save` since 1.6): `<prefix>/data.pkl` holds the pickled state
/// dict, `<prefix>/data/<key>` the raw little-endian storages.
enum TorchCheckpoint {
    static func read(_ file: MappedFile) throws -> [String: TensorInfo] {
        let path = file.path
        let archive = try ZipArchive(file: file)
        guard let pklName = archive.order.first(where: { $0 == "data.pkl" || $0.hasSuffix("/data.pkl") }),
              let pkl = archive.entries[pklName]
        else { throw CheckpointError.notACheckpoint(path: path, message: "zip archive has no data.pkl: not a PyTorch checkpoint") }
        let prefix = String(pklName.dropLast("data.pkl".count))
        if let order = archive.entries[prefix + "byteorder"] {
            let b = try archive.data(of: order)
            let s = String(decoding: UnsafeRawBufferPointer(start: b.base, count: min(b.count, 64)), as: UTF8.self)
            guard s == "little", b.count == 6 else {
                throw CheckpointError.notACheckpoint(path: path, message: "byte order '\(BoundedRendering.clip(s, max: 40))' "
                                                     + "(\(b.count) bytes) is not supported, expected 'little'")
            }
        }
        let pklBytes = try archive.data(of: pkl)
        var reader = PickleReader(path: path, bytes: UnsafeRawBufferPointer(start: pklBytes.base, count: pklBytes.count))
        var root = try reader.read()
        let heap = reader.heap
        // Unwrap the common {"state_dict": {...}} wrapper.
        if case let .dict(d) = root, let inner = heap.dicts[d].first(where: { $0.0.asString == "state_dict" })?.1,
           case .dict = inner { root = inner }
        guard case let .dict(dict) = root else {
            throw CheckpointError.notACheckpoint(path: path, message: "pickle does not hold a state dict (it holds \(heap.kind(root)))")
        }
        var storages: [String: ByteStorage] = [:]
        var out: [String: TensorInfo] = [:]
        for (k, v) in heap.dicts[dict] {
            guard let name = k.asString else {
                throw CheckpointError.badPickle(path: path, message: "state dict key is \(heap.kind(k)) (\(heap.describe(k))), not a string")
            }
            guard case let .tensor(ti) = v else { continue }  // non-tensor entries (e.g. metadata) are ignored
            let t = heap.tensors[ti]
            let storage: ByteStorage
            if let s = storages[t.storageKey] { storage = s } else {
                let entryName = prefix + "data/" + t.storageKey
                guard let entry = archive.entries[entryName] else {
                    throw CheckpointError.corruptEntry(path: path, entry: entryName, message: "storage of tensor '\(BoundedRendering.clip(name))' is missing")
                }
                storage = try archive.data(of: entry)
                storages[t.storageKey] = storage
            }
            out[name] = try tensorInfo(name, t, storage, path: path)
        }
        return out
    }

    /// Checks a tensor's description against its storage with checked arithmetic: the storage's
    /// size in bytes, every index the shape and strides can reach, and the element count, which may
    /// not exceed the storage's (a state dict has no use for overlapping views, and a stride of 0
    /// would otherwise let a few bytes declare terabytes).
    static func tensorInfo(_ name: String, _ t: TorchTensorRef, _ storage: ByteStorage, path: String) throws -> TensorInfo {
        let (needed, overflow) = t.storageNumel.multipliedReportingOverflow(by: t.dtype.byteSize)
        guard !overflow else {
            throw CheckpointError.badTensor(path: path, tensor: name, message: "has a storage of \(t.storageNumel) \(t.dtype.rawValue) "
                                            + "elements: more bytes than this machine can address")
        }
        guard storage.count >= needed else {
            throw CheckpointError.sizeMismatch(path: path, tensor: name, expectedBytes: needed, actualBytes: storage.count)
        }
        guard let elements = TensorInfo.elementCount(of: t.shape) else {
            throw CheckpointError.badTensor(path: path, tensor: name, message: "has shape \(BoundedRendering.shape(t.shape)): "
                                            + "too many elements (the product of its dimensions overflows)")
        }
        guard elements <= t.storageNumel else {
            throw CheckpointError.badTensor(path: path, tensor: name, message: "has \(elements) elements (shape \(BoundedRendering.shape(t.shape)), "
                                            + "strides \(BoundedRendering.shape(t.strides))) but its storage holds \(t.storageNumel): "
                                            + "overlapping views are not supported")
        }
        if elements > 0 {
            // The last element any index can reach must lie inside the storage.
            var last = t.offset
            for (d, s) in zip(t.shape, t.strides) {
                guard s >= 0 else { throw CheckpointError.badTensor(path: path, tensor: name, message: "has a negative stride \(s)") }
                let (step, o1) = (d - 1).multipliedReportingOverflow(by: s)
                let (sum, o2) = last.addingReportingOverflow(step)
                guard !o1, !o2 else {
                    throw CheckpointError.badTensor(path: path, tensor: name, message: "has offset \(t.offset) and strides "
                                                    + "\(BoundedRendering.shape(t.strides)) that reach past any storage")
                }
                last = sum
            }
            guard last < t.storageNumel else {
                throw CheckpointError.offsetsOutOfBounds(path: path, tensor: name, start: bytes(t.offset, t.dtype),
                                                         end: bytes(last, t.dtype, plusOne: true), limit: needed)
            }
        } else if t.offset > t.storageNumel {
            throw CheckpointError.offsetsOutOfBounds(path: path, tensor: name, start: bytes(t.offset, t.dtype),
                                                     end: bytes(t.offset, t.dtype), limit: needed)
        }
        return TensorInfo(name: name, dtype: t.dtype, shape: t.shape, strides: t.strides, storageOffset: t.offset,
                          elementCount: elements, storage: storage)
    }

    /// The byte offset of element `i` (or of its end), saturating at Int.max, for messages.
    private static func bytes(_ i: Int, _ dtype: DType, plusOne: Bool = false) -> Int {
        let (j, o1) = i.addingReportingOverflow(plusOne ? 1 : 0)
        let (b, o2) = j.multipliedReportingOverflow(by: dtype.byteSize)
        return o1 || o2 ? Int.max : b
    }
}
