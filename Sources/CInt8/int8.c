// pairranker's int8 GEMM: weights packed once per output channel (s8), activations quantized per
// row (u8 with a zero point), VPDPBUSD (or AMX's TDPBUSD) accumulating four u8 x s8 products into
// each s32 lane.
// The sums are exact (|sum| <= k * 255 * 127 < 2^31 for k < 66,000), so a row's result never
// depends on which other rows or threads share the call. docs/model.md, "The int8 path".
#include "CInt8.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ATTR512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define ATTR256VEX __attribute__((target("avx2,fma,avxvnni")))
#define ATTR256EVEX __attribute__((target("avx2,fma,avx512f,avx512vl,avx512vnni")))
#define ATTRAVX2 __attribute__((target("avx2,fma")))
#define ATTRAMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni")))
#define INLINE static inline __attribute__((always_inline))

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

// A rounded value into [-127, 127]; NaN gives -127, as the vector code's INT_MIN clamped does
// (and no cast of an out-of-range float, which is undefined in C).
static int clamp127(float v) { return v >= 127 ? 127 : v >= -127 ? (int)v : -127; }

// ---------------------------------------------------------------------------------------------
// CPU detection: CPUID for the instructions, XGETBV for the OS saving the registers.

static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

// Linux hands the 8 KB of tile data state only to a process that asks for it (arch_prctl
// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA); the grant is process-wide. It says no, for example,
// where a thread's signal stack is too small for the larger signal frame: then AMX is not used.
// The first answer is kept; racing first calls both ask and get the same answer (relaxed atomics:
// no data race for the compiler or TSan).
static int amx_permitted(void) {
    static int answer = -1;
    int a = __atomic_load_n(&answer, __ATOMIC_RELAXED);
    if (a < 0) {
#if defined(__linux__) && defined(SYS_arch_prctl)
        a = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
        a = 0;
#endif
        __atomic_store_n(&answer, a, __ATOMIC_RELAXED);
    }
    return a;
}

int pr_int8_isa_supported(int isa) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx || !fma) return 0;
    unsigned long long xcr0 = xgetbv0();
    int ymm_os = (xcr0 & 0x6) == 0x6, zmm_os = (xcr0 & 0xe6) == 0xe6;
    if (!ymm_os) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    int avx512vnni = (c >> 11) & 1;
    int avx512 = zmm_os && avx2 && avx512f && avx512bw && avx512vl && avx512vnni;
    int amx = (d >> 24) & 1 && (d >> 25) & 1;   // AMX-TILE, AMX-INT8
    unsigned int a1 = 0, b1, c1, d1;
    int avxvnni = 0;
    if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) avxvnni = (a1 >> 4) & 1;
    switch (isa) {
    case PR_INT8_AVX512VNNI:
    case PR_INT8_AVX512VNNI_YMM: return avx512;
    case PR_INT8_AVXVNNI: return avx2 && avxvnni;
    case PR_INT8_AMX: return avx512 && amx && (xcr0 & 0x60000) == 0x60000 && amx_permitted();   // XTILECFG, XTILEDATA
    default: return 0;
    }
}

// pr_int8_isa_supported(PR_INT8_AMX), asked once (CPUID can trap to a hypervisor: not per GEMM).
static int amx_usable(void) {
    static int answer = -1;
    int a = __atomic_load_n(&answer, __ATOMIC_RELAXED);
    if (a < 0) __atomic_store_n(&answer, a = pr_int8_isa_supported(PR_INT8_AMX), __ATOMIC_RELAXED);
    return a;
}

int pr_int8_isa(void) {
    if (pr_int8_isa_supported(PR_INT8_AMX)) return PR_INT8_AMX;
    if (pr_int8_isa_supported(PR_INT8_AVX512VNNI)) return PR_INT8_AVX512VNNI;
    if (pr_int8_isa_supported(PR_INT8_AVXVNNI)) return PR_INT8_AVXVNNI;
    return PR_INT8_NONE;
}

// ---------------------------------------------------------------------------------------------
// Packing. Block b of 16 channels, group g of 4 inputs: 64 bytes, lane-major (channel lane's four
// bytes adjacent), which is the B operand of one 512-bit VPDPBUSD or two 256-bit ones.

size_t pr_int8_packed_bytes(int n, int k) {
    return (size_t)round_up(n, PR_INT8_CHANNEL_BLOCK) * (size_t)round_up(k, 4);
}

