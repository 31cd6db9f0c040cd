import CGemm

/// Which GEMM the exact (fp32) path's dense layers run. Both are float32 with the same products;
/// they differ in summation order only (within the path's 1e-4 tolerance of the reference).
public enum FloatKernel: String, Sendable, CaseIterable {
    /// pairranker's own AVX-512 kernel over weights packed once at load (CGemm): no per-call
    /// weight packing, and every row's bits independent of the batch on every CPU.
    case avx512 = "avx512"
    /// OpenBLAS SGEMM on the checkpoint's weights as they are: CPUs without AVX-512.
    case openblas = "openblas"

    /// Whether this CPU (and its OS) can run the kernel.
    public var isSupported: Bool {
        switch self {
        case .avx512: pr_f32_supported() != 0
        case .openblas: true
        }
    }

    /// The fastest kernel this CPU runs.
    public static let best: FloatKernel = pr_f32_supported() != 0 ? .avx512 : .openblas

    /// The kernel a model loaded from now on uses (each layer keeps the kernel it was made
    /// with). Set only at start-up, before any model loads (the CLI's `--fp32-kernel`, tests
    /// that compare the two); never changed while a load runs.
    nonisolated(unsafe) public static var active: FloatKernel = best
}

/// Activations packed for `FloatLinear` (groups of 12 rows interleaved, k-major): one dense
/// layer's input at a time. Grows to the largest batch it has seen. Not thread-safe: one per forward.
public final class FloatRows: @unchecked Sendable {  // confined to the forward that owns it
    private(set) var buffer = FloatBuffer(count: 0)
    public private(set) var rows = 0, inFeatures = 0

    public init() {}

    /// Packs `rows` rows of x (k columns, row stride ldx), in parallel over row groups.
    public func pack(_ x: UnsafePointer<Float>, rows: Int, inFeatures k: Int, ldx: Int? = nil) {
        let ldx = ldx ?? k
        let need = Int(pr_f32_packed_rows_floats(Int32(rows), Int32(k)))
        if need > buffer.count { buffer = FloatBuffer(count: need, zeroed: false) }
        self.rows = rows
        inFeatures = k
        let groups = (rows + Int(PR_F32_ROWS) - 1) / Int(PR_F32_ROWS)
        let dst = SharedPointer(buffer.pointer), src = SharedPointer(x)
        // Groups per task: enough copying that it outweighs the hand-off.
        Parallel.forRanges(groups, minimumPerTask: max(1, 65_536 / max(k * Int(PR_F32_ROWS), 1))) { g in
            pr_f32_pack_rows(src.p, Int32(rows), Int32(k), Int32(ldx), dst.p, Int32(g.lowerBound), Int32(g.upperBound))
        }
    }
}

/// A torch Linear layer (out × in weight, bias) in float32 with its weights packed once for the
/// AVX-512 kernel. y = x · Wᵀ + bias, every output one FMA chain per 256 inputs in k order, the
/// chains' sums added in order, then the bias (CGemm.h): a row's bits depend on nothing but that row.
/// Immutable after init; `apply` may run from several threads at once with separate outputs.
public final class FloatLinear: @unchecked Sendable {  // immutable after init
    public let outFeatures: Int, inFeatures: Int
    private let packed: FloatBuffer
    private let bias: FloatBuffer?

    /// Bytes the packed layer holds.
    public var byteCount: Int { (packed.count + (bias?.count ?? 0)) * 4 }

    /// - Parameters:
    ///   - weight: (outFeatures, inFeatures) with row stride `ldw` (default inFeatures).
    ///   - bias: outFeatures values, or nil.
    /// Needs `FloatKernel.avx512.isSupported`.
    public init(weight: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int, ldw: Int? = nil,
                bias: UnsafePointer<Float>?) {
        precondition(n > 0 && k > 0 && n <= Int(Int32.max) - 32 && k <= Int(Int32.max), "fp32 layer shape out of range")
        precondition(FloatKernel.avx512.isSupported, "the packed fp32 kernel needs AVX-512")
        outFeatures = n
        inFeatures = k
        packed = FloatBuffer(count: Int(pr_f32_packed_floats(Int32(n), Int32(k))), zeroed: false)
        pr_f32_pack(weight, Int32(n), Int32(k), Int32(ldw ?? k), packed.pointer)
        if let bias {
            let b = FloatBuffer(count: n, zeroed: false)
            b.pointer.update(from: bias, count: n)
            self.bias = b
        } else {
            self.bias = nil
        }
    }

