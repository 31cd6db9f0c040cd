import Checkpoints
import Tensors

/// One transformer block: disentangled self-attention, its output projection and LayerNorm, then
/// the GELU feed-forward and its LayerNorm.
// Ports: modeling_deberta_v2.py DebertaV2Layer (DebertaV2Attention, DebertaV2Intermediate, DebertaV2Output)
struct EncoderLayer: Sendable {
    /// query_proj, key_proj, value_proj stacked: (3C, C) weights, (3C) biases.
    let qkv: Dense
    /// The layer-normed relative table (R rows) through query_proj / key_proj (share_att_key),
    /// computed once at load in float32 whatever the precision: they do not depend on the input.
    /// Head-major, (H, R, HS): head h's R × HS slice at h·R·HS, so attention streams one
    /// contiguous block per head instead of HS floats from every row of an (R, C) table.
    let posQuery: FloatBuffer, posKey: FloatBuffer
    /// R·HS, the floats of one head's slice.
    let posHeadFloats: Int
    // The rest are named after their checkpoint keys (under `encoder.layer.N.`), so
    // `attentionOutputDense` is `attention.output.dense` and `outputLayerNormWeight` the
    // feed-forward's `output.LayerNorm.weight`.
    let attentionOutputDense: Dense
    let attentionOutputLayerNormWeight: Weight, attentionOutputLayerNormBias: Weight
    let intermediateDense: Dense
    let outputDense: Dense
    let outputLayerNormWeight: Weight, outputLayerNormBias: Weight

    init(weights: WeightLoader, config: DebertaV2Config, relativeTable: FloatBuffer, precision: Precision,
         floatKernel: FloatKernel) throws {
        let c = config.hiddenSize, inter = config.intermediateSize
        let selfAttn = weights.scoped("attention.self")
        let qkvWeight = FloatBuffer(count: 3 * c * c, zeroed: false)
        let qkvBias = FloatBuffer(count: 3 * c, zeroed: false)
        var loaded: [Weight] = []
        for (i, name) in ["query_proj", "key_proj", "value_proj"].enumerated() {
            let w = try selfAttn.tensor("\(name).weight", shape: [c, c])
            let b = try selfAttn.tensor("\(name).bias", shape: [c])
            (qkvWeight.pointer + i * c * c).update(from: w.pointer, count: c * c)
            (qkvBias.pointer + i * c).update(from: b.pointer, count: c)
            loaded.append(w)
        }
        let rows = relativeTable.count / c
        posHeadFloats = rows * config.headSize
        let rowMajor = FloatBuffer(count: rows * c, zeroed: false)
        BLAS.linear(relativeTable.pointer, rows: rows, inFeatures: c, weight: qkvWeight.pointer,
                    bias: qkvBias.pointer, outFeatures: c, into: rowMajor.pointer)
        // NOTE: the reference divides c2c, c2p and p2c by sqrt(3·HS) after each product; we fold
        // the scale into Q (per forward) and into the positional queries (here, once), which
        // changes only rounding.
        Kernels.scale(rowMajor.pointer, by: 1 / (Float(config.headSize * 3)).squareRoot(), count: rows * c)
        posQuery = Self.headMajor(rowMajor, rows: rows, heads: config.numAttentionHeads, headSize: config.headSize)
        BLAS.linear(relativeTable.pointer, rows: rows, inFeatures: c, weight: qkvWeight.pointer + c * c,
                    bias: qkvBias.pointer + c, outFeatures: c, into: rowMajor.pointer)
        posKey = Self.headMajor(rowMajor, rows: rows, heads: config.numAttentionHeads, headSize: config.headSize)
        qkv = Dense(weight: qkvWeight.pointer, bias: qkvBias.pointer, outFeatures: 3 * c, inFeatures: c,
                    owners: [qkvWeight, qkvBias], precision: precision, floatKernel: floatKernel)
        func dense(_ scope: WeightLoader, _ name: String, out: Int, in k: Int) throws -> Dense {
            let w = try scope.tensor("\(name).weight", shape: [out, k])
            let b = try scope.tensor("\(name).bias", shape: [out])
            loaded.append(w)
            return Dense(weight: w.pointer, bias: b.pointer, outFeatures: out, inFeatures: k, owners: [w, b], precision: precision, floatKernel: floatKernel)
        }
        let out = weights.scoped("attention.output")
        attentionOutputDense = try dense(out, "dense", out: c, in: c)
        attentionOutputLayerNormWeight = try out.tensor("LayerNorm.weight", shape: [c])
        attentionOutputLayerNormBias = try out.tensor("LayerNorm.bias", shape: [c])
        intermediateDense = try dense(weights, "intermediate.dense", out: inter, in: c)
        outputDense = try dense(weights, "output.dense", out: c, in: inter)
        outputLayerNormWeight = try weights.tensor("output.LayerNorm.weight", shape: [c])
        outputLayerNormBias = try weights.tensor("output.LayerNorm.bias", shape: [c])
        // Packed or quantized: the float weights are not needed again; give their mapped pages back.
        if !intermediateDense.keepsSource { for w in loaded { w.releaseResidentPages() } }
    }

