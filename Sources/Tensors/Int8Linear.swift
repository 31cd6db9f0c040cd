import CInt8

/// Which integer GEMM kernel runs (CInt8). The int8 path refuses to start without one.
public enum Int8Kernel: String, Sendable, CaseIterable {
    /// 512-bit VPDPBUSD (AVX512-VNNI: Intel Cascade Lake and later Xeons, AMD Zen 4 and later).
    case avx512vnni = "avx512-vnni"
    /// 256-bit VPDPBUSD, VEX encoding (AVX-VNNI: Intel Alder Lake and later, without AVX-512).
    case avxvnni = "avx-vnni"
    /// The 256-bit kernel with EVEX encodings, so an AVX-512 machine can test that code.
    case avx512vnniYMM = "avx512-vnni-ymm"
    /// AMX-INT8 tile multiplies (TDPBUSD: Intel Sapphire Rapids and later Xeons), the 512-bit
    /// kernel for layer widths that are not a multiple of 64. The same integer sums as VPDPBUSD,
    /// so the same output bits as `avx512vnni`.
    case amx = "amx"

    var isa: Int32 {
        switch self {
        case .avx512vnni: Int32(PR_INT8_AVX512VNNI)
        case .avxvnni: Int32(PR_INT8_AVXVNNI)
        case .avx512vnniYMM: Int32(PR_INT8_AVX512VNNI_YMM)
        case .amx: Int32(PR_INT8_AMX)
        }
    }

    /// Whether this CPU (and its OS) can run the kernel.
    public var isSupported: Bool { pr_int8_isa_supported(isa) != 0 }

    /// The fastest kernel this CPU runs, or nil when it has neither AVX512-VNNI nor AVX-VNNI.
    public static let best: Int8Kernel? = {
        switch Int(pr_int8_isa()) {
        case Int(PR_INT8_AMX): .amx
        case Int(PR_INT8_AVX512VNNI): .avx512vnni
        case Int(PR_INT8_AVXVNNI): .avxvnni
        default: nil
        }
    }()
}

/// Activations quantized per row for `Int8Linear`: u8 with a zero point and a float scale per row
/// (the row's range, widened to hold 0, in 255 steps). Grows to the largest batch it has seen. Not thread-safe: one per forward.
public final class Int8Activations: @unchecked Sendable {  // confined to the forward that owns it
    private(set) var bytes: UnsafeMutableRawPointer?
    private(set) var scales = FloatBuffer(count: 0)
    private(set) var zeros: UnsafeMutablePointer<Int32> = .allocate(capacity: 1)
    private var zeroCapacity = 1
    private var capacity = 0
    /// Row stride of the quantized rows (round_up(k, 4)) and the rows quantized by the last call.
    public private(set) var ldq = 0, rows = 0, inFeatures = 0

    public init() {}

    deinit {
        bytes?.deallocate()
        zeros.deallocate()
    }

    /// Quantizes `rows` rows of x (k columns, row stride ldx), in parallel over rows.
    public func quantize(_ x: UnsafePointer<Float>, rows: Int, inFeatures k: Int, ldx: Int? = nil, kernel: Int8Kernel) {
        let ldx = ldx ?? k
        let ldq = (k + 3) / 4 * 4
        let padded = (rows + Int(PR_INT8_ROW_MULTIPLE) - 1) / Int(PR_INT8_ROW_MULTIPLE) * Int(PR_INT8_ROW_MULTIPLE)
        let need = padded * ldq
        if need > capacity || scales.count < padded {
            bytes?.deallocate()
            let grown = max(need, capacity)
            bytes = .allocate(byteCount: max(grown, 64), alignment: 64)
            capacity = grown
            scales = FloatBuffer(count: max(padded, scales.count))
        }
        if zeroCapacity < padded {
            zeros.deallocate()
            zeros = .allocate(capacity: padded)
            zeroCapacity = padded
        }
        self.ldq = ldq
        self.rows = rows
        self.inFeatures = k
        let q = SharedPointer(bytes!.assumingMemoryBound(to: UInt8.self)), s = SharedPointer(scales.pointer)
        let z = SharedPointer(zeros)
        let isa = kernel.isa, src = SharedPointer(x)
        // Rows per task: enough that a task's work outweighs the hand-off.
        Parallel.forRanges(rows, minimumPerTask: max(1, 32_768 / max(k, 1))) { r in
            pr_int8_quantize(isa, src.p + r.lowerBound * ldx, Int32(r.count), Int32(k), Int32(ldx),
                             q.p + r.lowerBound * ldq, Int32(ldq), s.p + r.lowerBound, z.p + r.lowerBound)
        }
        pr_int8_pad_rows(Int32(rows), q.p, Int32(ldq), s.p, z.p)
    }
}

