// Attention's positional gather and row softmax for the packed fp32 path (see CGemm.h).
//
// exp is the polynomial of Tensors.SIMDMath.exp, operation for operation and without fused
// multiply-adds, so a probability is what the Swift kernels compute from the same scores (only
// the order the row's exponentials are summed in can differ).
#include "CGemm.h"

#include <immintrin.h>
#include <stdint.h>

#pragma STDC FP_CONTRACT OFF

#define ATTR512 __attribute__((target("avx512f,fma")))
#define INLINE static inline __attribute__((always_inline))

INLINE ATTR512 __m512 exp16(__m512 x) {
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.7f));
    __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 shifted = _mm512_add_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)), magic);
    __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(xc, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.12194440e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 e = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, r2), r), _mm512_set1_ps(1.0f));
    __m512i ni = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(ni, _mm512_set1_epi32(127)), 23);
    __m512 out = _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
    __mmask16 under = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    return _mm512_mask_mov_ps(out, under, _mm512_setzero_ps());
}

ATTR512 void pr_f32_position_softmax(float *scores, int n, const float *c2p, int w, const float *p2cT,
                                     const int32_t *rel, int lo) {
    for (int i = 0; i < n; i++) {
        float *row = scores + (size_t)i * (size_t)n;
        const float *c2pRow = c2p + (size_t)i * (size_t)w;
        const int32_t *dr = rel + i;   // dr[-j] = relIndex(i - j)
        // The gather in scalar code: AVX-512 gathers are slower per element on the CPUs
        // measured (Zen 4: about 1 ns each against 0.3 ns for two loads and an add).
        for (int j = 0; j < n; j++) {
            int r = dr[-j] - lo;
            row[j] += c2pRow[r] + p2cT[(size_t)r * (size_t)n + (size_t)j];
        }
        __m512 vmax = _mm512_set1_ps(-__builtin_inff());
        for (int j0 = 0; j0 < n; j0 += 16) {
            int cnt = n - j0 < 16 ? n - j0 : 16;
            __mmask16 m = (__mmask16)((1u << cnt) - 1);
            vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, row + j0));
        }
        __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 sum = _mm512_setzero_ps();
        for (int j0 = 0; j0 < n; j0 += 16) {
            int cnt = n - j0 < 16 ? n - j0 : 16;
            __mmask16 m = (__mmask16)((1u << cnt) - 1);
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, row + j0), mx));
            _mm512_mask_storeu_ps(row + j0, m, e);
            sum = _mm512_mask_add_ps(sum, m, sum, e);
        }
        __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
        for (int j0 = 0; j0 < n; j0 += 16) {
            int cnt = n - j0 < 16 ? n - j0 : 16;
            __mmask16 m = (__mmask16)((1u << cnt) - 1);
            _mm512_mask_storeu_ps(row + j0, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, row + j0), inv));
        }
    }
}
