/// candle's VarBuilder with llama.cpp's strictness: a prefix scope over a checkpoint, a shape check
/// on every fetch, and a record of which keys were used so the rest can be reported once.
/// Not Sendable: a model loads on one thread, and the record of used keys takes no lock.
public final class WeightLoader {
    final class Used { var keys: Set<String> = [] }

    public let checkpoint: Checkpoint
    public let prefix: String
    private let used: Used

    public init(_ checkpoint: Checkpoint, prefix: String = "") {
        self.checkpoint = checkpoint
        self.prefix = prefix
        used = Used()
    }

    private init(_ checkpoint: Checkpoint, prefix: String, used: Used) {
        self.checkpoint = checkpoint
        self.prefix = prefix
        self.used = used
    }

    /// A loader whose keys are `prefix + "." + name`.
    public func scoped(_ name: String) -> WeightLoader {
        WeightLoader(checkpoint, prefix: key(name), used: used)
    }

    public func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }

    public func contains(_ name: String) -> Bool { checkpoint.tensors[key(name)] != nil }

    /// The Float32 tensor `prefix.name`, which must have exactly `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Weight {
        let k = key(name)
        let w = try checkpoint.floats(k, shape: shape)
        used.keys.insert(k)
        return w
    }

    /// The shape stored for `prefix.name`, for reading sizes before fetching.
    public func shape(_ name: String) throws -> [Int] {
        guard let info = checkpoint.tensors[key(name)] else {
            throw CheckpointError.missingTensor(path: checkpoint.path, tensor: key(name))
        }
        return info.shape
    }

    /// Keys of the checkpoint that no fetch used, sorted.
    public var unusedKeys: [String] { checkpoint.tensors.keys.filter { !used.keys.contains($0) }.sorted() }
}
