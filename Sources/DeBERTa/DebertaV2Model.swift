import Checkpoints
import Tensors

/// The DeBERTa-v2/v3 encoder (no pooler), float32 (dense layers on pairranker's AVX-512 kernel or
/// OpenBLAS, attention's products likewise) or int8 dense layers.
///
/// Sequences are packed token-major without padding: the dense layers run once over all tokens of
/// a batch, attention runs per sequence. With no padding there is no mask: every key of a sequence
/// is valid, which is exactly what the reference computes for valid (unpadded) query rows.
// Ports: modeling_deberta_v2.py DebertaV2Model (embeddings, encoder; relative attention only)
public final class DebertaV2Model: Sendable {
    public let config: DebertaV2Config
    /// Longest sequence a forward accepts (the relative-index table covers it).
    public let maxLength: Int
    let hidden: Int, heads: Int, headSize: Int, span: Int, eps: Float
    let wordEmbeddings: Weight
    let embeddingNormWeight: Weight, embeddingNormBias: Weight
    let layers: [EncoderLayer]
    /// relIndex[d + maxLength − 1] = row of the relative table for query − key = d.
    let relIndex: [Int32]
    /// The attention scale sqrt(head size · 3) as the reference computes it, in float32.
    let scale: Float
    /// What the dense layers run in.
    public let precision: Precision
    /// What attention's products (scores, positional terms, context) run on, in float32 under
    /// either precision: the fp32 kernel asked for, where this CPU runs it.
    public let attentionKernel: FloatKernel

    /// Loads the backbone from `weights` (scoped at the backbone prefix, e.g. `pretrained_model`).
    /// `precision` int8 needs a kernel this CPU runs, a hidden size that is a multiple of 16 and
    /// layer widths below 65,536 (checked before any weight is read). `floatKernel`: what fp32
    /// dense layers run on (`.avx512` needs a CPU with AVX-512, else OpenBLAS is used).
    public init(weights: WeightLoader, config: DebertaV2Config, maxLength: Int = 512, precision: Precision = .fp32,
                floatKernel: FloatKernel = FloatKernel.active) throws {
        let floatKernel = floatKernel.isSupported ? floatKernel : .openblas
        if case let .int8(kernel) = precision {
            guard kernel.isSupported else { throw DebertaError.int8Unsupported }
            guard config.hiddenSize % 16 == 0 else {
                throw DebertaError.config(path: "config.json", message: "precision int8 needs hidden_size a multiple of 16, not \(config.hiddenSize)")
            }
            // The int32 sums stay exact below 66,000 inputs (k · 255 · 127 < 2³¹): a wider layer
            // from a crafted config is refused here, before anything is loaded or quantized.
            for (key, k) in [("hidden_size", config.hiddenSize), ("intermediate_size", config.intermediateSize)] where k >= 65_536 {
                throw DebertaError.config(path: "config.json", message: "precision int8 needs \(key) below 65536, not \(k)")
            }
        }
        self.precision = precision
        attentionKernel = floatKernel
        self.config = config
        self.maxLength = maxLength
        hidden = config.hiddenSize
        heads = config.numAttentionHeads
        headSize = config.headSize
        span = config.attentionSpan
        eps = Float(config.layerNormEps)
        let c = hidden
        let emb = weights.scoped("embeddings")
        wordEmbeddings = try emb.tensor("word_embeddings.weight", shape: [config.vocabSize, c])
        embeddingNormWeight = try emb.tensor("LayerNorm.weight", shape: [c])
        embeddingNormBias = try emb.tensor("LayerNorm.bias", shape: [c])

        // The relative-embedding table, layer-normed once (input-independent).
        let enc = weights.scoped("encoder")
        let relRows = 2 * span
        let relTable = try enc.tensor("rel_embeddings.weight", shape: [relRows, c])
        let relNorm = FloatBuffer(count: relRows * c)
        Kernels.layerNorm(relTable.pointer, rows: relRows, cols: c,
                          gamma: try enc.tensor("LayerNorm.weight", shape: [c]).pointer,
                          beta: try enc.tensor("LayerNorm.bias", shape: [c]).pointer, eps: eps, out: relNorm.pointer)
        // The load-time projections are GEMMs whose bits every forward uses (BLAS.exclusive).
        layers = try BLAS.exclusive {
            try (0..<config.numHiddenLayers).map { i in
                try EncoderLayer(weights: enc.scoped("layer.\(i)"), config: config, relativeTable: relNorm, precision: precision,
                                 floatKernel: floatKernel)
            }
        }
        relIndex = RelativePosition.indexTable(maxLength: maxLength, span: span, bucketSize: config.positionBuckets,
                                               maxPosition: config.effectiveMaxRelativePositions)
        // Attention computes and reads only the table rows between δ of the smallest and largest
        // i − j: that needs δ non-decreasing, which `DebertaV2Config.validate` ensures; checked
        // here too, so no config path reaches attention with a table that breaks it.
        guard zip(relIndex, relIndex.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw DebertaError.config(path: "config.json", message: "the relative positions are not monotone in the distance (max_relative_positions \(config.effectiveMaxRelativePositions), position_buckets \(config.positionBuckets))")
        }
        scale = Float(headSize * 3).squareRoot()
    }

