// pairranker's float32 GEMM over weights packed once (see CGemm.h for the contract).
//
// The tile: 12 rows x 32 channels in 24 ZMM accumulators. Per input k it loads the panel's 32
// weights (two ZMM) and broadcasts the 12 rows' activations, 24 FMAs. The accumulators start
// from 0 for each block of PR_F32_KBLOCK inputs and take its products in k order; the blocks'
// sums are added in order, then the bias. So every output is the same arithmetic whatever the
// tile, the row count or the thread (docs/model.md, "The fp32 kernel"). One chain over all of k
// would be as fast but several times less accurate at k = 4096 (measured against float64 by
// scripts/bench/f32); blocks of 256 are as accurate as OpenBLAS.
#include "CGemm.h"

#include <cpuid.h>
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define ATTR512 __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

// Row groups per row block (192 rows).
#define PR_F32_ROW_BLOCK 16

static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !fma) return 0;
    if ((xgetbv0() & 0xe6) != 0xe6) return 0;   // XMM, YMM, opmask, ZMM state saved by the OS
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 16) & 1;   // AVX512F
}

int pr_f32_supported(void) {
    static _Atomic int cached = -1;
    int v = cached;
    if (v < 0) cached = v = detect();
    return v;
}

size_t pr_f32_packed_floats(int n, int k) { return round_up((size_t)n, PR_F32_PANEL) * (size_t)k; }

size_t pr_f32_packed_rows_floats(int rows, int k) { return round_up((size_t)rows, PR_F32_ROWS) * (size_t)k; }

static void pack_scalar(const float *w, int n, int k, int ldw, float *packed) {
    size_t panels = round_up((size_t)n, PR_F32_PANEL) / PR_F32_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * (size_t)k * PR_F32_PANEL;
        for (int j = 0; j < PR_F32_PANEL; j++) {
            size_t o = p * PR_F32_PANEL + (size_t)j;
            if (o >= (size_t)n) {
                for (int i = 0; i < k; i++) dst[(size_t)i * PR_F32_PANEL + (size_t)j] = 0;
                continue;
            }
            const float *row = w + o * (size_t)ldw;
            for (int i = 0; i < k; i++) dst[(size_t)i * PR_F32_PANEL + (size_t)j] = row[i];
        }
    }
}

// r[j] (16 rows of 16) -> r[i] = column i of the input, in four shuffle stages: pairs of rows
// interleaved, then quads within each 128-bit lane (u[4g+c] lane L = column 4L+c of rows
// 4g..4g+3), then the lanes gathered across the four quads.
INLINE ATTR512 void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int g = 0; g < 4; g++) {
        u[4 * g] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; c++) {
        __m512 p01 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512 q01 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(1, 0, 1, 0));
        __m512 p23 = _mm512_shuffle_f32x4(u[c], u[4 + c], _MM_SHUFFLE(3, 2, 3, 2));
        __m512 q23 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], _MM_SHUFFLE(3, 2, 3, 2));
        r[c] = _mm512_shuffle_f32x4(p01, q01, _MM_SHUFFLE(2, 0, 2, 0));
        r[4 + c] = _mm512_shuffle_f32x4(p01, q01, _MM_SHUFFLE(3, 1, 3, 1));
        r[8 + c] = _mm512_shuffle_f32x4(p23, q23, _MM_SHUFFLE(2, 0, 2, 0));
        r[12 + c] = _mm512_shuffle_f32x4(p23, q23, _MM_SHUFFLE(3, 1, 3, 1));
    }
}

