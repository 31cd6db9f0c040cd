// Integer GEMM kernels for pairranker's opt-in int8 path (Tensors.Int8Linear wraps them).
// C because Swift has no VNNI intrinsics: VPDPBUSD (u8 x s8 -> s32, four products a lane) is the
// instruction the int8 path exists for. Every kernel is compiled for its ISA with a function
// attribute, so the module itself needs no CPU flags; callers check pr_int8_isa() first.
#ifndef PAIRRANKER_CINT8_H
#define PAIRRANKER_CINT8_H

#include <stddef.h>
#include <stdint.h>

/// Kernel families. PR_INT8_AVX512VNNI_YMM runs the 256-bit kernel with EVEX encodings: the same
/// code as the AVX-VNNI kernel, so an AVX-512 machine can test it.
enum {
    PR_INT8_NONE = 0,
    PR_INT8_AVX512VNNI = 1,
    PR_INT8_AVXVNNI = 2,
    PR_INT8_AVX512VNNI_YMM = 3,
    /// AMX-INT8 tiles (TDPBUSD), with the 512-bit code for what tiles do not fit; needs the OS
    /// to grant the tile state (on Linux, asked for once by pr_int8_isa_supported).
    PR_INT8_AMX = 4,
};

/// The best kernel family this CPU and OS can run (CPUID and XGETBV), or PR_INT8_NONE.
int pr_int8_isa(void);
/// Whether `isa` can run here.
int pr_int8_isa_supported(int isa);

/// Rows of quantized activations are padded to a multiple of this (pad rows hold zeros): the
/// 512-bit kernels read whole tiles of 6 rows, the AMX kernel of 16.
#define PR_INT8_ROW_MULTIPLE 48
/// Output channels are packed in blocks of 16; the input dimension in groups of 4.
#define PR_INT8_CHANNEL_BLOCK 16

/// Bytes of packed weights for n outputs and k inputs: round_up(n, 16) * round_up(k, 4).
size_t pr_int8_packed_bytes(int n, int k);

/// Quantizes a torch Linear weight (n x k, row stride ldw) per output channel:
/// scale[o] = max|w[o]| / 127, q = round_half_even(w / scale) in [-127, 127], packed for the
/// kernels; wsum[o] = sum(q[o]) (to take the activations' zero points back out).
/// packed: pr_int8_packed_bytes(n, k) bytes, 64-byte aligned; scale, wsum: round_up(n, 16) each
/// (pad channels get weight 0, scale 1, wsum 0).
void pr_int8_pack(const float *w, int n, int k, int ldw, int8_t *packed, float *scale, int32_t *wsum);

/// Quantizes activations per row, asymmetrically: with lo = min(0, min x[r]), hi = max(0, max x[r]),
/// scale[r] = (hi - lo) / 255 (1 for an all-zero row), zero[r] = round(-lo / scale) in [0, 255],
/// q[r][i] = round_half_even(x / scale) + zero, clamped to [0, 255] (NaN: 0); columns k..<ldq
/// hold 0 (their weights are 0). ldq >= round_up(k, 4). `isa` picks the vector code
/// (PR_INT8_NONE: portable C); every choice gives the same bytes. Rows are independent: ranges of
/// rows may be quantized in parallel.
void pr_int8_quantize(int isa, const float *x, int rows, int k, int ldx, uint8_t *q, int ldq, float *scale, int32_t *zero);

/// Fills rows rows..<round_up(rows, PR_INT8_ROW_MULTIPLE) with 0, scale 0 and zero point 0, which
/// the kernels read (and never store) as the rest of their last tile. Call after pr_int8_quantize.
void pr_int8_pad_rows(int rows, uint8_t *q, int ldq, float *scale, int32_t *zero);

/// y[r][o] = (sum_i q[r][i] * w[o][i] - xzero[r] * wsum[o]) * (xscale[r] * wscale[o]) + bias[o]
/// for rows 0..<rows (q padded as pr_int8_quantize leaves it) and output channels of the blocks
/// block_lo..<block_hi (16 channels each), only channels below n written. bias may be NULL.
/// The integer sums are exact, so every output is independent of `rows`, the block range and
/// the thread that computes it.
void pr_int8_gemm(int isa, const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows,
                  const int8_t *packed, int kpad, const float *wscale, const int32_t *wsum, const float *bias,
                  int n, int block_lo, int block_hi, float *y, int ldy);

#endif