    /// Bytes of dense-layer weights the encoder holds in its precision.
    public var denseWeightBytes: Int {
        layers.reduce(0) { $0 + $1.qkv.weightBytes + $1.attentionOutputDense.weightBytes + $1.intermediateDense.weightBytes + $1.outputDense.weightBytes }
    }

    /// The kernel the dense layers run under fp32 (`FloatKernel.active` when the model loaded);
    /// nil under int8 or with no layers.
    public var floatKernel: FloatKernel? { layers.first?.qkv.floatKernel }

    /// Checks token ids and lengths before any work, so a bad input is an error, never a crash.
    public func validate(tokens: [Int32], lengths: [Int]) throws {
        for l in lengths where l > maxLength || l <= 0 {
            throw DebertaError.sequenceTooLong(length: l, limit: maxLength)
        }
        for t in tokens where t < 0 || Int(t) >= config.vocabSize {
            throw DebertaError.tokenOutOfRange(id: Int(t), vocabSize: config.vocabSize)
        }
    }

    /// Runs the encoder over packed sequences.
    /// - Parameters:
    ///   - tokens: (T) ids of all sequences, concatenated; `lengths` sums to T.
    ///   - keepRows: when given, only these rows of the last layer's output are computed (see
    ///     `EncoderLayer.forward(model:tokens:keeping:ws:)`); rows index the packed batch.
    ///   - observer: called with (0, embeddings) and (l, output of layer l), each (T, C); with
    ///     `keepRows`, the last call gets the (R, C) kept rows.
    /// - Returns: (T, C) last hidden states, or (R, C) in `keepRows` order with `keepRows`; valid
    ///   until the workspace's next use.
    public func forward(tokens: [Int32], lengths: [Int], keepRows: [Int]? = nil, workspace ws: Workspace,
                        observer: ((Int, UnsafePointer<Float>) -> Void)? = nil) throws -> UnsafePointer<Float> {
        // One forward at a time per process: see BLAS.exclusive (the observer is a test hook
        // that only copies, called inside).
        try BLAS.exclusive { try forwardExclusive(tokens: tokens, lengths: lengths, keepRows: keepRows, workspace: ws, observer: observer) }
    }

    private func forwardExclusive(tokens: [Int32], lengths: [Int], keepRows: [Int]?, workspace ws: Workspace,
                                  observer: ((Int, UnsafePointer<Float>) -> Void)?) throws -> UnsafePointer<Float> {
        try validate(tokens: tokens, lengths: lengths)
        let t = tokens.count
        precondition(lengths.reduce(0, +) == t, "lengths must sum to the token count")
        ws.offsets.removeAll(keepingCapacity: true)
        ws.tokenGroups.removeAll(keepingCapacity: true)
        var o = 0
        for l in lengths { ws.offsets.append(o); ws.tokenGroups.append(o..<(o + l)); o += l }
        if let keepRows {
            ws.keptRows.removeAll(keepingCapacity: true)
            ws.keptGroups.removeAll(keepingCapacity: true)
            for (i, row) in keepRows.enumerated() {
                guard row >= 0, row < t else { throw DebertaError.rowOutOfRange(row: row, tokens: t) }
                var lo = 0, hi = ws.offsets.count - 1   // the last sequence starting at or before row
                while lo < hi { let mid = (lo + hi + 1) / 2; if ws.offsets[mid] <= row { lo = mid } else { hi = mid - 1 } }
                let kept = EncoderLayer.KeptRow(row: row, offset: ws.offsets[lo], length: lengths[lo])
                // Consecutive kept rows of one sequence form one group.
                if let last = ws.keptGroups.last, ws.keptRows[last.lowerBound].offset == kept.offset, last.upperBound == i {
                    ws.keptGroups[ws.keptGroups.count - 1] = last.lowerBound..<(i + 1)
                } else {
                    ws.keptGroups.append(i..<(i + 1))
                }
                ws.keptRows.append(kept)
            }
        }
        ws.reserve(tokens: max(t, keepRows?.count ?? 0), maxLength: lengths.max() ?? 0)
        let c = hidden
        let x = ws.x.pointer
        // Embeddings: gather, LayerNorm (the mask multiply is the identity without padding).
        for (i, id) in tokens.enumerated() {
            (x + i * c).update(from: wordEmbeddings.pointer + Int(id) * c, count: c)
        }
        Kernels.layerNorm(x, rows: t, cols: c, gamma: embeddingNormWeight.pointer, beta: embeddingNormBias.pointer,
                          eps: eps, out: x)
        observer?(0, x)
        for (l, layer) in layers.enumerated() {
            if keepRows != nil, l == layers.count - 1 {
                layer.forward(model: self, tokens: t, keeping: ws.keptRows, ws: ws)
            } else {
                layer.forward(model: self, tokens: t, lengths: lengths, ws: ws)
            }
            observer?(l + 1, x)
        }
        return UnsafePointer(x)
    }
}
