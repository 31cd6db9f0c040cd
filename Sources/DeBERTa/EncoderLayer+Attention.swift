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
    /// K = 64 GEMMs scale poorly inside OpenBLAS's own threads (docs/model.md §8). Where the
    /// model's attention kernel is the packed AVX-512 one (`packedHead`), the products run on it,
    /// only over the entries the gather reads, and the gather and softmax are one C pass.
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
        let layer = self
        let packed = model.attentionKernel == .avx512
        let blasThreads = BLAS.threads
        if !packed { BLAS.setThreads(1) }
        defer { if !packed { BLAS.setThreads(blasThreads) } }
        Parallel.forTasks(work.count, tasks: ws.tasks, minimumPerTask: max(1, work.count / tasks)) { slot, range in
            for k in range {
                let (offset, n, h) = work[k]
                if packed {
                    layer.packedHead(model: model, offset: offset, length: n, head: h, ws: ws, slot: slot)
                } else {
                    layer.head(model: model, offset: offset, length: n, head: h, ws: ws, slot: slot)
                }
            }
        }
    }

    /// `head` on the packed AVX-512 kernel, computing only what the gather reads. Rows i0..<i1 of
    /// c2p reach the table rows [δ(i0 − (n−1)), δ(i1 − 1)] and keys j0..<j1 of p2cᵀ the rows
    /// [δ(−(j1−1)), δ((n−1) − j0)]: about n of the w ≈ 2n for short sequences. Every product is one
    /// FMA chain over the head's inputs (CGemm.h), whatever the band or the sequence length.
    private func packedHead(model: DebertaV2Model, offset: Int, length n: Int, head h: Int, ws: Workspace, slot: Int) {
        let c = model.hidden, hs = model.headSize, ld = 3 * c
        let maxLen = model.maxLength
        let (lo, w) = Self.tableRows(model: model, length: n)
        let scores = ws.scores[slot].pointer, c2p = ws.c2p[slot].pointer, p2cT = ws.p2cT[slot].pointer
        let at = ws.attentionPacking, buf = ws.attentionPacked[slot].pointer
        let kp = buf + at.keys, pkp = buf + at.posKeys, vp = buf + at.values
        let q = ws.qkv.pointer + offset * ld + h * hs
        let k = q + c
        let v = q + 2 * c
        let pq = posQuery(head: h) + lo * hs   // PQ row lo + r at pq + r·HS
        PackedGEMM.packPanels(k, channels: n, k: hs, ldw: ld, into: kp)
        PackedGEMM.packPanels(posKey(head: h) + lo * hs, channels: w, k: hs, ldw: hs, into: pkp)   // rows lo...hi
        // c2c: (n, n) = Q_h · K_hᵀ
        PackedGEMM.gemm(q, rows: n, ldx: ld, k: hs, panels: kp, channels: 0..<n, into: scores, ldy: n)
        model.relIndex.withUnsafeBufferPointer { relTable in
            let rel = relTable.baseAddress! + (maxLen - 1)   // rel[d] = relIndex(d)
            // c2p: (n, w) = Q_h · PK[lo...hi, h]ᵀ, by blocks of query rows over their band.
            var i0 = 0
            while i0 < n {
                let i1 = min(i0 + EncoderLayer.bandRows, n)
                let bl = Int(rel[i0 - (n - 1)]) - lo, bh = Int(rel[i1 - 1]) - lo
                PackedGEMM.gemm(q + i0 * ld, rows: i1 - i0, ldx: ld, k: hs, panels: pkp, channels: bl..<(bh + 1),
                                into: c2p + i0 * w + bl, ldy: w)
                i0 = i1
            }
            // p2cᵀ: (w, n) = PQ[lo...hi, h] · K_hᵀ, by key panel over the table rows of its band.
            var j0 = 0
            while j0 < n {
                let j1 = min(j0 + PackedGEMM.panel, n)
                let bl = Int(rel[-(j1 - 1)]) - lo, bh = Int(rel[n - 1 - j0]) - lo
                PackedGEMM.gemm(pq + bl * hs, rows: bh - bl + 1, ldx: hs, k: hs, panels: kp, channels: j0..<j1,
                                into: p2cT + bl * n + j0, ldy: n)
                j0 = j1
            }
            PackedGEMM.positionSoftmax(scores, length: n, c2p: c2p, w: w, p2cT: p2cT, relIndex: rel, lo: lo)
        }
        // ctx_h: (n, HS) = P · V_h, written into the head's columns of ctx.
        PackedGEMM.packPanels(kMajor: v, channels: hs, k: n, ldwt: ld, into: vp)
        PackedGEMM.gemm(scores, rows: n, ldx: n, k: n, panels: vp, channels: 0..<hs, into: ws.ctx.pointer + offset * c + h * hs, ldy: c)
    }

    /// The rows of the relative table a sequence of n tokens reaches: δ is non-decreasing in
    /// i − j (checked when the model loads), so they are lo = δ(−(n−1)) through δ(n−1), w of them.
    static func tableRows(model: DebertaV2Model, length n: Int) -> (lo: Int, w: Int) {
        let lo = Int(model.relIndex[model.maxLength - 1 - (n - 1)])
        return (lo, Int(model.relIndex[model.maxLength - 1 + (n - 1)]) - lo + 1)
    }

    /// Query rows per c2p GEMM in `packedHead` (one tile's rows): each block's band is at most
    /// n + bandRows − 1 table rows (fewer where distances fall in log buckets).
    static let bandRows = 12

    /// S[i, j] += c2p[i, δ] + p2cᵀ[δ, j] for δ = relIndex(i − j) (both tables hold rows lo...hi).
    private func gatherPositional(model: DebertaV2Model, length n: Int, lo: Int, w: Int, scores: UnsafeMutablePointer<Float>,
                                  c2p: UnsafePointer<Float>, p2cT: UnsafePointer<Float>) {
        model.relIndex.withUnsafeBufferPointer { rel in
            let center = rel.baseAddress! + (model.maxLength - 1)
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
    }

    private func head(model: DebertaV2Model, offset: Int, length n: Int, head h: Int, ws: Workspace, slot: Int) {
        let c = model.hidden, hs = model.headSize, ld = 3 * c
        let (lo, w) = Self.tableRows(model: model, length: n)
        let scores = ws.scores[slot].pointer, c2p = ws.c2p[slot].pointer, p2cT = ws.p2cT[slot].pointer
        let q = ws.qkv.pointer + offset * ld + h * hs
        let k = q + c
        let v = q + 2 * c
        // c2c: (n, n) = Q_h · K_hᵀ
        BLAS.gemm(transB: true, m: n, n: n, k: hs, a: q, lda: ld, b: k, ldb: ld, c: scores, ldc: n)
        // c2p: (n, w) = Q_h · PK[lo...hi, h]ᵀ
        BLAS.gemm(transB: true, m: n, n: w, k: hs, a: q, lda: ld, b: posKey(head: h) + lo * hs, ldb: hs, c: c2p, ldc: w)
        // p2cᵀ: (w, n) = PQ[lo...hi, h] · K_hᵀ
        BLAS.gemm(transB: true, m: w, n: n, k: hs, a: posQuery(head: h) + lo * hs, lda: hs, b: k, ldb: ld, c: p2cT, ldc: n)
        gatherPositional(model: model, length: n, lo: lo, w: w, scores: scores, c2p: c2p, p2cT: p2cT)
        Kernels.softmaxRows(scores, rows: n, cols: n, ld: n)
        // ctx_h: (n, HS) = P · V_h, written into the head's columns of ctx.
        BLAS.gemm(m: n, n: hs, k: n, a: scores, lda: n, b: v, ldb: ld, c: ws.ctx.pointer + offset * c + h * hs, ldc: c)
    }
}

