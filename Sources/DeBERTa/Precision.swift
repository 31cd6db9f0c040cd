import Tensors

/// The arithmetic the dense layers run in.
public enum Precision: Sendable, Equatable, CustomStringConvertible {
    /// float32 everywhere (OpenBLAS SGEMM): the exact path, within 1e-4 of the reference.
    case fp32
    /// The four dense layers of every encoder block as int8 GEMMs on the given kernel: weights
    /// quantized per output channel at load, activations per token at run time. Attention
    /// scores, softmax, LayerNorm, GELU, the relative-position projections and the pair head
    /// stay float32. Approximate: opt-in, and measured against fp32 (docs/model.md).
    case int8(Int8Kernel)

    /// "fp32" or "int8": the names the CLI, /info and the logs use.
    public var name: String {
        switch self {
        case .fp32: "fp32"
        case .int8: "int8"
        }
    }

    public var description: String {
        switch self {
        case .fp32: "fp32"
        case let .int8(kernel): "int8 (\(kernel.rawValue))"
        }
    }

    /// The precision named `name` ("fp32", "int8"), int8 on the fastest kernel this CPU has.
    /// Throws `DebertaError.int8Unsupported` for int8 on a CPU without VNNI.
    public static func named(_ name: String) throws -> Precision {
        switch name {
        case "fp32": return .fp32
        case "int8":
            guard let kernel = Int8Kernel.best else { throw DebertaError.int8Unsupported }
            return .int8(kernel)
        default: throw DebertaError.unknownPrecision(name)
        }
    }

    /// The names `named(_:)` accepts.
    public static let names = ["fp32", "int8"]
}

/// One torch Linear layer (out × in weight, bias) in the model's precision.
struct Dense: @unchecked Sendable {  // immutable after init; the pointers are kept alive by `owners`
    let outFeatures: Int, inFeatures: Int
    private let weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?
    private let owners: [AnyObject]
    private let quantized: Int8Linear?, kernel: Int8Kernel?

    /// `weight` (out × in) and `bias` (out), kept alive by `owners`, used in place (fp32) or
    /// quantized (int8; the float memory is not kept).
    init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int,
         owners: [AnyObject], precision: Precision) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        switch precision {
        case .fp32:
            self.weight = weight
            self.bias = bias
            self.owners = owners
            quantized = nil
            kernel = nil
        case let .int8(k):
            self.weight = nil
            self.bias = nil
            self.owners = []
            quantized = Int8Linear(weight: weight, outFeatures: outFeatures, inFeatures: inFeatures, bias: bias)
            kernel = k
        }
    }

    /// Bytes of weights this layer holds in its precision (fp32: the float weight and bias).
    var weightBytes: Int { quantized?.byteCount ?? (outFeatures * inFeatures + outFeatures) * 4 }

    /// Y (rows × channels.count, ldy) = X (rows × in, ldx) · W[channels]ᵀ + bias[channels].
    /// `channels` defaults to all; its lowerBound must be a multiple of 16 under int8.
    /// `rowCapacity` and `groups`: see `BLAS.linear` (fp32 only: int8 rows are independent of
    /// the batch by construction). int8 quantizes X into the workspace's scratch first.
    func apply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, channels: Range<Int>? = nil,
               into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, rowCapacity: Int, groups: [Range<Int>]?,
               ws: Workspace) {
        let channels = channels ?? 0..<outFeatures
        if let quantized, let kernel {
            ws.quantized.quantize(x, rows: rows, inFeatures: inFeatures, ldx: ldx, kernel: kernel)
            quantized.apply(ws.quantized, channels: channels, into: y, ldy: ldy, kernel: kernel)
            return
        }
        guard let weight, let bias else { return }
        BLAS.linear(x, rows: rows, inFeatures: inFeatures, ldx: ldx, weight: weight + channels.lowerBound * inFeatures,
                    bias: bias + channels.lowerBound, outFeatures: channels.count, into: y, ldy: ldy,
                    rowCapacity: rowCapacity, groups: groups)
    }
}