void pr_int8_pack(const float *w, int n, int k, int ldw, int8_t *packed, float *scale, int32_t *wsum) {
    int npad = round_up(n, PR_INT8_CHANNEL_BLOCK), kpad = round_up(k, 4), kg = kpad / 4;
    memset(packed, 0, pr_int8_packed_bytes(n, k));
    for (int o = 0; o < npad; o++) {
        if (o >= n) { scale[o] = 1; wsum[o] = 0; continue; }
        const float *row = w + (size_t)o * ldw;
        float m = 0;
        for (int i = 0; i < k; i++) m = fmaxf(m, fabsf(row[i]));
        float s = m > 0 ? m / 127 : 1;
        float inv = 1 / s;
        int32_t sum = 0;
        size_t blk = (size_t)(o / 16), lane = (size_t)(o % 16);
        for (int i = 0; i < k; i++) {
            float v = nearbyintf(row[i] * inv);
            int q = clamp127(v);
            packed[((blk * kg + (size_t)(i / 4)) * 16 + lane) * 4 + (size_t)(i % 4)] = (int8_t)q;
            sum += q;
        }
        scale[o] = s;
        wsum[o] = sum;
    }
}

// ---------------------------------------------------------------------------------------------
// Activation quantization, asymmetric per row: the range [lo, hi] of the row, widened to hold 0,
// in 255 steps: scale = (hi - lo) / 255 (1 for an all-zero row), zero = round(-lo / scale), and
// q = round(x / scale) + zero in [0, 255], so x ~ (q - zero) * scale. Every variant computes, per
// element, nearbyintf(x * (1 / scale)) in float under the default rounding mode (half to even),
// so all give the same bytes. Skewed rows (GELU outputs, >= -0.17) keep all 255 steps where a
// symmetric scale would spend half of them on values that never occur.

static void fill_pad_rows(int rows, uint8_t *q, int ldq, float *scale, int32_t *zero) {
    int padded = round_up(rows, PR_INT8_ROW_MULTIPLE);
    for (int r = rows; r < padded; r++) { memset(q + (size_t)r * ldq, 0, (size_t)ldq); scale[r] = 0; zero[r] = 0; }
}

// The row's scale, 1 / scale and zero point from its range (lo <= 0 <= hi, or NaN-free bounds).
static void row_params(float lo, float hi, float *scale, float *inv, int32_t *zero) {
    float s = hi - lo > 0 ? (hi - lo) / 255 : 1;
    float i = 1 / s;
    float z = nearbyintf(-lo * i);
    *scale = s;
    *inv = i;
    *zero = z >= 255 ? 255 : z >= 0 ? (int32_t)z : 0;   // NaN -> 0
}

// round(x * inv) + zero into [0, 255]; NaN gives 0, as the vector code's INT_MIN clamped does.
static uint8_t to_u8(float v, int32_t zero) {
    float t = v + (float)zero;
    return (uint8_t)(t >= 255 ? 255 : t >= 0 ? (int)t : 0);
}

static void quantize_c(const float *x, int rows, int k, int ldx, uint8_t *q, int ldq, float *scale, int32_t *zero) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        float lo = 0, hi = 0;
        for (int i = 0; i < k; i++) { lo = fminf(lo, xr[i]); hi = fmaxf(hi, xr[i]); }
        float inv;
        row_params(lo, hi, &scale[r], &inv, &zero[r]);
        for (int i = 0; i < k; i++) qr[i] = to_u8(nearbyintf(xr[i] * inv), zero[r]);
        memset(qr + k, 0, (size_t)(ldq - k));
    }
}

ATTR512 static void quantize_512(const float *x, int rows, int k, int ldx, uint8_t *q, int ldq, float *scale, int32_t *zero) {
    const __m512i zmin = _mm512_setzero_si512(), zmax = _mm512_set1_epi32(255);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        __m512 mn = _mm512_setzero_ps(), mx = _mm512_setzero_ps();
        for (int i = 0; i < k; i += 16) {
            __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(mk, xr + i);   // masked lanes read 0, inside [lo, hi]
            // (x, m) order: a NaN x leaves m as it was, like fminf / fmaxf.
            mn = _mm512_min_ps(v, mn);
            mx = _mm512_max_ps(v, mx);
        }
        float inv;
        row_params(_mm512_reduce_min_ps(mn), _mm512_reduce_max_ps(mx), &scale[r], &inv, &zero[r]);
        __m512 iv = _mm512_set1_ps(inv);
        __m512 zv = _mm512_set1_ps((float)zero[r]);
        for (int i = 0; i < k; i += 16) {
            __mmask16 mk = k - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - i)) - 1);
            __m512 v = _mm512_roundscale_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, xr + i), iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m512i t = _mm512_cvtps_epi32(_mm512_add_ps(v, zv));   // exact: integers below 2^24; NaN -> INT_MIN
            t = _mm512_min_epi32(_mm512_max_epi32(t, zmin), zmax);
            _mm512_mask_cvtepi32_storeu_epi8(qr + i, mk, t);
        }
        memset(qr + k, 0, (size_t)(ldq - k));
    }
}

