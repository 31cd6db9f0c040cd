// Int8 GEMM candidates for an opt-in int8 path, timed on the PairRanker's dense shapes against
// OpenBLAS's float32 SGEMM in the same process:
//   (a) our AVX512-VNNI kernel over weights packed once (s8, per output channel scales), with
//       activations quantized per token to u8 (x_q + 128, the column sums compensate the 128);
//   (b) oneDNN's dnnl_gemm_u8s8s32 on the same quantized operands (packs per call).
// Build and run: bash scripts/bench/int8/run.sh  (needs libdnnl-dev, libopenblas-dev)
#include <cblas.h>
#include <dnnl.h>
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

// Packed weights: n/16 blocks; in each, k/4 groups of 16 channels x 4 k bytes (one zmm).
typedef struct { int n, k; int8_t *w; float *scale; int32_t *sum128; } Packed;

static Packed pack(const float *w, int n, int k) {
    Packed p = {n, k, aligned_alloc(64, (size_t)n * k), malloc(sizeof(float) * n), malloc(sizeof(int32_t) * n)};
    for (int o = 0; o < n; o++) {
        float m = 0; for (int i = 0; i < k; i++) m = fmaxf(m, fabsf(w[(size_t)o * k + i]));
        p.scale[o] = m > 0 ? m / 127 : 1;
        int32_t s = 0;
        for (int i = 0; i < k; i++) {
            int q = (int)lrintf(w[(size_t)o * k + i] / p.scale[o]);
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            size_t blk = o / 16, lane = o % 16, grp = i / 4, sub = i % 4;
            p.w[((blk * (k / 4) + grp) * 16 + lane) * 4 + sub] = (int8_t)q;
            s += q;
        }
        p.sum128[o] = 128 * s;
    }
    return p;
}

// x (m x k) float -> u8 (x/scale + 128) per row, scale = max|x|/127.
static void quantize(const float *x, int m, int k, uint8_t *q, float *scale) {
    for (int r = 0; r < m; r++) {
        float mx = 0; for (int i = 0; i < k; i++) mx = fmaxf(mx, fabsf(x[(size_t)r * k + i]));
        scale[r] = mx > 0 ? mx / 127 : 1;
        float inv = 1 / scale[r];
        for (int i = 0; i < k; i++) q[(size_t)r * k + i] = (uint8_t)(lrintf(x[(size_t)r * k + i] * inv) + 128);
    }
}

// y (m x n) = dequant(q (m x k) . W^T) + bias. Tiles of 6 rows x 64 channels in registers.
#define MR 6
static void gemm_vnni(const uint8_t *q, const float *xs, int m, const Packed *p, const float *bias, float *y) {
    int n = p->n, k = p->k, kg = k / 4;
    for (int nb = 0; nb < n / 16; nb += 4) {
        const int8_t *w0 = p->w + (size_t)nb * kg * 64;
        for (int r0 = 0; r0 < m; r0 += MR) {
            int rows = m - r0 < MR ? m - r0 : MR;
            __m512i acc[MR][4];
            for (int r = 0; r < MR; r++) for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_si512();
            const uint8_t *a = q + (size_t)r0 * k;
            for (int g = 0; g < kg; g++) {
                __m512i b0 = _mm512_load_si512(w0 + ((size_t)0 * kg + g) * 64);
                __m512i b1 = _mm512_load_si512(w0 + ((size_t)1 * kg + g) * 64);
                __m512i b2 = _mm512_load_si512(w0 + ((size_t)2 * kg + g) * 64);
                __m512i b3 = _mm512_load_si512(w0 + ((size_t)3 * kg + g) * 64);
                for (int r = 0; r < MR; r++) {
                    if (r >= rows) break;
                    __m512i av = _mm512_set1_epi32(*(const int32_t *)(a + (size_t)r * k + 4 * g));
                    acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], av, b0);
                    acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], av, b1);
                    acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], av, b2);
                    acc[r][3] = _mm512_dpbusd_epi32(acc[r][3], av, b3);
                }
            }
            for (int r = 0; r < rows; r++) for (int v = 0; v < 4; v++) {
                int o = (nb + v) * 16;
                __m512 s = _mm512_mul_ps(_mm512_set1_ps(xs[r0 + r]), _mm512_loadu_ps(p->scale + o));
                __m512i c = _mm512_sub_epi32(acc[r][v], _mm512_loadu_si512(p->sum128 + o));
                __m512 out = _mm512_fmadd_ps(_mm512_cvtepi32_ps(c), s, _mm512_loadu_ps(bias + o));
                _mm512_storeu_ps(y + (size_t)(r0 + r) * n + o, out);
            }
        }
    }
}

