// Int8 GEMM candidates for the opt-in int8 path, timed on the PairRanker's dense shapes against
// OpenBLAS's float32 SGEMM in the same process, one thread:
//   (a) pairranker's own kernels (Sources/CInt8/int8.c, compiled in): weights packed once (s8 per
//       output channel), activations quantized per row (u8 with a zero point), on every kernel
//       family this CPU runs (AVX512-VNNI, and AMX where it has AMX-INT8);
//   (b) oneDNN's dnnl_gemm_u8s8s32 on the same quantized operands (packs per call), its result
//       dequantized the same way.
// Timed: quantization plus GEMM for each. Build and run: bash scripts/bench/int8/run.sh
#include "CInt8.h"
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

static float frand(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0f - 0.5f; }

int main(int argc, char **argv) {
    int shapes[][2] = {{3072, 1024}, {1024, 1024}, {4096, 1024}, {1024, 4096}};
    int ms[] = {128, 384};
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    openblas_set_num_threads(1);
    int isas[2] = {PR_INT8_AVX512VNNI, PR_INT8_AMX}, nisas = pr_int8_isa_supported(PR_INT8_AMX) ? 2 : 1;
    if (!pr_int8_isa_supported(PR_INT8_AVX512VNNI)) { fprintf(stderr, "this CPU has no AVX512-VNNI\n"); return 1; }
    printf("{\"threads\":1,\"note\":\"seconds per GEMM, median of %d; ratio = sgemm / int8\",\"amx\":%s}\n", reps, nisas > 1 ? "true" : "false");
    for (int si = 0; si < 4; si++) for (int mi = 0; mi < 2; mi++) {
        int n = shapes[si][0], k = shapes[si][1], m = ms[mi];
        unsigned seed = 7;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *bias = calloc(n, sizeof(float));
        float *y0 = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * m * n), *y2 = malloc(sizeof(float) * m * n);
        float *y3 = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * k; i++) x[i] = frand(&seed);
        for (int i = 0; i < n * k; i++) w[i] = frand(&seed) * 0.1f;
        int np = (n + 15) / 16 * 16, mp = (m + PR_INT8_ROW_MULTIPLE - 1) / PR_INT8_ROW_MULTIPLE * PR_INT8_ROW_MULTIPLE;
        int8_t *packed = aligned_alloc(64, pr_int8_packed_bytes(n, k));
        float *wscale = malloc(sizeof(float) * np); int32_t *wsum = malloc(sizeof(int32_t) * np);
        pr_int8_pack(w, n, k, k, packed, wscale, wsum);
        uint8_t *q = aligned_alloc(64, (size_t)mp * k); float *xs = malloc(sizeof(float) * mp); int32_t *xz = malloc(sizeof(int32_t) * mp);
        int8_t *wq = malloc((size_t)n * k);  // oneDNN operand: the same s8 weights, plain row-major (N x K)
        for (int o = 0; o < n; o++) for (int i = 0; i < k; i++)
            wq[(size_t)o * k + i] = packed[(((size_t)(o / 16) * (k / 4) + i / 4) * 16 + o % 16) * 4 + i % 4];
        int32_t *c32 = malloc(sizeof(int32_t) * m * n);
        double ts[2 + 2][64];
        for (int rep = 0; rep < reps; rep++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, x, k, w, k, 0, y0, n);
            ts[0][rep] = now() - t0;
            for (int c = 0; c < nisas; c++) {
                double t1 = now();
                pr_int8_quantize(isas[c], x, m, k, k, q, k, xs, xz);
                pr_int8_pad_rows(m, q, k, xs, xz);
                pr_int8_gemm(isas[c], q, k, xs, xz, m, packed, k, wscale, wsum, bias, n, 0, np / 16, c ? y3 : y1, n);
                ts[2 + c][rep] = now() - t1;
            }
            double t2 = now();
            pr_int8_quantize(isas[0], x, m, k, k, q, k, xs, xz);
            // oneDNN takes the zero point per matrix, not per row: sum raw products, take them out after.
            int32_t co = 0;
            dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, q, k, 0, wq, k, 0, 0.0f, c32, n, &co);
            for (int r = 0; r < m; r++) for (int o = 0; o < n; o++)
                y2[(size_t)r * n + o] = (float)(c32[(size_t)r * n + o] - xz[r] * wsum[o]) * (xs[r] * wscale[o]) + bias[o];
            ts[1][rep] = now() - t2;
        }
        for (int a = 0; a < 2 + nisas; a++) for (int i = 0; i < reps; i++) for (int j = i + 1; j < reps; j++)
            if (ts[a][j] < ts[a][i]) { double t = ts[a][i]; ts[a][i] = ts[a][j]; ts[a][j] = t; }
        double err1 = 0, err2 = 0, err3 = 0, ref = 0;
        for (int i = 0; i < m * n; i++) {
            err1 = fmax(err1, fabs(y1[i] - y0[i])); err2 = fmax(err2, fabs(y2[i] - y1[i])); ref = fmax(ref, fabs(y0[i]));
            if (nisas > 1) err3 = fmax(err3, fabs(y3[i] - y1[i]));
        }
        double flop = 2.0 * m * n * k, sg = ts[0][reps / 2], dn = ts[1][reps / 2], vn = ts[2][reps / 2];
        double amx = nisas > 1 ? ts[3][reps / 2] : NAN;
        printf("{\"m\":%d,\"n\":%d,\"k\":%d,\"sgemm_s\":%.5f,\"vnni_s\":%.5f,\"amx_s\":%.5f,\"onednn_s\":%.5f,"
               "\"sgemm_gflops\":%.0f,\"vnni_gops\":%.0f,\"amx_gops\":%.0f,\"onednn_gops\":%.0f,"
               "\"vnni_vs_sgemm\":%.2f,\"amx_vs_sgemm\":%.2f,\"onednn_vs_sgemm\":%.2f,\"max_abs_err_vs_fp32\":%.2e,\"max_abs_fp32\":%.2e,"
               "\"onednn_vs_ours_maxdiff\":%.2e,\"amx_vs_vnni_maxdiff\":%.2e}\n",
               m, n, k, sg, vn, amx, dn, flop / sg / 1e9, flop / vn / 1e9, flop / amx / 1e9, flop / dn / 1e9,
               sg / vn, sg / amx, sg / dn, err1, ref, err2, err3);
        free(x); free(w); free(bias); free(y0); free(y1); free(y2); free(y3); free(q); free(xs); free(xz); free(wq); free(c32);
        free(packed); free(wscale); free(wsum);
    }
    return 0;
}
