import Tensors

/// Activations for one forward pass, sized once for the largest batch and sequence it has seen
/// (llama2.c's RunState). Reused across calls; grows only when a larger batch arrives.
/// Not thread-safe: one workspace per concurrent forward.
public final class Workspace: @unchecked Sendable {
    let hidden: Int, intermediate: Int, relRows: Int
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
    let tasks: Int
    /// Per-call index lists, kept with their capacity so a forward allocates nothing once the
    /// workspace has seen a batch of its size: sequence offsets, (offset, length, head)
    /// attention tasks, and the kept rows of the last layer.
    var offsets: [Int] = []
    var headTasks: [(offset: Int, length: Int, head: Int)] = []
    var keptRows: [EncoderLayer.KeptRow] = []

    /// Rows every dense GEMM runs at least (BLAS.minimumRows over the layer shapes).
    let minimumRows: Int

    public init(config: DebertaV2Config, tokens: Int = 0, maxLength: Int = 0) {
        hidden = config.hiddenSize
        intermediate = config.intermediateSize
        relRows = 2 * config.attentionSpan
        tasks = max(1, Parallel.threads)
        let c = hidden, i = intermediate
        minimumRows = [(3 * c, c), (c, c), (i, c), (c, i)].map { BLAS.minimumRows(outFeatures: $0.0, inFeatures: $0.1) }.max()!
        reserve(tokens: tokens, maxLength: maxLength)
    }

    /// Makes room for a batch of `tokens` tokens whose longest sequence has `maxLength` tokens.
    public func reserve(tokens: Int, maxLength: Int) {
        let tokens = max(tokens, minimumRows)
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
        }
    }
}
