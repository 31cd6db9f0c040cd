// Times pairranker's packed float32 GEMM (Sources/CGemm) against OpenBLAS SGEMM on the
// PairRanker's dense shapes, in one process, on 1 and 2 threads (ours: the channel panels split
// over pthreads, the rows packed first; OpenBLAS: its own threads), weights out of cache as in a
// forward, and prints how far each side is from a float64 reference.
#include "CGemm.h"
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COPIES 8

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float frand(unsigned *s) { *s = *s * 1103515245u + 12345u; return ((*s >> 8) & 0xffff) / 65536.0f - 0.5f; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

typedef struct { const float *x, *packed, *bias; float *xp, *y; int m, n, k, t, nt; pthread_barrier_t *bar; } job;

static void *run(void *p);

// One persistent helper thread (a new thread per call would be timed starting up), spinning on
// a generation counter, as a pool's worker would wait.
static job *volatile pending;
static volatile int generation, finished, active;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
// Spins only while our side is being timed; sleeps while OpenBLAS's is, so it takes no core.
static void set_active(int a) { pthread_mutex_lock(&lock); active = a; pthread_cond_signal(&wake); pthread_mutex_unlock(&lock); }
static void *helper(void *unused) {
    (void)unused;
    int seen = 0;
    for (;;) {
        while (__atomic_load_n(&generation, __ATOMIC_ACQUIRE) == seen) {
            if (!__atomic_load_n(&active, __ATOMIC_ACQUIRE)) {
                pthread_mutex_lock(&lock);
                while (!active && generation == seen) pthread_cond_wait(&wake, &lock);
                pthread_mutex_unlock(&lock);
            }
            __builtin_ia32_pause();
        }
        seen = generation;
        if (!pending) return NULL;
        run(pending);
        __atomic_store_n(&finished, seen, __ATOMIC_RELEASE);
    }
}

static void *run(void *p) {
    job *j = p;
    int groups = (j->m + PR_F32_ROWS - 1) / PR_F32_ROWS, panels = (j->n + PR_F32_PANEL - 1) / PR_F32_PANEL;
    pr_f32_pack_rows(j->x, j->m, j->k, j->k, j->xp, groups * j->t / j->nt, groups * (j->t + 1) / j->nt);
    if (j->nt > 1) pthread_barrier_wait(j->bar);
    int lo = PR_F32_PANEL * (panels * j->t / j->nt), hi = PR_F32_PANEL * (panels * (j->t + 1) / j->nt);
    if (hi > j->n) hi = j->n;
    pr_f32_gemm(j->xp, j->m, j->k, j->packed, j->bias, lo, hi, j->y + lo, j->n);
    return NULL;
}

int main(int argc, char **argv) {
    int shapes[][2] = {{3072, 1024}, {1024, 1024}, {4096, 1024}, {1024, 4096}};
    int ms[] = {128, 256, 384};
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (!pr_f32_supported()) { fprintf(stderr, "this CPU has no AVX-512\n"); return 1; }
    printf("{\"note\":\"seconds per GEMM (with the row packing), median of %d; speedup = sgemm / ours\"}\n", reps);
    double tot[2][2] = {{0}};
    pthread_t th;
    pthread_create(&th, NULL, helper, NULL);
    for (int nt = 1; nt <= 2; nt++)
    for (int mi = 0; mi < 3; mi++) for (int si = 0; si < 4; si++) {
        int n = shapes[si][0], k = shapes[si][1], m = ms[mi];
        unsigned seed = 7;
        float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k), *bias = malloc(sizeof(float) * n);
        float *y0 = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * m * n);
        for (int i = 0; i < m * k; i++) x[i] = frand(&seed);
        for (int i = 0; i < n * k; i++) w[i] = frand(&seed) * 0.1f;
        for (int i = 0; i < n; i++) bias[i] = frand(&seed);
        // COPIES copies of the weights, used in turn, so each call finds them out of cache as a
        // forward does (a model's weights are far larger than the caches).
        float *packs[COPIES], *ws[COPIES];
        for (int c = 0; c < COPIES; c++) {
            packs[c] = aligned_alloc(64, sizeof(float) * pr_f32_packed_floats(n, k));
            pr_f32_pack(w, n, k, k, packs[c]);
            ws[c] = malloc(sizeof(float) * n * k);
            memcpy(ws[c], w, sizeof(float) * n * k);
        }
        float *packed = packs[0];
        float *xp = aligned_alloc(64, sizeof(float) * pr_f32_packed_rows_floats(m, k));
        openblas_set_num_threads(nt);
        double t0s[64], t1s[64];
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, nt);
        for (int rep = 0; rep < reps; rep++) {
            double t0 = now();
            for (int r = 0; r < m; r++) memcpy(y0 + (size_t)r * n, bias, sizeof(float) * n);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, x, k, ws[rep % COPIES], k, 1, y0, n);
            t0s[rep] = now() - t0;
        }
        // OpenBLAS's threads spin for a while after a call: let them sleep before timing ours.
        usleep(300000);
        if (nt > 1) set_active(1);
        for (int rep = 0; rep < reps; rep++) {
            double t1 = now();
            job jobs[2];
            for (int t = 0; t < nt; t++) jobs[t] = (job){x, packs[rep % COPIES], bias, xp, y1, m, n, k, t, nt, &bar};
            int gen = generation + 1;
            if (nt > 1) { pending = &jobs[1]; __atomic_store_n(&generation, gen, __ATOMIC_RELEASE); }
            run(&jobs[0]);
            if (nt > 1) while (__atomic_load_n(&finished, __ATOMIC_ACQUIRE) != gen) __builtin_ia32_pause();
            t1s[rep] = now() - t1;
        }
        if (nt > 1) set_active(0);
        pthread_barrier_destroy(&bar);
        // Against a float64 reference on a sample of rows: both sides' rounding error.
        double md = 0, e0 = 0, e1 = 0;
        for (int i = 0; i < m * n; i++) { double d = fabs((double)y0[i] - y1[i]); if (d > md) md = d; }
        for (int r = 0; r < m; r += 7) for (int o = 0; o < n; o++) {
            double acc = bias[o];
            for (int i = 0; i < k; i++) acc += (double)x[(size_t)r * k + i] * w[(size_t)o * k + i];
            double d0 = fabs(y0[(size_t)r * n + o] - acc), d1 = fabs(y1[(size_t)r * n + o] - acc);
            if (d0 > e0) e0 = d0;
            if (d1 > e1) e1 = d1;
        }
        qsort(t0s, reps, sizeof(double), cmpd); qsort(t1s, reps, sizeof(double), cmpd);
        double a = t0s[reps / 2], b = t1s[reps / 2];
        tot[nt - 1][0] += a; tot[nt - 1][1] += b;
        printf("{\"threads\":%d,\"m\":%d,\"n\":%d,\"k\":%d,\"sgemm\":%.5f,\"ours\":%.5f,\"speedup\":%.3f,\"ours_gflops\":%.1f,\"max_abs_diff\":%.2e,\"sgemm_err_vs_f64\":%.2e,\"ours_err_vs_f64\":%.2e}\n",
               nt, m, n, k, a, b, a / b, 2.0 * m * n * k / b * 1e-9, md, e0, e1);
        for (int c = 0; c < COPIES; c++) { free(packs[c]); free(ws[c]); }
        free(x); free(w); free(bias); free(y0); free(y1); free(xp);
    }
    pending = NULL;
    __atomic_store_n(&generation, generation + 1, __ATOMIC_RELEASE);
    set_active(1);
    pthread_join(th, NULL);
    for (int t = 0; t < 2; t++) printf("{\"threads\":%d,\"summed_sgemm\":%.4f,\"summed_ours\":%.4f,\"speedup\":%.3f}\n", t + 1, tot[t][0], tot[t][1], tot[t][0] / tot[t][1]);
    return 0;
}