// pack_scalar's layout by 16 x 16 transposes: what attention packs on every call.
ATTR512 static void pack_avx512(const float *w, int n, int k, int ldw, float *packed) {
    size_t panels = round_up((size_t)n, PR_F32_PANEL) / PR_F32_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * (size_t)k * PR_F32_PANEL;
        for (int half = 0; half < 2; half++) {
            size_t o = p * PR_F32_PANEL + 16 * (size_t)half;
            for (int i0 = 0; i0 < k; i0 += 16) {
                int kn = k - i0 < 16 ? k - i0 : 16;
                __mmask16 m = (__mmask16)((1u << kn) - 1);
                __m512 r[16];
                for (int j = 0; j < 16; j++)
                    r[j] = o + (size_t)j < (size_t)n ? _mm512_maskz_loadu_ps(m, w + (o + (size_t)j) * (size_t)ldw + i0)
                                                     : _mm512_setzero_ps();
                transpose16(r);
                for (int t = 0; t < kn; t++) _mm512_store_ps(dst + (size_t)(i0 + t) * PR_F32_PANEL + 16 * half, r[t]);
            }
        }
    }
}

void pr_f32_pack(const float *w, int n, int k, int ldw, float *packed) {
    if (pr_f32_supported()) pack_avx512(w, n, k, ldw, packed);
    else pack_scalar(w, n, k, ldw, packed);
}

void pr_f32_pack_kmajor(const float *wt, int n, int k, int ldwt, float *packed) {
    size_t panels = round_up((size_t)n, PR_F32_PANEL) / PR_F32_PANEL;
    for (size_t p = 0; p < panels; p++) {
        float *dst = packed + p * (size_t)k * PR_F32_PANEL;
        size_t o0 = p * PR_F32_PANEL;
        size_t live = (size_t)n - o0 < PR_F32_PANEL ? (size_t)n - o0 : PR_F32_PANEL;
        for (int i = 0; i < k; i++) {
            float *d = dst + (size_t)i * PR_F32_PANEL;
            memcpy(d, wt + (size_t)i * (size_t)ldwt + o0, live * sizeof(float));
            if (live < PR_F32_PANEL) memset(d + live, 0, (PR_F32_PANEL - live) * sizeof(float));
        }
    }
}

void pr_f32_pack_rows(const float *x, int rows, int k, int ldx, float *xp, int group_lo, int group_hi) {
    for (int g = group_lo; g < group_hi; g++) {
        float *dst = xp + (size_t)g * (size_t)k * PR_F32_ROWS;
        int r0 = g * PR_F32_ROWS;
        for (int r = 0; r < PR_F32_ROWS; r++) {
            if (r0 + r >= rows) {
                for (int i = 0; i < k; i++) dst[(size_t)i * PR_F32_ROWS + (size_t)r] = 0;
                continue;
            }
            const float *row = x + (size_t)(r0 + r) * (size_t)ldx;
            for (int i = 0; i < k; i++) dst[(size_t)i * PR_F32_ROWS + (size_t)r] = row[i];
        }
    }
}

