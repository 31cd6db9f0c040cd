import Tensors

/// Activations for one forward pass, sized once for the largest batch and sequence it has seen
/// (llama2.c's RunState). Reused across calls; grows only when a larger batch arrives.
/// Not thread-safe: one workspace per concurrent forward.
// @unchecked: used by one forward at a time (forwards run inside BLAS.exclusive); within a
// forward the parallel tasks write disjoint rows and their own scratch slot (`tasks`).
public final class Workspace: @unchecked Sendable {
    /// How the dense layers run the rows of a packed batch on OpenBLAS. The packed fp32 and the
    /// int8 kernels ignore it: their rows never depend on the batch.
    public enum GEMMRows: String, Sendable {
        /// One GEMM over all rows: a row's bits do not depend on the batch only on kernels where
        /// `BLAS.rowsIndependentOfBatch` holds.
        case batch
        /// One GEMM per sequence (per pair in the head): a row's bits depend on its own sequence
        /// only, on every kernel family, at the cost of repacking the weights once per sequence.
        case perSequence = "per-sequence"

        /// `batch` where the loaded kernels are row-independent, else `perSequence`.
        public static var automatic: GEMMRows { BLAS.rowsIndependentOfBatch ? .batch : .perSequence }
    }

    let hidden: Int, intermediate: Int, relRows: Int
    public let gemmRows: GEMMRows
    private(set) var tokenCapacity = 0
    private(set) var lengthCapacity = 0

    /// x: (T, C) the hidden states, input and output of every layer.
    private(set) var x = FloatBuffer(count: 0)
    /// qkv: (T, 3C) fused query/key/value projections.
    private(set) var qkv = FloatBuffer(count: 0)
    /// ctx: (T, C) attention context, heads concatenated.
    private(set) var ctx = FloatBuffer(count: 0)
    /// attn: (T, C) attention block output (after its LayerNorm).
    private(set) var attn = FloatBuffer(count: 0)
    /// inter: (T, I) feed-forward activations.
    private(set) var inter = FloatBuffer(count: 0)
    /// Per attention task t (heads run in parallel): scores[t] (L, L) one head's scores and
    /// probabilities; c2p[t] (L, R) query · positional keys; p2cT[t] (R, L) positional queries · keys.
    private(set) var scores: [FloatBuffer] = []
    private(set) var c2p: [FloatBuffer] = []
    private(set) var p2cT: [FloatBuffer] = []
    /// Per attention task, the operands of one head packed for the AVX-512 kernel (see
    /// `AttentionPacking`), when attention runs on it.
    private(set) var attentionPacked: [FloatBuffer] = []
    private(set) var attentionPacking = AttentionPacking(length: 0, relRows: 0, headSize: 0)
    let headSize: Int
    let tasks: Int
    /// The int8 path's quantized activations (one dense layer's input at a time).
    private(set) lazy var quantized = Int8Activations()
    /// The packed fp32 kernel's activations (one dense layer's input at a time).
    private(set) lazy var floatRows = FloatRows()
    /// Per-call index lists, kept with their capacity so a forward allocates nothing once the
    /// workspace has seen a batch of its size: sequence offsets, (offset, length, head)
    /// attention tasks, and the kept rows of the last layer.
    var offsets: [Int] = []
    var headTasks: [(offset: Int, length: Int, head: Int)] = []
    var keptRows: [EncoderLayer.KeptRow] = []
    /// With `perSequence`: the row ranges of the sequences in the packed batch, and of the kept
    /// rows of each sequence in the last layer; nil with `batch` (one GEMM over all rows).
    var tokenGroups: [Range<Int>] = []
    var keptGroups: [Range<Int>] = []
    var sequenceGroups: [Range<Int>]? { gemmRows == .perSequence ? tokenGroups : nil }
    var keptRowGroups: [Range<Int>]? { gemmRows == .perSequence ? keptGroups : nil }

    /// Rows every dense GEMM runs at least (BLAS.minimumRows over the layer shapes).
    let minimumRows: Int

    /// `tasks`: the attention tasks a forward with this workspace runs in parallel, and so its
    /// per-task scratch slots; fixed here, whatever `Parallel.threads` becomes later.
    public init(config: DebertaV2Config, tokens: Int = 0, maxLength: Int = 0, gemmRows: GEMMRows = .automatic,
                tasks: Int = Parallel.threads) {
        self.gemmRows = gemmRows
        hidden = config.hiddenSize
        intermediate = config.intermediateSize
        relRows = 2 * config.attentionSpan
        headSize = config.headSize
        self.tasks = max(1, tasks)
        let c = hidden, i = intermediate
        minimumRows = [(3 * c, c), (c, c), (i, c), (c, i)].map { BLAS.minimumRows(outFeatures: $0.0, inFeatures: $0.1) }.max()!
        reserve(tokens: tokens, maxLength: maxLength)
    }

    /// Makes room for a batch of `tokens` tokens whose longest sequence has `maxLength` tokens.
    public func reserve(tokens: Int, maxLength: Int) {
        // Per sequence, the last group's GEMM runs up to `minimumRows` rows past its start.
        let tokens = gemmRows == .perSequence ? tokens + minimumRows : max(tokens, minimumRows)
        if tokens > tokenCapacity {
            tokenCapacity = tokens
            x = FloatBuffer(count: tokens * hidden)
            qkv = FloatBuffer(count: tokens * 3 * hidden)
            ctx = FloatBuffer(count: tokens * hidden)
            attn = FloatBuffer(count: tokens * hidden)
            inter = FloatBuffer(count: tokens * intermediate)
        }
        if maxLength > lengthCapacity {
            lengthCapacity = maxLength
            scores = (0..<tasks).map { _ in FloatBuffer(count: maxLength * maxLength) }
            c2p = (0..<tasks).map { _ in FloatBuffer(count: maxLength * relRows) }
            p2cT = (0..<tasks).map { _ in FloatBuffer(count: maxLength * relRows) }
            attentionPacking = AttentionPacking(length: maxLength, relRows: relRows, headSize: headSize)
            attentionPacked = (0..<tasks).map { [floats = attentionPacking.floats] _ in FloatBuffer(count: floats, zeroed: false) }
        }
    }
}

/// Where one head's packed operands sit in a slot's `attentionPacked` buffer, for sequences up to
/// `length` tokens: K, the positional keys (rows lo...hi of the table) and Vᵀ as panels; the
/// other operands are read in place. Every region starts 64-byte aligned.
struct AttentionPacking {
    let keys: Int, posKeys: Int, values: Int
    let floats: Int

    init(length l: Int, relRows r: Int, headSize hs: Int) {
        func size(_ x: Int) -> Int { (x + 15) / 16 * 16 }
        keys = 0
        posKeys = size(PackedGEMM.panelFloats(channels: l, k: hs))
        values = posKeys + size(PackedGEMM.panelFloats(channels: r, k: hs))
        floats = values + size(PackedGEMM.panelFloats(channels: hs, k: l))
    }
}
