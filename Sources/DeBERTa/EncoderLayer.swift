import Checkpoints
import Tensors

/// One transformer block: disentangled self-attention, its output projection and LayerNorm, then
/// the GELU feed-forward and its LayerNorm.
// Ports: modeling_deberta_v2.py DebertaV2Layer (DebertaV2Attention, DebertaV2Intermediate, DebertaV2Output)
struct EncoderLayer: Sendable {
    /// (3C, C) query_proj, key_proj, value_proj weights stacked; (3C) their biases.
    let qkvWeight: FloatBuffer, qkvBias: FloatBuffer
    /// (R, C) the layer-normed relative table through query_proj / key_proj (share_att_key),
    /// computed once at load: they do not depend on the input.
    let posQuery: FloatBuffer, posKey: FloatBuffer
    // The rest are named after their checkpoint keys (under `encoder.layer.N.`), so
    // `attentionOutputDenseWeight` is `attention.output.dense.weight` and `outputLayerNormWeight`
    // the feed-forward's `output.LayerNorm.weight`.
    let attentionOutputDenseWeight: Weight, attentionOutputDenseBias: Weight
    let attentionOutputLayerNormWeight: Weight, attentionOutputLayerNormBias: Weight
    let intermediateDenseWeight: Weight, intermediateDenseBias: Weight
    let outputDenseWeight: Weight, outputDenseBias: Weight
    let outputLayerNormWeight: Weight, outputLayerNormBias: Weight

    init(weights: WeightLoader, config: DebertaV2Config, relativeTable: FloatBuffer) throws {
        let c = config.hiddenSize, inter = config.intermediateSize
        let selfAttn = weights.scoped("attention.self")
        qkvWeight = FloatBuffer(count: 3 * c * c, zeroed: false)
        qkvBias = FloatBuffer(count: 3 * c, zeroed: false)
        for (i, name) in ["query_proj", "key_proj", "value_proj"].enumerated() {
            let w = try selfAttn.tensor("\(name).weight", shape: [c, c])
            let b = try selfAttn.tensor("\(name).bias", shape: [c])
            (qkvWeight.pointer + i * c * c).update(from: w.pointer, count: c * c)
            (qkvBias.pointer + i * c).update(from: b.pointer, count: c)
        }
        let rows = relativeTable.count / c
        posQuery = FloatBuffer(count: rows * c, zeroed: false)
        posKey = FloatBuffer(count: rows * c, zeroed: false)
        BLAS.linear(relativeTable.pointer, rows: rows, inFeatures: c, weight: qkvWeight.pointer,
                    bias: qkvBias.pointer, outFeatures: c, into: posQuery.pointer)
        // NOTE: the reference divides c2c, c2p and p2c by sqrt(3·HS) after each product; we fold
        // the scale into Q (per forward) and into the positional queries (here, once), which
        // changes only rounding.
        Kernels.scale(posQuery.pointer, by: 1 / (Float(config.headSize * 3)).squareRoot(), count: rows * c)
        BLAS.linear(relativeTable.pointer, rows: rows, inFeatures: c, weight: qkvWeight.pointer + c * c,
                    bias: qkvBias.pointer + c, outFeatures: c, into: posKey.pointer)
        let out = weights.scoped("attention.output")
        attentionOutputDenseWeight = try out.tensor("dense.weight", shape: [c, c])
        attentionOutputDenseBias = try out.tensor("dense.bias", shape: [c])
        attentionOutputLayerNormWeight = try out.tensor("LayerNorm.weight", shape: [c])
        attentionOutputLayerNormBias = try out.tensor("LayerNorm.bias", shape: [c])
        intermediateDenseWeight = try weights.tensor("intermediate.dense.weight", shape: [inter, c])
        intermediateDenseBias = try weights.tensor("intermediate.dense.bias", shape: [inter])
        outputDenseWeight = try weights.tensor("output.dense.weight", shape: [c, inter])
        outputDenseBias = try weights.tensor("output.dense.bias", shape: [c])
        outputLayerNormWeight = try weights.tensor("output.LayerNorm.weight", shape: [c])
        outputLayerNormBias = try weights.tensor("output.LayerNorm.bias", shape: [c])
    }

    /// ws.x (T, C) -> ws.x (T, C).
    func forward(model: DebertaV2Model, tokens t: Int, lengths: [Int], ws: Workspace) {
        let c = model.hidden
        let x = ws.x.pointer, qkv = ws.qkv.pointer
        let cap = ws.tokenCapacity
        let groups = ws.sequenceGroups
        BLAS.linear(x, rows: t, inFeatures: c, weight: qkvWeight.pointer, bias: qkvBias.pointer,
                    outFeatures: 3 * c, into: qkv, rowCapacity: cap, groups: groups)
        attention(model: model, tokens: t, lengths: lengths, ws: ws)
        outputBlocks(model: model, rows: t, groups: groups, residual: x, scratch: ws.attn.pointer, ws: ws)
    }

    /// The rest of the layer after attention, for `rows` rows of ws.ctx (R, C):
    /// a = LN(ctx · Woᵀ + bo + residual), then ws.x = LN(GELU(a · Wiᵀ + bi) · W2ᵀ + b2 + a).
    /// `scratch` (room for the workspace's token capacity × C) holds a; it must not alias
    /// `residual`, which is read before ws.x is written. `groups`: see `BLAS.linear`.
    func outputBlocks(model: DebertaV2Model, rows t: Int, groups: [Range<Int>]?, residual: UnsafePointer<Float>,
                      scratch a: UnsafeMutablePointer<Float>, ws: Workspace) {
        let c = model.hidden, inter = intermediateDenseBias.count
        let x = ws.x.pointer, h = ws.inter.pointer, cap = ws.tokenCapacity
        BLAS.linear(ws.ctx.pointer, rows: t, inFeatures: c, weight: attentionOutputDenseWeight.pointer,
                    bias: attentionOutputDenseBias.pointer, outFeatures: c, into: a, rowCapacity: cap, groups: groups)
        Kernels.add(a, residual, count: t * c)
        Kernels.layerNorm(a, rows: t, cols: c, gamma: attentionOutputLayerNormWeight.pointer,
                          beta: attentionOutputLayerNormBias.pointer, eps: model.eps, out: a)
        BLAS.linear(a, rows: t, inFeatures: c, weight: intermediateDenseWeight.pointer, bias: intermediateDenseBias.pointer,
                    outFeatures: inter, into: h, rowCapacity: cap, groups: groups)
        Kernels.gelu(h, count: t * inter)
        BLAS.linear(h, rows: t, inFeatures: inter, weight: outputDenseWeight.pointer, bias: outputDenseBias.pointer,
                    outFeatures: c, into: x, rowCapacity: cap, groups: groups)
        Kernels.add(x, a, count: t * c)
        Kernels.layerNorm(x, rows: t, cols: c, gamma: outputLayerNormWeight.pointer, beta: outputLayerNormBias.pointer,
                          eps: model.eps, out: x)
    }
}
