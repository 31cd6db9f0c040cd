import Tensors

// Ports: modeling_deberta_v2.py DisentangledSelfAttention.forward + disentangled_attention_bias
// (share_att_key, pos_att_type p2c|c2p, no padding).
extension EncoderLayer {
    /// One sequence of `length` tokens starting at token `offset`: reads ws.qkv, writes ws.ctx.
    ///
    /// For head h, query i, key j, with δ = relIndex(i − j):
    ///   S[i,j] = (Q_i·K_j + Q_i·PK[δ] + K_j·PQ[δ]) / sqrt(3·HS)
    /// c2p = Q·PKᵀ and p2cᵀ = PQ·Kᵀ are GEMMs over just the table rows δ can reach, then gathered.
    func attention(model: DebertaV2Model, offset: Int, length n: Int, ws: Workspace) {
        let c = model.hidden, hs = model.headSize, ld = 3 * c
        let maxLen = model.maxLength
        // δ is non-decreasing in i − j: the reachable rows are [δ(−(n−1)), δ(n−1)].
        let lo = Int(model.relIndex[maxLen - 1 - (n - 1)])
        let hi = Int(model.relIndex[maxLen - 1 + (n - 1)])
        let w = hi - lo + 1
        let scores = ws.scores.pointer, c2p = ws.c2p.pointer, p2cT = ws.p2cT.pointer
        let scale = model.scale
        model.relIndex.withUnsafeBufferPointer { rel in
            let center = rel.baseAddress! + (maxLen - 1)
            for h in 0..<model.heads {
                let q = ws.qkv.pointer + offset * ld + h * hs
                let k = q + c
                let v = q + 2 * c
                // c2c: (n, n) = Q_h · K_hᵀ
                BLAS.gemm(transB: true, m: n, n: n, k: hs, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: n)
                // c2p: (n, w) = Q_h · PK[lo...hi, h]ᵀ
                BLAS.gemm(transB: true, m: n, n: w, k: hs, a: q, lda: ld, b: posKey.pointer + lo * c + h * hs,
                          ldb: c, c: c2p, ldc: w)
                // p2cᵀ: (w, n) = PQ[lo...hi, h] · K_hᵀ
                BLAS.gemm(transB: true, m: w, n: n, k: hs, a: posQuery.pointer + lo * c + h * hs, lda: c,
                          b: k, ldb: ld, c: p2cT, ldc: n)
                for i in 0..<n {
                    let row = scores + i * n
                    let c2pRow = c2p + i * w
                    let deltaRow = center + i   // deltaRow[-j] = relIndex(i − j)
                    for j in 0..<n {
                        let r = Int(deltaRow[-j]) - lo
                        row[j] = row[j] / scale + (c2pRow[r] / scale + p2cT[r * n + j] / scale)
                    }
                }
                Kernels.softmaxRows(scores, rows: n, cols: n, ld: n)
                // ctx_h: (n, HS) = P · V_h, written into the head's columns of ctx.
                BLAS.gemm(m: n, n: hs, k: n, a: scores, lda: n, b: v, ldb: ld,
                          c: ws.ctx.pointer + offset * c + h * hs, ldc: c)
            }
        }
    }
}