/// A torch Linear layer (out × in weight, bias) quantized once, per output channel, to s8 and
/// packed for the VNNI kernels. y = dequant(q(x) · q(W)ᵀ) + bias, with q(x) per row (Int8Activations).
/// Immutable after init; `apply` may run from several threads at once with separate outputs.
public final class Int8Linear: @unchecked Sendable {  // immutable after init
    public let outFeatures: Int, inFeatures: Int
    let kPadded: Int, blocks: Int
    private let packed: UnsafeMutableRawPointer
    private let scale: FloatBuffer
    /// Σ q(W)[o]: takes each row's zero point back out.
    private let wsum: UnsafeMutablePointer<Int32>
    private let bias: FloatBuffer?

    /// Bytes the quantized layer holds.
    public var byteCount: Int { blocks * 16 * kPadded + blocks * 16 * (4 + 4 + (bias == nil ? 0 : 4)) }

    /// - Parameters:
    ///   - weight: (outFeatures, inFeatures) with row stride `ldw` (default inFeatures).
    ///   - bias: outFeatures values, or nil.
    public init(weight: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int, ldw: Int? = nil,
                bias: UnsafePointer<Float>?) {
        precondition(n > 0 && k > 0 && n < Int(Int32.max) / 16 && k < 65_536, "int8 layer shape out of range")
        outFeatures = n
        inFeatures = k
        kPadded = (k + 3) / 4 * 4
        blocks = (n + 15) / 16
        let npad = blocks * 16
        packed = .allocate(byteCount: Int(pr_int8_packed_bytes(Int32(n), Int32(k))), alignment: 64)
        scale = FloatBuffer(count: npad)
        wsum = .allocate(capacity: npad)
        pr_int8_pack(weight, Int32(n), Int32(k), Int32(ldw ?? k), packed.assumingMemoryBound(to: Int8.self),
                     scale.pointer, wsum)
        if let bias {
            let b = FloatBuffer(count: npad)   // zeroed: pad channels
            b.pointer.update(from: bias, count: n)
            self.bias = b
        } else {
            self.bias = nil
        }
    }

    deinit {
        packed.deallocate()
        wsum.deallocate()
    }

    /// y[r][o − channels.lowerBound] for the rows `x` holds (quantized from inFeatures columns)
    /// and the output channels `channels` (default all; its lowerBound a multiple of 16), in
    /// parallel over channel blocks. Every output's bits depend only on its row and channel.
    public func apply(_ x: Int8Activations, channels: Range<Int>? = nil, into y: UnsafeMutablePointer<Float>,
                      ldy: Int? = nil, kernel: Int8Kernel) {
        precondition(x.inFeatures == inFeatures, "activations were quantized for another layer width")
        let channels = channels ?? 0..<outFeatures
        precondition(channels.lowerBound % 16 == 0 && channels.upperBound <= outFeatures, "channel range out of the layer")
        let rows = x.rows
        guard rows > 0, !channels.isEmpty, let bytes = x.bytes else { return }
        let ldy = ldy ?? channels.count
        let firstBlock = channels.lowerBound / 16, lastBlock = (channels.upperBound + 15) / 16
        // The kernel addresses y by absolute channel: hand it y moved back by the first channel.
        let base = SharedPointer(y - channels.lowerBound)
        let q = SharedPointer(bytes.assumingMemoryBound(to: UInt8.self)), xs = SharedPointer(x.scales.pointer)
        let xz = SharedPointer(x.zeros)
        let w = SharedPointer(packed.assumingMemoryBound(to: Int8.self)), ws = SharedPointer(scale.pointer)
        let cp = SharedPointer(wsum), b = bias.map { SharedPointer($0.pointer) }
        let isa = kernel.isa, ldq = x.ldq, kp = kPadded, n = channels.upperBound
        // Chunks of 4 blocks (64 channels): the kernel's widest tile.
        let chunks = (lastBlock - firstBlock + 3) / 4
        let work = rows * kPadded * 64
        Parallel.forRanges(chunks, minimumPerTask: max(1, 262_144 / max(work, 1))) { r in
            let lo = firstBlock + r.lowerBound * 4, hi = min(lastBlock, firstBlock + r.upperBound * 4)
            pr_int8_gemm(isa, q.p, Int32(ldq), xs.p, xz.p, Int32(rows), w.p, Int32(kp), ws.p, cp.p, b?.p, Int32(n),
                         Int32(lo), Int32(hi), base.p, Int32(ldy))
        }
    }
}
