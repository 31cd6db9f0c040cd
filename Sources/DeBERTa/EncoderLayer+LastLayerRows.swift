import Tensors

/// The last layer for a few rows only. A pair head reads three rows of the last hidden states
/// (docs/model.md §2), and in the last layer a row's output depends on the other rows only through
/// their keys and values. So the last layer projects keys and values for every token and runs
/// the query, attention, output projection and feed-forward for the kept rows alone: about 85%
/// of a layer's work saved, the same arithmetic for the rows kept.
extension EncoderLayer {
    /// A row to keep: its index in the packed batch and its sequence's (offset, length).
    struct KeptRow { let row: Int, offset: Int, length: Int }

    /// ws.x (T, C) -> ws.x rows 0..<keep.count (R, C): the layer's output at the kept rows.
    func forward(model: DebertaV2Model, tokens t: Int, keeping keep: [KeptRow], ws: Workspace) {
        let c = model.hidden, r = keep.count
        let x = ws.x.pointer, qkv = ws.qkv.pointer, cap = ws.tokenCapacity
        // Keys and values of every token, into the K and V columns of qkv (T, 3C).
        self.qkv.apply(x, rows: t, channels: c..<(3 * c), into: qkv + c, ldy: 3 * c, rowCapacity: cap,
                       groups: ws.sequenceGroups, ws: ws)
        // The kept rows of x (R, C), kept for the residual: ws.attn rows 0..<R.
        let kept = ws.attn.pointer
        for (i, k) in keep.enumerated() { (kept + i * c).update(from: x + k.row * c, count: c) }
        // Their queries (R, C), scaled by 1/s as in `attention`: ws.inter, row stride C.
        let q = ws.inter.pointer
        self.qkv.apply(kept, rows: r, channels: 0..<c, into: q, rowCapacity: cap, groups: ws.keptRowGroups, ws: ws)
        Kernels.scale(q, by: 1 / model.scale, count: r * c)
        // Attention per (kept row, head), spread over the threads: ws.ctx rows 0..<R.
        let ctx = ws.ctx.pointer
        let layer = self
        let shared = (q: SharedPointer(q), ctx: SharedPointer(ctx))
        let tasks = r * model.heads
        Parallel.forTasks(tasks, tasks: ws.tasks, minimumPerTask: max(1, tasks / ws.tasks)) { slot, range in
            for task in range {
                let i = task / model.heads, h = task % model.heads
                layer.attendRow(model: model, query: shared.q.p + i * c, row: keep[i], head: h,
                                ws: ws, slot: slot, into: shared.ctx.p + i * c)
            }
        }
        // Output projection and feed-forward at the kept rows, into ws.x rows 0..<R; the keys and
        // values in qkv are spent, so qkv holds the intermediate block output.
        outputBlocks(model: model, rows: r, groups: ws.keptRowGroups, residual: kept, scratch: qkv, ws: ws)
    }

    /// One query row of one head: S[j] = Q_i·K_j + Q_i·PK[δ] + K_j·PQ[δ] for every key j of the
    /// sequence (δ = relIndex(i − j)), softmax, then Σ_j P[j]·V_j into the head's columns of `out`.
    private func attendRow(model: DebertaV2Model, query q0: UnsafeMutablePointer<Float>, row: KeptRow, head h: Int,
                           ws: Workspace, slot: Int, into out0: UnsafeMutablePointer<Float>) {
        let c = model.hidden, hs = model.headSize, ld = 3 * c, n = row.length
        let q = q0 + h * hs, out = out0 + h * hs
        let keys = ws.qkv.pointer + row.offset * ld + c + h * hs
        let values = keys + c
        let pk = posKey(head: h), pq = posQuery(head: h)
        let s = ws.scores[slot].pointer
        let i = row.row - row.offset
        model.relIndex.withUnsafeBufferPointer { rel in
            let deltaRow = rel.baseAddress! + (model.maxLength - 1) + i   // deltaRow[-j] = relIndex(i − j)
            for j in 0..<n {
                let k = keys + j * ld
                let d = Int(deltaRow[-j]) * hs
                s[j] = Kernels.dot(q, k, count: hs) + (Kernels.dot(q, pk + d, count: hs) + Kernels.dot(k, pq + d, count: hs))
            }
        }
        Kernels.softmaxRows(s, rows: 1, cols: n, ld: n)
        out.update(repeating: 0, count: hs)
        for j in 0..<n { Kernels.axpy(s[j], values + j * ld, out, count: hs) }
    }
}