ATTRAVX2 static void quantize_avx2(const float *x, int rows, int k, int ldx, uint8_t *q, int ldq, float *scale, int32_t *zero) {
    const __m256i zmin = _mm256_setzero_si256(), zmax = _mm256_set1_epi32(255);
    const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    int k8 = k / 8 * 8;
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * ldx;
        uint8_t *qr = q + (size_t)r * ldq;
        __m256 mn = _mm256_setzero_ps(), mx = _mm256_setzero_ps();
        for (int i = 0; i < k8; i += 8) {
            __m256 v = _mm256_loadu_ps(xr + i);
            mn = _mm256_min_ps(v, mn);
            mx = _mm256_max_ps(v, mx);
        }
        float a[8], b[8];
        _mm256_storeu_ps(a, mn);
        _mm256_storeu_ps(b, mx);
        float lo = 0, hi = 0;
        for (int j = 0; j < 8; j++) { lo = fminf(lo, a[j]); hi = fmaxf(hi, b[j]); }
        for (int i = k8; i < k; i++) { lo = fminf(lo, xr[i]); hi = fmaxf(hi, xr[i]); }
        float inv;
        row_params(lo, hi, &scale[r], &inv, &zero[r]);
        __m256 iv = _mm256_set1_ps(inv), zv = _mm256_set1_ps((float)zero[r]);
        for (int i = 0; i < k8; i += 8) {
            __m256 v = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(xr + i), iv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m256i t = _mm256_cvtps_epi32(_mm256_add_ps(v, zv));
            t = _mm256_min_epi32(_mm256_max_epi32(t, zmin), zmax);
            __m256i g = _mm256_shuffle_epi8(t, gather);   // bytes 0-3 of each 128-bit lane
            int32_t w0 = _mm256_extract_epi32(g, 0), w1 = _mm256_extract_epi32(g, 4);
            memcpy(qr + i, &w0, 4);
            memcpy(qr + i + 4, &w1, 4);
        }
        for (int i = k8; i < k; i++) qr[i] = to_u8(nearbyintf(xr[i] * inv), zero[r]);
        memset(qr + k, 0, (size_t)(ldq - k));
    }
}

void pr_int8_quantize(int isa, const float *x, int rows, int k, int ldx, uint8_t *q, int ldq, float *scale, int32_t *zero) {
    if (isa == PR_INT8_AVX512VNNI || isa == PR_INT8_AVX512VNNI_YMM || isa == PR_INT8_AMX) quantize_512(x, rows, k, ldx, q, ldq, scale, zero);
    else if (isa == PR_INT8_AVXVNNI) quantize_avx2(x, rows, k, ldx, q, ldq, scale, zero);
    else quantize_c(x, rows, k, ldx, q, ldq, scale, zero);
}

void pr_int8_pad_rows(int rows, uint8_t *q, int ldq, float *scale, int32_t *zero) { fill_pad_rows(rows, q, ldq, scale, zero); }

// ---------------------------------------------------------------------------------------------
// 512-bit kernel: a tile of 6 rows x NV blocks (NV <= 4: 64 channels, 24 accumulators).

#define MR512 6

INLINE ATTR512 void store512(float *dst, int o, int n, __m512 v) {
    if (o + 16 <= n) _mm512_storeu_ps(dst, v);
    else if (o < n) _mm512_mask_storeu_ps(dst, (__mmask16)((1u << (n - o)) - 1), v);
}

