import Tensors

/// The arithmetic the dense layers run in.
public enum Precision: Sendable, Equatable, CustomStringConvertible {
    /// float32 everywhere: the exact path, within 1e-4 of the reference. The dense layers run
    /// the model's `FloatKernel` (chosen at load): pairranker's AVX-512 kernel over weights packed once, or
    /// OpenBLAS SGEMM; attention's per-head products run on OpenBLAS.
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
    private let packed: FloatLinear?
    private let quantized: Int8Linear?, kernel: Int8Kernel?

    /// `weight` (out × in) and `bias` (out), kept alive by `owners`, used in place (fp32 on
    /// OpenBLAS), packed (fp32 on the AVX-512 kernel) or quantized (int8); packed or quantized,
    /// the float memory is not kept (`keepsSource` is false).
    init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int,
         owners: [AnyObject], precision: Precision, floatKernel: FloatKernel) {
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        switch precision {
        case .fp32 where floatKernel == .avx512:
            self.weight = nil
            self.bias = nil
            self.owners = []
            packed = FloatLinear(weight: weight, outFeatures: outFeatures, inFeatures: inFeatures, bias: bias)
            quantized = nil
            kernel = nil
        case .fp32:
            self.weight = weight
            self.bias = bias
            self.owners = owners
            packed = nil
            quantized = nil
            kernel = nil
        case let .int8(k):
            self.weight = nil
            self.bias = nil
            self.owners = []
            packed = nil
            quantized = Int8Linear(weight: weight, outFeatures: outFeatures, inFeatures: inFeatures, bias: bias)
            kernel = k
        }
    }

    /// Whether the layer reads the float weights it was made from (fp32 on OpenBLAS), so their
    /// memory must stay.
    var keepsSource: Bool { weight != nil }

    /// The fp32 kernel the layer runs (nil under int8).
    var floatKernel: FloatKernel? { packed != nil ? .avx512 : weight != nil ? .openblas : nil }

    /// Bytes of weights this layer holds in its precision (fp32: the float weight and bias).
    var weightBytes: Int { quantized?.byteCount ?? packed?.byteCount ?? (outFeatures * inFeatures + outFeatures) * 4 }

    /// Y (rows × channels.count, ldy) = X (rows × in, ldx) · W[channels]ᵀ + bias[channels].
    /// `channels` defaults to all; its lowerBound must be a multiple of 16 under int8.
    /// `rowCapacity` and `groups`: see `BLAS.linear` (OpenBLAS only: the packed fp32 and the
    /// int8 kernels' rows are independent of the batch by construction). Packed fp32 and int8
    /// pack or quantize X into the workspace's scratch first.
    func apply(_ x: UnsafePointer<Float>, rows: Int, ldx: Int? = nil, channels: Range<Int>? = nil,
               into y: UnsafeMutablePointer<Float>, ldy: Int? = nil, rowCapacity: Int, groups: [Range<Int>]?,
               ws: Workspace) {
        let channels = channels ?? 0..<outFeatures
        if let packed {
            ws.floatRows.pack(x, rows: rows, inFeatures: inFeatures, ldx: ldx)
            packed.apply(ws.floatRows, channels: channels, into: y, ldy: ldy)
            return
        }
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