// One tile: the 12 rows of a packed row group times the 32 channels of a packed panel, all
// computed; rows 0..<mr and the lanes in `mask0`/`mask1` stored to y (row stride ldy; y is the
// panel's first channel). bias: the panel's 32 (NULL: 0), read only where masked in.
ATTR512 static void tile(const float *a, const float *b, int k, const float *bias, __mmask16 mask0, __mmask16 mask1,
                         float *y, int ldy, int mr) {
    __m512 t[PR_F32_ROWS][2];
    for (int r = 0; r < PR_F32_ROWS; r++) t[r][0] = t[r][1] = _mm512_setzero_ps();
    for (int k0 = 0; k0 < k; k0 += PR_F32_KBLOCK) {
        int kn = k - k0 < PR_F32_KBLOCK ? k - k0 : PR_F32_KBLOCK;
        __m512 z = _mm512_setzero_ps();
        __m512 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z;
        __m512 c40 = z, c41 = z, c50 = z, c51 = z, c60 = z, c61 = z, c70 = z, c71 = z;
        __m512 c80 = z, c81 = z, c90 = z, c91 = z, ca0 = z, ca1 = z, cb0 = z, cb1 = z;
#define ROW(r, c0, c1) { __m512 s = _mm512_set1_ps(a[r]); c0 = _mm512_fmadd_ps(s, w0, c0); c1 = _mm512_fmadd_ps(s, w1, c1); }
        for (int i = 0; i < kn; i++) {
            __m512 w0 = _mm512_load_ps(b), w1 = _mm512_load_ps(b + 16);
            ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31)
            ROW(4, c40, c41) ROW(5, c50, c51) ROW(6, c60, c61) ROW(7, c70, c71)
            ROW(8, c80, c81) ROW(9, c90, c91) ROW(10, ca0, ca1) ROW(11, cb0, cb1)
            a += PR_F32_ROWS;
            b += PR_F32_PANEL;
        }
#undef ROW
        __m512 c[PR_F32_ROWS][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51},
                                    {c60, c61}, {c70, c71}, {c80, c81}, {c90, c91}, {ca0, ca1}, {cb0, cb1}};
        for (int r = 0; r < PR_F32_ROWS; r++) {
            t[r][0] = _mm512_add_ps(t[r][0], c[r][0]);
            t[r][1] = _mm512_add_ps(t[r][1], c[r][1]);
        }
    }
    __m512 b0 = bias ? _mm512_maskz_loadu_ps(mask0, bias) : _mm512_setzero_ps();
    __m512 b1 = bias ? _mm512_maskz_loadu_ps(mask1, bias + 16) : _mm512_setzero_ps();
    if (mask0 == 0xffff && mask1 == 0xffff) {
        for (int r = 0; r < mr; r++) {
            _mm512_storeu_ps(y + (size_t)r * (size_t)ldy, _mm512_add_ps(t[r][0], b0));
            _mm512_storeu_ps(y + (size_t)r * (size_t)ldy + 16, _mm512_add_ps(t[r][1], b1));
        }
    } else {
        for (int r = 0; r < mr; r++) {
            _mm512_mask_storeu_ps(y + (size_t)r * (size_t)ldy, mask0, _mm512_add_ps(t[r][0], b0));
            _mm512_mask_storeu_ps(y + (size_t)r * (size_t)ldy + 16, mask1, _mm512_add_ps(t[r][1], b1));
        }
    }
}

// The lanes of a 32-channel panel starting at channel `base` that lie in [lo, hi).
static unsigned panel_lanes(int base, int lo, int hi) {
    unsigned m = 0xffffffffu;
    if (lo > base) m &= lo - base >= 32 ? 0 : 0xffffffffu << (lo - base);
    if (hi < base + 32) m &= hi <= base ? 0 : 0xffffffffu >> (base + 32 - hi);
    return m;
}

void pr_f32_gemm(const float *xp, int rows, int k, const float *packed, const float *bias, int c_lo, int c_hi,
                 float *y, int ldy) {
    if (rows <= 0 || c_lo >= c_hi) return;
    int groups = (rows + PR_F32_ROWS - 1) / PR_F32_ROWS;
    // Row blocks of PR_F32_ROW_BLOCK groups: the block's packed rows stay in cache while every
    // panel passes over them (a batch's rows, 6-24 MB packed at 1,536 rows, would otherwise
    // come from memory again for each panel); the weights are read once per block instead.
    for (int g0 = 0; g0 < groups; g0 += PR_F32_ROW_BLOCK) {
        int g1 = groups - g0 < PR_F32_ROW_BLOCK ? groups : g0 + PR_F32_ROW_BLOCK;
        for (int p = c_lo / PR_F32_PANEL; p * PR_F32_PANEL < c_hi; p++) {
            int base = p * PR_F32_PANEL;
            unsigned lanes = panel_lanes(base, c_lo, c_hi);
            __mmask16 m0 = (__mmask16)(lanes & 0xffff), m1 = (__mmask16)(lanes >> 16);
            // Masked-out lanes are neither read nor written, so y and bias are addressed as if the
            // panel's first channel were in range: with the first lane stored at y[0] for a partial
            // first panel. That base may lie before y (or, on the last row, its panel past y's
            // end); it is formed in integers and only masked-in lanes are ever accessed.
            const float *b = packed + (size_t)p * (size_t)k * PR_F32_PANEL;
            const float *bb = bias ? (const float *)((uintptr_t)bias + (uintptr_t)((intptr_t)base * 4)) : NULL;
            float *yp = (float *)((uintptr_t)y + (uintptr_t)((intptr_t)(base - c_lo) * 4));
            for (int g = g0; g < g1; g++) {
                int r0 = g * PR_F32_ROWS;
                int mr = rows - r0 < PR_F32_ROWS ? rows - r0 : PR_F32_ROWS;
                tile(xp + (size_t)g * (size_t)k * PR_F32_ROWS, b, k, bb, m0, m1, yp + (size_t)r0 * (size_t)ldy, ldy, mr);
            }
        }
    }
}