INLINE ATTR512 void tiles512(const int NV, const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows,
                             const int8_t *packed, int kg, const float *wscale, const int32_t *wsum,
                             const float *bias, int n, int blk, float *y, int ldy) {
    const int8_t *w = packed + (size_t)blk * kg * 64;
    for (int r0 = 0; r0 < rows; r0 += MR512) {
        __m512i acc[MR512][4];
        for (int r = 0; r < MR512; r++)
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_si512();
        const uint8_t *a = q + (size_t)r0 * ldq;
        for (int g = 0; g < kg; g++) {
            __m512i b[4];
            for (int v = 0; v < NV; v++) b[v] = _mm512_load_si512((const void *)(w + ((size_t)v * kg + g) * 64));
            for (int r = 0; r < MR512; r++) {
                int32_t four;
                memcpy(&four, a + (size_t)r * ldq + 4 * g, 4);
                __m512i av = _mm512_set1_epi32(four);
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, b[v]);
            }
        }
        for (int r = 0; r < MR512 && r0 + r < rows; r++) {
            __m512 xs = _mm512_set1_ps(xscale[r0 + r]);
            __m512i z = _mm512_set1_epi32(xzero[r0 + r]);
            for (int v = 0; v < NV; v++) {
                int o = (blk + v) * 16;
                __m512 s = _mm512_mul_ps(xs, _mm512_loadu_ps(wscale + o));
                __m512i zc = _mm512_mullo_epi32(z, _mm512_loadu_si512((const void *)(wsum + o)));
                __m512 c = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], zc));
                __m512 bv = bias ? _mm512_loadu_ps(bias + o) : _mm512_setzero_ps();
                store512(y + (size_t)(r0 + r) * ldy + o, o, n, _mm512_fmadd_ps(c, s, bv));
            }
        }
    }
}