    /// (R, H·HS) -> (H, R, HS).
    private static func headMajor(_ t: FloatBuffer, rows: Int, heads: Int, headSize hs: Int) -> FloatBuffer {
        let out = FloatBuffer(count: rows * heads * hs, zeroed: false)
        for h in 0..<heads {
            for r in 0..<rows {
                (out.pointer + (h * rows + r) * hs).update(from: t.pointer + r * heads * hs + h * hs, count: hs)
            }
        }
        return out
    }

    /// Head h's positional queries / keys, (R, HS): row r at + r·HS.
    func posQuery(head h: Int) -> UnsafeMutablePointer<Float> { posQuery.pointer + h * posHeadFloats }
    func posKey(head h: Int) -> UnsafeMutablePointer<Float> { posKey.pointer + h * posHeadFloats }

    /// ws.x (T, C) -> ws.x (T, C).
    func forward(model: DebertaV2Model, tokens t: Int, lengths: [Int], ws: Workspace) {
        let x = ws.x.pointer, qkv = ws.qkv.pointer
        let cap = ws.tokenCapacity
        let groups = ws.sequenceGroups
        self.qkv.apply(x, rows: t, into: qkv, rowCapacity: cap, groups: groups, ws: ws)
        attention(model: model, tokens: t, lengths: lengths, ws: ws)
        outputBlocks(model: model, rows: t, groups: groups, residual: x, scratch: ws.attn.pointer, ws: ws)
    }

    /// The rest of the layer after attention, for `rows` rows of ws.ctx (R, C):
    /// a = LN(ctx · Woᵀ + bo + residual), then ws.x = LN(GELU(a · Wiᵀ + bi) · W2ᵀ + b2 + a).
    /// `scratch` (room for the workspace's token capacity × C) holds a; it must not alias
    /// `residual`, which is read before ws.x is written. `groups`: see `BLAS.linear`.
    func outputBlocks(model: DebertaV2Model, rows t: Int, groups: [Range<Int>]?, residual: UnsafePointer<Float>,
                      scratch a: UnsafeMutablePointer<Float>, ws: Workspace) {
        let c = model.hidden
        let x = ws.x.pointer, h = ws.inter.pointer, cap = ws.tokenCapacity
        attentionOutputDense.apply(ws.ctx.pointer, rows: t, into: a, rowCapacity: cap, groups: groups, ws: ws)
        Kernels.add(a, residual, count: t * c)
        Kernels.layerNorm(a, rows: t, cols: c, gamma: attentionOutputLayerNormWeight.pointer,
                          beta: attentionOutputLayerNormBias.pointer, eps: model.eps, out: a)
        intermediateDense.apply(a, rows: t, into: h, rowCapacity: cap, groups: groups, ws: ws)
        Kernels.gelu(h, count: t * intermediateDense.outFeatures)
        outputDense.apply(h, rows: t, into: x, rowCapacity: cap, groups: groups, ws: ws)
        Kernels.add(x, a, count: t * c)
        Kernels.layerNorm(x, rows: t, cols: c, gamma: outputLayerNormWeight.pointer, beta: outputLayerNormBias.pointer,
                          eps: model.eps, out: x)
    }
}
