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
            let s = String(decoding: UnsafeRawBufferPointer(start: b.base, count: b.count), as: UTF8.self)
            guard s == "little" else {
                throw CheckpointError.notACheckpoint(path: path, message: "byte order '\(s)' is not supported, expected 'little'")
            }
        }
        let pklBytes = try archive.data(of: pkl)
        var reader = PickleReader(path: path, bytes: UnsafeRawBufferPointer(start: pklBytes.base, count: pklBytes.count))
        var root = try reader.read()
        // Unwrap the common {"state_dict": {...}} wrapper.
        if case let .dict(d) = root, let inner = d.items.first(where: { $0.0.asString == "state_dict" })?.1,
           case .dict = inner { root = inner }
        guard case let .dict(dict) = root else {
            throw CheckpointError.notACheckpoint(path: path, message: "pickle does not hold a state dict")
        }
        var storages: [String: ByteStorage] = [:]
        var out: [String: TensorInfo] = [:]
        for (k, v) in dict.items {
            guard let name = k.asString else { throw CheckpointError.badPickle(path: path, message: "state dict key is not a string") }
            guard case let .tensor(t) = v else { continue }  // non-tensor entries (e.g. metadata) are ignored
            let storage: ByteStorage
            if let s = storages[t.storageKey] { storage = s } else {
                let entryName = prefix + "data/" + t.storageKey
                guard let entry = archive.entries[entryName] else {
                    throw CheckpointError.corruptEntry(path: path, entry: entryName, message: "storage of tensor '\(name)' is missing")
                }
                storage = try archive.data(of: entry)
                storages[t.storageKey] = storage
            }
            let needed = t.storageNumel * t.dtype.byteSize
            guard storage.count >= needed else {
                throw CheckpointError.sizeMismatch(path: path, tensor: name, expectedBytes: needed, actualBytes: storage.count)
            }
            // The last element any index can reach must lie inside the storage.
            if !t.shape.contains(0) {
                var last = t.offset
                for (d, s) in zip(t.shape, t.strides) {
                    guard s >= 0 else { throw CheckpointError.badPickle(path: path, message: "tensor '\(name)' has a negative stride") }
                    last += (d - 1) * s
                }
                guard last < t.storageNumel else {
                    throw CheckpointError.offsetsOutOfBounds(path: path, tensor: name, start: t.offset * t.dtype.byteSize,
                                                             end: (last + 1) * t.dtype.byteSize, limit: needed)
                }
            }
            out[name] = TensorInfo(name: name, dtype: t.dtype, shape: t.shape, strides: t.strides,
                                   storageOffset: t.offset, storage: storage)
        }
        return out
    }
}