    /// y[r][o − channels.lowerBound] (row stride ldy, default channels.count) for the rows `x`
    /// holds and the output channels `channels` (default all), in parallel over channel panels.
    public func apply(_ x: FloatRows, channels: Range<Int>? = nil, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil) {
        precondition(x.inFeatures == inFeatures, "activations were packed for another layer width")
        let channels = channels ?? 0..<outFeatures
        precondition(channels.lowerBound >= 0 && channels.upperBound <= outFeatures, "channel range out of the layer")
        let rows = x.rows
        guard rows > 0, !channels.isEmpty else { return }
        let ldy = ldy ?? channels.count
        let panel = Int(PR_F32_PANEL)
        let firstPanel = channels.lowerBound / panel, endPanel = (channels.upperBound + panel - 1) / panel
        let xp = SharedPointer(x.buffer.pointer), w = SharedPointer(packed.pointer)
        let b = bias.map { SharedPointer($0.pointer) }, out = SharedPointer(y)
        let k = inFeatures, lo = channels.lowerBound, hi = channels.upperBound
        // Panels per task: enough multiply-adds (rows × 32 × k each) to outweigh the hand-off.
        let work = rows * panel * k
        Parallel.forRanges(endPanel - firstPanel, minimumPerTask: max(1, 262_144 / max(work, 1))) { r in
            let a = max(lo, (firstPanel + r.lowerBound) * panel), z = min(hi, (firstPanel + r.upperBound) * panel)
            guard a < z else { return }
            pr_f32_gemm(xp.p, Int32(rows), Int32(k), w.p, b?.p, Int32(a), Int32(z), out.p + (a - lo), Int32(ldy))
        }
    }
}

/// The packed fp32 kernel's primitives for operands made at run time (attention's products): one
/// thread each, no allocation. The arithmetic is `FloatLinear`'s (CGemm.h); the rows are read in place and only the
/// right-hand side is packed. Callers check `FloatKernel.avx512.isSupported`; panels are 64-byte aligned.
public enum PackedGEMM {
    public static var panel: Int { Int(PR_F32_PANEL) }

    /// Floats of n channels of k inputs packed in panels.
    public static func panelFloats(channels n: Int, k: Int) -> Int { Int(pr_f32_packed_floats(Int32(n), Int32(k))) }

    /// w (n × k, row stride ldw: channel-major) as panels.
    public static func packPanels(_ w: UnsafePointer<Float>, channels n: Int, k: Int, ldw: Int, into p: UnsafeMutablePointer<Float>) {
        pr_f32_pack(w, Int32(n), Int32(k), Int32(ldw), p)
    }

    /// wt (k × n, row stride ldwt: input-major) as the panels of its transpose.
    public static func packPanels(kMajor wt: UnsafePointer<Float>, channels n: Int, k: Int, ldwt: Int,
                                  into p: UnsafeMutablePointer<Float>) {
        pr_f32_pack_kmajor(wt, Int32(n), Int32(k), Int32(ldwt), p)
    }

    /// y[r][o − lo] = Σ_i x[r][i]·w[o][i] for rows 0..<rows of x (row r at x + r·ldx, read in
    /// place) and channels lo..<hi of the panels, row stride ldy.
    public static func gemm(_ x: UnsafePointer<Float>, rows: Int, ldx: Int, k: Int, panels: UnsafePointer<Float>,
                            channels: Range<Int>, into y: UnsafeMutablePointer<Float>, ldy: Int) {
        pr_f32_gemm_rm(x, Int32(rows), Int32(ldx), Int32(k), panels, Int32(channels.lowerBound), Int32(channels.upperBound), y, Int32(ldy))
    }

    /// One head's scores, in place: the positional terms gathered in (S[i, j] += c2p[i, δ − lo] +
    /// p2cᵀ[δ − lo, j], δ = relIndex[i − j]), then the softmax of each row (CGemm.h).
    public static func positionSoftmax(_ scores: UnsafeMutablePointer<Float>, length n: Int, c2p: UnsafePointer<Float>, w: Int,
                                       p2cT: UnsafePointer<Float>, relIndex: UnsafePointer<Int32>, lo: Int) {
        pr_f32_position_softmax(scores, Int32(n), c2p, Int32(w), p2cT, relIndex, Int32(lo))
    }
}
