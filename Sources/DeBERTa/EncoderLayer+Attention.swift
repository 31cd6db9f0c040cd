import Tensors

// Ports: modeling_deberta_v2.py DisentangledSelfAttention.forward + disentangled_attention_bias
// (share_att_key, pos_att_type p2c|c2p, no padding).
extension EncoderLayer {
    /// ws.qkv (T, 3C) -> ws.ctx (T, C) for every sequence of the packed batch.
    ///
    /// For head h, query i, key j, with δ = relIndex(i − j) and s = sqrt(3·HS):
    ///   S[i,j] = (Q_i·K_j + Q_i·PK[δ] + K_j·PQ[δ]) / s
    /// Q is scaled by 1/s first and PQ was scaled at load, so S is a sum of three products.
    /// c2p = Q·PKᵀ and p2cᵀ = PQ·Kᵀ are GEMMs over just the table rows δ can reach, then gathered.
    /// (sequence, head) tasks are spread over the threads, each running single-threaded GEMMs:
    /// K = 64 GEMMs scale poorly inside OpenBLAS's own threads (docs/model.md §8).
    func attention(model: DebertaV2Model, tokens t: Int, lengths: [Int], ws: Workspace) {
        let c = model.hidden, ld = 3 * c
        let qkv = ws.qkv.pointer
        for r in 0..<t { Kernels.scale(qkv + r * ld, by: 1 / model.scale, count: c) }
        ws.headTasks.removeAll(keepingCapacity: true)
        var o = 0
        for l in lengths {
            for h in 0..<model.heads { ws.headTasks.append((o, l, h)) }
            o += l
        }
        let work = ws.headTasks
        guard !work.isEmpty else { return }   // no sequences: nothing to attend
        let tasks = min(ws.tasks, work.count)
        let blasThreads = BLAS.threads
        BLAS.setThreads(1)
        defer { BLAS.setThreads(blasThreads) }
        let layer = self
        Parallel.forTasks(work.count, tasks: ws.tasks, minimumPerTask: max(1, work.count / tasks)) { slot, range in
            for k in range {
                let (offset, n, h) = work[k]
                layer.head(model: model, offset: offset, length: n, head: h, ws: ws, slot: slot)
            }
        }
    }

    private func head(model: DebertaV2Model, offset: Int, length n: Int, head h: Int, ws: Workspace, slot: Int) {
        let c = model.hidden, hs = model.headSize, ld = 3 * c
        let maxLen = model.maxLength
        // δ is non-decreasing in i − j: the reachable rows are [δ(−(n−1)), δ(n−1)].
        let lo = Int(model.relIndex[maxLen - 1 - (n - 1)])
        let hi = Int(model.relIndex[maxLen - 1 + (n - 1)])
        let w = hi - lo + 1
        let scores = ws.scores[slot].pointer, c2p = ws.c2p[slot].pointer, p2cT = ws.p2cT[slot].pointer
        let q = ws.qkv.pointer + offset * ld + h * hs
        let k = q + c
        let v = q + 2 * c
        // c2c: (n, n) = Q_h · K_hᵀ
        BLAS.gemm(transB: true, m: n, n: n, k: hs, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: n)
        // c2p: (n, w) = Q_h · PK[lo...hi, h]ᵀ
        BLAS.gemm(transB: true, m: n, n: w, k: hs, a: q, lda: ld, b: posKey.pointer + lo * c + h * hs, ldb: c, c: c2p, ldc: w)
        // p2cᵀ: (w, n) = PQ[lo...hi, h] · K_hᵀ
        BLAS.gemm(transB: true, m: w, n: n, k: hs, a: posQuery.pointer + lo * c + h * hs, lda: c, b: k, ldb: ld, c: p2cT, ldc: n)
        model.relIndex.withUnsafeBufferPointer { rel in
            let center = rel.baseAddress! + (maxLen - 1)
            for i in 0..<n {
                let row = scores + i * n
                let c2pRow = c2p + i * w - lo
                let deltaRow = center + i   // deltaRow[-j] = relIndex(i − j)
                let p2cBase = p2cT - lo * n
                for j in 0..<n {
                    let r = Int(deltaRow[-j])
                    row[j] += c2pRow[r] + p2cBase[r * n + j]
                }
            }
        }
        Kernels.softmaxRows(scores, rows: n, cols: n, ld: n)
        // ctx_h: (n, HS) = P · V_h, written into the head's columns of ctx.
        BLAS.gemm(m: n, n: hs, k: n, a: scores, lda: n, b: v, ldb: ld, c: ws.ctx.pointer + offset * c + h * hs, ldc: c)
    }
}