static float frand(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0f - 0.5f; }

int main(int argc, char **argv) {
    int shapes[][2] = {{3072, 1024}, {1024, 1024}, {4096, 1024}, {1024, 4096}};
    int ms[] = {128, 384};
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    openblas_set_num_threads(1);
    printf("{\"threads\":1,\"note\":\"seconds per GEMM, median of %d; ratio = sgemm / int8\"}\n", reps);
    for (int si = 0; si < 4; si++) for (int mi = 0; mi < 2; mi++) {
        int n = shapes[si][0], k = shapes[si][1], m = ms[mi];
        unsigned seed = 7;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *bias = calloc(n, sizeof(float));
        float *y0 = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * k; i++) x[i] = frand(&seed);
        for (int i = 0; i < n * k; i++) w[i] = frand(&seed) * 0.1f;
        Packed p = pack(w, n, k);
        uint8_t *q = malloc((size_t)m * k); float *xs = malloc(sizeof(float) * m);
        int8_t *wq = malloc((size_t)n * k);  // oneDNN operand: plain row-major s8 (N x K)
        for (int o = 0; o < n; o++) for (int i = 0; i < k; i++) {
            int v = (int)lrintf(w[(size_t)o * k + i] / p.scale[o]); wq[(size_t)o * k + i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
        int32_t *c32 = malloc(sizeof(int32_t) * m * n);
        double ts[3][64];
        for (int rep = 0; rep < reps; rep++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, x, k, w, k, 0, y0, n);
            double t1 = now();
            quantize(x, m, k, q, xs);
            gemm_vnni(q, xs, m, &p, bias, y1);
            double t2 = now();
            quantize(x, m, k, q, xs);
            int32_t co = 0;
            dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, q, k, 0, wq, k, 0, 0.0f, c32, n, &co);
            for (int r = 0; r < m; r++) for (int o = 0; o < n; o++)
                y2[(size_t)r * n + o] = (c32[(size_t)r * n + o] - p.sum128[o]) * xs[r] * p.scale[o] + bias[o];
            double t3 = now();
            ts[0][rep] = t1 - t0; ts[1][rep] = t2 - t1; ts[2][rep] = t3 - t2;
        }
        for (int a = 0; a < 3; a++) for (int i = 0; i < reps; i++) for (int j = i + 1; j < reps; j++)
            if (ts[a][j] < ts[a][i]) { double t = ts[a][i]; ts[a][i] = ts[a][j]; ts[a][j] = t; }
        double err1 = 0, err2 = 0, ref = 0;
        for (int i = 0; i < m * n; i++) { err1 = fmax(err1, fabs(y1[i] - y0[i])); err2 = fmax(err2, fabs(y2[i] - y1[i])); ref = fmax(ref, fabs(y0[i])); }
        double flop = 2.0 * m * n * k;
        printf("{\"m\":%d,\"n\":%d,\"k\":%d,\"sgemm_s\":%.5f,\"vnni_s\":%.5f,\"onednn_s\":%.5f,\"sgemm_gflops\":%.0f,\"vnni_gops\":%.0f,\"onednn_gops\":%.0f,"
               "\"vnni_vs_sgemm\":%.2f,\"onednn_vs_sgemm\":%.2f,\"max_abs_err_vs_fp32\":%.2e,\"max_abs_fp32\":%.2e,\"vnni_vs_onednn_maxdiff\":%.2e}\n",
               m, n, k, ts[0][reps / 2], ts[1][reps / 2], ts[2][reps / 2], flop / ts[0][reps / 2] / 1e9, flop / ts[1][reps / 2] / 1e9,
               flop / ts[2][reps / 2] / 1e9, ts[0][reps / 2] / ts[1][reps / 2], ts[0][reps / 2] / ts[2][reps / 2], err1, ref, err2);
        free(x); free(w); free(bias); free(y0); free(y1); free(y2); free(q); free(xs); free(wq); free(c32);
    }
    return 0;
}
