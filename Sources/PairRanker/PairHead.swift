import Checkpoints
import Tensors

/// The comparison head shared by both candidates:
/// f(u, v) = W2 · tanh(W1 · [u; v] + b1) + b2, logit = mean_tasks(f(h_s, h_1) − f(h_s, h_2)).
// Ports: llm_blender/pair_ranker/ranker.py CrossCompareReranker.head_layer / reduce (dropouts are
// identity at inference; head_layer.1 and head_layer.4 are the two Linear layers).
struct PairHead: Sendable {
    let hidden: Int, tasks: Int
    let w1: Weight, b1: Weight, w2: Weight, b2: Weight

    init(weights: WeightLoader, hidden: Int, tasks: Int) throws {
        self.hidden = hidden
        self.tasks = tasks
        w1 = try weights.tensor("head_layer.1.weight", shape: [hidden, 2 * hidden])
        b1 = try weights.tensor("head_layer.1.bias", shape: [hidden])
        w2 = try weights.tensor("head_layer.4.weight", shape: [tasks, hidden])
        b2 = try weights.tensor("head_layer.4.bias", shape: [tasks])
    }

    /// Rows of scratch the head needs for `pairs` pairs (padded like the encoder's GEMMs; per
    /// pair, the last pair's GEMM runs `BLAS.groupRows(2)` rows from its start).
    func scratchRows(pairs p: Int, perPair: Bool) -> Int {
        let least = BLAS.minimumRows(outFeatures: hidden, inFeatures: 2 * hidden)
        return perPair ? 2 * p + least : max(2 * p, least)
    }

    /// - Parameters:
    ///   - states: (T, C) last hidden states of the packed batch.
    ///   - pooled: per pair, the token rows of <|source|>, <|candidate1|>, <|candidate2|>.
    ///   - scratch: room for (R, 2C) + (R, C) floats, R = scratchRows(pairs: P, perPair:).
    ///   - perPair: one GEMM per pair (its two rows), so a pair's logit depends on it alone on
    ///     every kernel family (Workspace.GEMMRows.perSequence); else one GEMM over all pairs.
    /// - Returns: one logit per pair.
    func logits(states: UnsafePointer<Float>, pooled: [(Int, Int, Int)], scratch: FloatBuffer, perPair: Bool) -> [Float] {
        let c = hidden, p = pooled.count
        let x = scratch.pointer                // (2P, 2C): [h_s; h_1] and [h_s; h_2] per pair
        let rows = scratchRows(pairs: p, perPair: perPair)
        let y = scratch.pointer + rows * 2 * c   // (R, C)
        for (i, (s, l, r)) in pooled.enumerated() {
            let left = x + (2 * i) * 2 * c, right = x + (2 * i + 1) * 2 * c
            left.update(from: states + s * c, count: c)
            (left + c).update(from: states + l * c, count: c)
            right.update(from: states + s * c, count: c)
            (right + c).update(from: states + r * c, count: c)
        }
        BLAS.linear(x, rows: 2 * p, inFeatures: 2 * c, weight: w1.pointer, bias: b1.pointer, outFeatures: c, into: y,
                    rowCapacity: rows, groups: perPair ? (0..<p).map { (2 * $0)..<(2 * $0 + 2) } : nil)
        Kernels.tanh(y, count: 2 * p * c)
        // The last projection has n_tasks outputs: plain dot products, in a fixed order so a pair's
        // logit never depends on how many pairs share the batch.
        var out = [Float](repeating: 0, count: p)
        for i in 0..<p {
            var diff: Float = 0
            for t in 0..<tasks {
                let w = w2.pointer + t * c
                var l: Float = 0, r: Float = 0
                let yl = y + (2 * i) * c, yr = y + (2 * i + 1) * c
                for k in 0..<c { l += yl[k] * w[k]; r += yr[k] * w[k] }
                diff += (l + b2.pointer[t]) - (r + b2.pointer[t])
            }
            out[i] = diff / Float(tasks)
        }
        return out
    }
}