ATTR512 static void gemm512(const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows, const int8_t *packed, int kpad,
                            const float *wscale, const int32_t *wsum, const float *bias, int n, int block_lo,
                            int block_hi, float *y, int ldy) {
    int kg = kpad / 4;
    for (int blk = block_lo; blk < block_hi; blk += 4) {
        switch (block_hi - blk >= 4 ? 4 : block_hi - blk) {
        case 4: tiles512(4, q, ldq, xscale, xzero, rows, packed, kg, wscale, wsum, bias, n, blk, y, ldy); break;
        case 3: tiles512(3, q, ldq, xscale, xzero, rows, packed, kg, wscale, wsum, bias, n, blk, y, ldy); break;
        case 2: tiles512(2, q, ldq, xscale, xzero, rows, packed, kg, wscale, wsum, bias, n, blk, y, ldy); break;
        default: tiles512(1, q, ldq, xscale, xzero, rows, packed, kg, wscale, wsum, bias, n, blk, y, ldy); break;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 256-bit kernel: a tile of 6 rows x one block (16 channels as two ymm, 12 accumulators), for
// CPUs with AVX-VNNI and no AVX-512 (VEX encoding) and, with EVEX encoding, for testing it on
// AVX-512 machines.

#define MR256 6

#define DEFINE_GEMM256(NAME, ATTR, DPBUSD)                                                                  \
    ATTR static void NAME(const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows,    \
                          const int8_t *packed, int kpad, const float *wscale, const int32_t *wsum,          \
                          const float *bias, int n,                                                          \
                          int block_lo, int block_hi, float *y, int ldy) {                                   \
        int kg = kpad / 4;                                                                                   \
        for (int blk = block_lo; blk < block_hi; blk++) {                                                    \
            const int8_t *w = packed + (size_t)blk * kg * 64;                                                \
            int o = blk * 16;                                                                                \
            for (int r0 = 0; r0 < rows; r0 += MR256) {                                                       \
                __m256i acc[MR256][2];                                                                       \
                for (int r = 0; r < MR256; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();              \
                const uint8_t *a = q + (size_t)r0 * ldq;                                                     \
                for (int g = 0; g < kg; g++) {                                                               \
                    __m256i b0 = _mm256_load_si256((const __m256i *)(w + (size_t)g * 64));                   \
                    __m256i b1 = _mm256_load_si256((const __m256i *)(w + (size_t)g * 64 + 32));              \
                    for (int r = 0; r < MR256; r++) {                                                        \
                        int32_t four;                                                                        \
                        memcpy(&four, a + (size_t)r * ldq + 4 * g, 4);                                       \
                        __m256i av = _mm256_set1_epi32(four);                                                \
                        acc[r][0] = DPBUSD(acc[r][0], av, b0);                                               \
                        acc[r][1] = DPBUSD(acc[r][1], av, b1);                                               \
                    }                                                                                        \
                }                                                                                            \
                for (int r = 0; r < MR256 && r0 + r < rows; r++) {                                           \
                    __m256 xs = _mm256_set1_ps(xscale[r0 + r]);                                              \
                    __m256i z = _mm256_set1_epi32(xzero[r0 + r]);                                            \
                    float out[16];                                                                           \
                    for (int h = 0; h < 2; h++) {                                                            \
                        __m256 s = _mm256_mul_ps(xs, _mm256_loadu_ps(wscale + o + 8 * h));                   \
                        __m256i cv = _mm256_mullo_epi32(z, _mm256_loadu_si256((const __m256i *)(wsum + o + 8 * h))); \
                        __m256 c = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r][h], cv));                      \
                        __m256 bv = bias ? _mm256_loadu_ps(bias + o + 8 * h) : _mm256_setzero_ps();          \
                        _mm256_storeu_ps(out + 8 * h, _mm256_fmadd_ps(c, s, bv));                            \
                    }                                                                                        \
                    int valid = n - o < 16 ? n - o : 16;                                                     \
                    memcpy(y + (size_t)(r0 + r) * ldy + o, out, sizeof(float) * (size_t)valid);              \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }

#define DPBUSD_VEX(acc, a, b) _mm256_dpbusd_avx_epi32(acc, a, b)
#define DPBUSD_EVEX(acc, a, b) _mm256_dpbusd_epi32(acc, a, b)
DEFINE_GEMM256(gemm256_vex, ATTR256VEX, DPBUSD_VEX)
DEFINE_GEMM256(gemm256_evex, ATTR256EVEX, DPBUSD_EVEX)

// ---------------------------------------------------------------------------------------------
// AMX kernel: TDPBUSD on tiles of 16 rows x 64 bytes, the same u8 x s8 -> s32 sums as VPDPBUSD
// (exact, no saturation), so its outputs are the 512-bit kernel's bits. 16 groups of 4 inputs of
// a block of 16 channels are 1 KB of the packing above, contiguous: one B tile (row stride 64).
// An A tile is 16 rows of q (stride ldq) and 64 of its columns. Tiles: C 0-3 (32 rows x 32
// channels), A 4-5, B 6-7. Needs kpad % 64 == 0 (the dispatcher sends other widths to the 512-bit
// kernel) and q padded to a multiple of 16 rows (PR_INT8_ROW_MULTIPLE is one).

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_config;

// The 512-bit kernel's epilogue, instruction for instruction, from a block of sums (row stride 32).
INLINE ATTRAMX void amx_epilogue(const int32_t *sums, int nrows, int nblocks, const float *xscale, const int32_t *xzero,
                                 const float *wscale, const int32_t *wsum, const float *bias, int n, int blk, float *y,
                                 int ldy) {
    for (int r = 0; r < nrows; r++) {
        __m512 xs = _mm512_set1_ps(xscale[r]);
        __m512i z = _mm512_set1_epi32(xzero[r]);
        for (int v = 0; v < nblocks; v++) {
            int o = (blk + v) * 16;
            __m512 s = _mm512_mul_ps(xs, _mm512_loadu_ps(wscale + o));
            __m512i zc = _mm512_mullo_epi32(z, _mm512_loadu_si512((const void *)(wsum + o)));
            __m512i acc = _mm512_load_si512((const void *)(sums + r * 32 + v * 16));
            __m512 c = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, zc));
            __m512 bv = bias ? _mm512_loadu_ps(bias + o) : _mm512_setzero_ps();
            store512(y + (size_t)r * ldy + o, o, n, _mm512_fmadd_ps(c, s, bv));
        }
    }
}

// One block of 32 rows (16: TWO_ROWS 0) by 32 channels (16: TWO_BLOCKS 0) over the whole depth.
#define AMX_BLOCK(TWO_ROWS, TWO_BLOCKS)                                                   \
    do {                                                                                  \
        _tile_zero(0);                                                                    \
        if (TWO_BLOCKS) _tile_zero(1);                                                    \
        if (TWO_ROWS) _tile_zero(2);                                                      \
        if (TWO_ROWS && TWO_BLOCKS) _tile_zero(3);                                        \
        for (int t = 0; t < kt; t++) {                                                    \
            _tile_loadd(4, a0 + 64 * t, ldq);                                             \
            _tile_loadd(6, w0 + (size_t)t * 1024, 64);                                    \
            if (TWO_BLOCKS) _tile_loadd(7, w1 + (size_t)t * 1024, 64);                    \
            _tile_dpbusd(0, 4, 6);                                                        \
            if (TWO_BLOCKS) _tile_dpbusd(1, 4, 7);                                        \
            if (TWO_ROWS) {                                                               \
                _tile_loadd(5, a1 + 64 * t, ldq);                                         \
                _tile_dpbusd(2, 5, 6);                                                    \
                if (TWO_BLOCKS) _tile_dpbusd(3, 5, 7);                                    \
            }                                                                             \
        }                                                                                 \
        _tile_stored(0, sums, 128);                                                       \
        if (TWO_BLOCKS) _tile_stored(1, sums + 16, 128);                                  \
        if (TWO_ROWS) _tile_stored(2, sums + 16 * 32, 128);                               \
        if (TWO_ROWS && TWO_BLOCKS) _tile_stored(3, sums + 16 * 32 + 16, 128);            \
    } while (0)

ATTRAMX static void gemm_amx(const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows,
                             const int8_t *packed, int kpad, const float *wscale, const int32_t *wsum, const float *bias,
                             int n, int block_lo, int block_hi, float *y, int ldy) {
    amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) { cfg.colsb[t] = 64; cfg.rows[t] = 16; }
    _tile_loadconfig(&cfg);
    int32_t sums[32 * 32] __attribute__((aligned(64)));
    int kg = kpad / 4, kt = kpad / 64, rpad = round_up(rows, 16);
    for (int blk = block_lo; blk < block_hi; blk += 2) {
        int two_blocks = block_hi - blk >= 2;
        const int8_t *w0 = packed + (size_t)blk * kg * 64, *w1 = w0 + (size_t)kg * 64;
        for (int r0 = 0; r0 < rpad; r0 += 32) {   // the pair's weights stay in cache over the rows
            const uint8_t *a0 = q + (size_t)r0 * ldq, *a1 = a0 + (size_t)16 * ldq;
            int two_rows = rpad - r0 >= 32;
            if (two_rows && two_blocks) AMX_BLOCK(1, 1);
            else if (two_rows) AMX_BLOCK(1, 0);
            else if (two_blocks) AMX_BLOCK(0, 1);
            else AMX_BLOCK(0, 0);
            int nrows = rows - r0 < 32 ? rows - r0 : 32;
            amx_epilogue(sums, nrows, two_blocks ? 2 : 1, xscale + r0, xzero + r0, wscale, wsum, bias, n, blk,
                         y + (size_t)r0 * ldy, ldy);
        }
    }
    _tile_release();   // hand the tile state back, so context switches stop saving 8 KB
}

void pr_int8_gemm(int isa, const uint8_t *q, int ldq, const float *xscale, const int32_t *xzero, int rows,
                  const int8_t *packed, int kpad, const float *wscale, const int32_t *wsum, const float *bias,
                  int n, int block_lo, int block_hi, float *y, int ldy) {
    if (rows <= 0 || block_lo >= block_hi) return;
    // No partial tiles; and no tile instruction before the OS granted the tile state (a caller may
    // pass PR_INT8_AMX without ever calling pr_int8_isa_supported, which is what asks): the answer
    // is cached, and the 512-bit kernel gives the same bits.
    if (isa == PR_INT8_AMX && (kpad % 64 != 0 || !amx_usable())) isa = PR_INT8_AVX512VNNI;
    switch (isa) {
    case PR_INT8_AMX:
        gemm_amx(q, ldq, xscale, xzero, rows, packed, kpad, wscale, wsum, bias, n, block_lo, block_hi, y, ldy);
        break;
    case PR_INT8_AVX512VNNI:
        gemm512(q, ldq, xscale, xzero, rows, packed, kpad, wscale, wsum, bias, n, block_lo, block_hi, y, ldy);
        break;
    case PR_INT8_AVXVNNI:
        gemm256_vex(q, ldq, xscale, xzero, rows, packed, kpad, wscale, wsum, bias, n, block_lo, block_hi, y, ldy);
        break;
    case PR_INT8_AVX512VNNI_YMM:
        gemm256_evex(q, ldq, xscale, xzero, rows, packed, kpad, wscale, wsum, bias, n, block_lo, block_hi, y, ldy);
        break;
    default:
        break;
    }
}