// `tile` with the rows read where they are (row r at a + r * lda) instead of packed: attention's
// operands change on every call, so packing them would cost as much as the products. Rows past
// mr read row mr - 1 again (nothing past the matrix is read) and are not stored.
ATTR512 static void tile_rm(const float *a, int lda, int mr, const float *b, int k, __mmask16 mask0, __mmask16 mask1,
                            float *y, int ldy) {
    const float *p[PR_F32_ROWS];
    for (int r = 0; r < PR_F32_ROWS; r++) p[r] = a + (size_t)(r < mr ? r : mr - 1) * (size_t)lda;
    __m512 t[PR_F32_ROWS][2];
    for (int r = 0; r < PR_F32_ROWS; r++) t[r][0] = t[r][1] = _mm512_setzero_ps();
    for (int k0 = 0; k0 < k; k0 += PR_F32_KBLOCK) {
        int k1 = k - k0 < PR_F32_KBLOCK ? k : k0 + PR_F32_KBLOCK;
        __m512 acc[PR_F32_ROWS][2];
        for (int r = 0; r < PR_F32_ROWS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
        for (int i = k0; i < k1; i++) {
            __m512 w0 = _mm512_load_ps(b), w1 = _mm512_load_ps(b + 16);
            for (int r = 0; r < PR_F32_ROWS; r++) {
                __m512 s = _mm512_set1_ps(p[r][i]);
                acc[r][0] = _mm512_fmadd_ps(s, w0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(s, w1, acc[r][1]);
            }
            b += PR_F32_PANEL;
        }
        for (int r = 0; r < PR_F32_ROWS; r++) {
            t[r][0] = _mm512_add_ps(t[r][0], acc[r][0]);
            t[r][1] = _mm512_add_ps(t[r][1], acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(y + (size_t)r * (size_t)ldy, mask0, t[r][0]);
        _mm512_mask_storeu_ps(y + (size_t)r * (size_t)ldy + 16, mask1, t[r][1]);
    }
}

void pr_f32_gemm_rm(const float *a, int rows, int lda, int k, const float *packed, int c_lo, int c_hi, float *y, int ldy) {
    if (rows <= 0 || c_lo >= c_hi) return;
    for (int p = c_lo / PR_F32_PANEL; p * PR_F32_PANEL < c_hi; p++) {
        int base = p * PR_F32_PANEL;
        unsigned lanes = panel_lanes(base, c_lo, c_hi);
        __mmask16 m0 = (__mmask16)(lanes & 0xffff), m1 = (__mmask16)(lanes >> 16);
        const float *b = packed + (size_t)p * (size_t)k * PR_F32_PANEL;
        float *yp = (float *)((uintptr_t)y + (uintptr_t)((intptr_t)(base - c_lo) * 4));
        for (int r0 = 0; r0 < rows; r0 += PR_F32_ROWS) {
            int mr = rows - r0 < PR_F32_ROWS ? rows - r0 : PR_F32_ROWS;
            tile_rm(a + (size_t)r0 * (size_t)lda, lda, mr, b, k, m0, m1, yp + (size_t)r0 * (size_t)ldy, ldy);
        }
    }
}
