// pairranker's float32 GEMM for the dense layers of the exact path (Tensors.FloatLinear wraps it):
// the weights are packed once, at load, into panels the kernel streams, where a BLAS packs the
// weight matrix again on every call. AVX-512 (F) with FMA, chosen at run time by CPUID; callers
// check pr_f32_supported() first and use a BLAS otherwise.
//
// Every output is the same arithmetic: for each block of PR_F32_KBLOCK inputs in order, a chain
// of fused multiply-adds from 0 in k order, s_b = fma(x[r][i], w[o][i], ... fma(x[r][i0], w[o][i0], 0));
// then y[r][o] = ((s_0 + s_1) + ... + s_last) + bias[o] (the sums start from +0, so a sum of -0
// comes out +0: the one difference from that formula). Nothing else enters it, so a row's
// result never depends on which other rows share the call or how the rows or channels are split
// over threads: the batch invariance the engine relies on.
#ifndef PAIRRANKER_CGEMM_H
#define PAIRRANKER_CGEMM_H

#include <stddef.h>
#include <stdint.h>

/// Inputs per fused multiply-add chain (see above).
#define PR_F32_KBLOCK 256
/// Output channels are packed in panels of this many; the kernel computes tiles of
/// PR_F32_ROWS rows x PR_F32_PANEL channels.
#define PR_F32_PANEL 32
/// Rows of the packed activations are grouped by this many (pad rows hold zeros).
#define PR_F32_ROWS 12

/// Whether this CPU and OS run the kernel (AVX-512 F, FMA, ZMM state saved by the OS).
int pr_f32_supported(void);

/// Floats of packed weights for n outputs and k inputs: round_up(n, PR_F32_PANEL) * k.
size_t pr_f32_packed_floats(int n, int k);

/// Packs a torch Linear weight (n x k, row stride ldw): panel p holds, for each k, the weights of
/// channels 32p..<32p+32 (0 past n), k-major. packed: pr_f32_packed_floats(n, k) floats,
/// 64-byte aligned.
void pr_f32_pack(const float *w, int n, int k, int ldw, float *packed);

/// Packs the transpose of a k-major matrix: wt (k x n, row stride ldwt) holds wt[i][o] = w[o][i],
/// packed as pr_f32_pack(w) would pack it (attention's values: the inputs are the keys' positions).
void pr_f32_pack_kmajor(const float *wt, int n, int k, int ldwt, float *packed);

/// Floats of packed activations for `rows` rows of k inputs: round_up(rows, PR_F32_ROWS) * k.
size_t pr_f32_packed_rows_floats(int rows, int k);

/// Packs the row groups group_lo..<group_hi (PR_F32_ROWS rows each) of x (rows x k, row stride
/// ldx): group g holds, for each k, x[12g..<12g+12][k] (0 past `rows`), k-major. Groups are
/// independent: ranges of them may be packed in parallel. xp: pr_f32_packed_rows_floats floats,
/// 64-byte aligned.
void pr_f32_pack_rows(const float *x, int rows, int k, int ldx, float *xp, int group_lo, int group_hi);

/// y[r][o - c_lo] = sum_i x[r][i] * w[o][i] + bias[o] (the block chains above) for rows
/// 0..<rows of the packed activations xp and channels o in c_lo..<c_hi (c_hi <= n of the packing),
/// row stride ldy. bias (indexed by channel) may be NULL (0). Ranges of channels may run in
/// parallel (different threads, the same xp). Needs pr_f32_supported().
void pr_f32_gemm(const float *xp, int rows, int k, const float *packed, const float *bias, int c_lo, int c_hi,
                 float *y, int ldy);

/// pr_f32_gemm with the rows read in place: x row r at a + r * lda (rows x k, not packed), no
/// bias. The same arithmetic per output. One thread; needs pr_f32_supported().
void pr_f32_gemm_rm(const float *a, int rows, int lda, int k, const float *packed, int c_lo, int c_hi, float *y, int ldy);

/// Attention's scores of one head, in place: S[i][j] += c2p[i][δ − lo] + p2cT[δ − lo][j] for
/// δ = rel[i − j] (rel points at relIndex(0); c2p is n x w, p2cT is w x n, both rows lo...), then
/// each row of S (n x n) becomes its softmax. Only the entries the gather names are read.
/// Needs pr_f32_supported().
void pr_f32_position_softmax(float *scores, int n, const float *c2p, int w, const float *p2cT, const int32_t *rel, int lo);

#endif
