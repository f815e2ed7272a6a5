/* gemm_bench.c - oxrt's SGEMM against OpenBLAS in the same process, interleaved, minimum of N repetitions.
 *
 * Build and run with `make bench-gemm` (links libopenblas; only this program does, never the library).
 * Shapes are M x N x K of C[M,N] = A[M,K] * B[K,N], row-major: 1024^3, the model shapes (BERT rows,
 * ResNet convolutions as spatial x channels x C*k*k) and the same convolutions in oxrt's own orientation
 * (output channels x spatial: weights are A). Each repetition times oxrt then OpenBLAS back to back, so both
 * see the same machine load; the table prints the best time of each and the ratio oxrt/OpenBLAS in GFLOP/s.
 * "packed" is oxrt with B packed once beforehand (constant weights, as MatMul/Gemm/Conv prepare them); "bf16" is the
 * same with B packed in bfloat16 (the session's bf16 compute mode; only where the CPU has AVX512_BF16, else "-"),
 * with its largest difference from the float result relative to the largest |C| ("bf16 err").
 * OpenBLAS 0.3.21 does not know Sapphire Rapids and would fall back to its SSE3 (Prescott) kernels. Without
 * OXRT_ISA, the program runs itself once per ISA level the machine has, each with OXRT_ISA set and OpenBLAS told the
 * kernels of the same vector width (OPENBLAS_CORETYPE SkylakeX for avx512, Haswell for avx2, Prescott (SSE3) for
 * portable, which is built for the x86-64 baseline).
 *   gemm_bench [reps] [threads...]      defaults: 8 repetitions, threads 1 2
 * GEMM_BENCH_SHAPES=label,label,... runs only those shapes (e.g. bert-ffn,square).
 * GEMM_BENCH_COLD=n: the "packed" column rotates over n packed copies of B (pick n so that they exceed L3), so each
 * product meets its weights cold, as a model's layers do.
 */
#include "core/threadpool.h"
#include "kernels/gemm.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

void openblas_set_num_threads(int n);

/* One thread: this thread's CPU time, so that time slices taken by other processes on a shared machine do not
 * count (their cache pollution still does). More threads: wall time. */
static clockid_t g_clock = CLOCK_MONOTONIC;
static double now_s(void) {
  struct timespec t;
  clock_gettime(g_clock, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
  const char *label;
  size_t M, N, K;
  bool tb; /* B given transposed, [N,K] (ONNX Gemm transB = 1, as exported from Linear layers) */
} shape;

static void fill(float *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f;
  }
}

/* GEMM_BENCH_SHAPES: a comma-separated list of labels; unset or empty runs every shape. */
static bool shape_selected(const char *label) {
  const char *list = getenv("GEMM_BENCH_SHAPES");
  if (!list || !*list) return true;
  size_t n = strlen(label);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && !strncmp(p, label, n)) return true;
    p += len + (e ? 1 : 0);
  }
  return false;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 8;
  int threads[8] = {1, 2}, nthr = 2;
  if (argc > 2) {
    nthr = 0;
    for (int i = 2; i < argc && nthr < 8; i++) threads[nthr++] = atoi(argv[i]);
  }
  if (reps < 1) reps = 1;
  static const char *const isa_env[] = {"portable", "avx2", "avx512"}, *const blas_core[] = {"Prescott", "Haswell",
                                                                                           "SkylakeX"};
  if (!getenv("OXRT_ISA")) { /* every level, widest first, each in its own process (OpenBLAS reads its core once) */
    for (int l = (int)oxrt_cpu_isa(); l >= 0; l--) {
      fflush(stdout);
      pid_t pid = fork();
      if (pid == 0) {
        setenv("OXRT_ISA", isa_env[l], 1);
        setenv("OPENBLAS_CORETYPE", blas_core[l], 1);
        execv("/proc/self/exe", argv);
        _exit(127);
      }
      int st = 0;
      if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
    }
    return 0;
  }
  if (!getenv("OPENBLAS_CORETYPE")) { /* read when libopenblas loads: set it, then start again */
    setenv("OPENBLAS_CORETYPE", blas_core[oxrt_cpu_isa()], 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "gemm_bench: could not re-run itself with OPENBLAS_CORETYPE set; OpenBLAS picks its own kernels\n");
  }
  static const shape shapes[] = {
      {"square", 1024, 1024, 1024, false},      {"bert-gemv", 1, 768, 768, false},
      {"bert-ffn", 128, 768, 3072, false},      {"res-3x3-rows", 3136, 64, 576, false},
      {"res-7x7-rows", 49, 512, 4608, false},   {"res-3x3-conv", 64, 3136, 576, false},
      {"res-7x7-conv", 512, 49, 4608, false},   {"bert-ffn-tB", 128, 768, 3072, true},
      {"bert-gemv-tB", 1, 768, 768, true},      {"bert-qkv", 128, 2304, 768, false},
      {"bert-ff1", 128, 3072, 768, false},     {"bert-proj", 128, 768, 768, false},
  };
  printf("oxrt isa %s, OpenBLAS core %s; %d repetitions (min), oxrt and OpenBLAS interleaved in one process; 1 thread "
         "timed in thread CPU time, more in wall time\n",
         oxrt_isa_name(oxrt_cpu_isa()), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "auto", reps);
  printf("%-13s %16s %3s %10s %10s %10s %7s %7s %9s %10s %8s %9s\n", "shape", "MxNxK", "thr", "oxrt GF/s", "packed",
         "blas GF/s", "ratio", "pk/blas", "max|diff|", "bf16 GF/s", "bf16/pk", "bf16 err");
  for (int ti = 0; ti < nthr; ti++) {
    int nt = threads[ti];
    oxrt_threadpool *pool = nt > 1 ? oxrt_threadpool_create(nt) : NULL;
    openblas_set_num_threads(nt);
    g_clock = nt == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
      const shape *s = &shapes[si];
      if (!shape_selected(s->label)) continue;
      float *A = malloc(sizeof(float) * s->M * s->K), *B = malloc(sizeof(float) * s->K * s->N);
      float *C1 = malloc(sizeof(float) * s->M * s->N), *C2 = malloc(sizeof(float) * s->M * s->N);
      if (!A || !B || !C1 || !C2) {
        fprintf(stderr, "gemm_bench: out of memory for %s\n", s->label);
        return 1;
      }
      fill(A, s->M * s->K, 1), fill(B, s->K * s->N, 2);
      double flop = 2.0 * (double)s->M * (double)s->N * (double)s->K;
      /* at least ~10 ms of work per timed sample, so tiny shapes are not timer noise */
      int inner = (int)(1e-2 * 50e9 / flop) + 1;
      oxrt_sgemm_bpack bp = {0};
      size_t ldb = s->tb ? s->K : s->N;
      if (!oxrt_sgemm_pack_b(s->tb, s->K, s->N, B, ldb, &bp)) {
        fprintf(stderr, "gemm_bench: out of memory for %s\n", s->label);
        return 1;
      }
      oxrt_sgemm_ex gp = {.M = s->M, .N = s->N, .K = s->K, .alpha = 1.0f, .A = A, .lda = s->K, .bp = &bp, .C = C1,
                          .ldc = s->N};
      enum { MAX_COLD = 64 };
      oxrt_sgemm_bpack cold[MAX_COLD] = {{0}};
      int n_cold = getenv("GEMM_BENCH_COLD") ? atoi(getenv("GEMM_BENCH_COLD")) : 0;
      n_cold = n_cold < 0 ? 0 : n_cold > MAX_COLD ? MAX_COLD : n_cold;
      for (int c = 0; c < n_cold; c++)
        if (!oxrt_sgemm_pack_b(s->tb, s->K, s->N, B, ldb, &cold[c])) {
          fprintf(stderr, "gemm_bench: out of memory for %s\n", s->label);
          return 1;
        }
      oxrt_sgemm_bpack bph = {0};
      float *C3 = malloc(sizeof(float) * s->M * s->N);
      bool half = C3 && oxrt_sgemm_pack_b_bf16(s->tb, s->K, s->N, B, ldb, &bph);
      oxrt_sgemm_ex gh = gp;
      gh.bp = &bph, gh.C = C3;
      double best_o = 1e30, best_b = 1e30, best_p = 1e30, best_h = 1e30;
      for (int r = 0; r < reps + 1; r++) {
        double t0 = now_s();
        for (int i = 0; i < inner; i++)
          oxrt_sgemm(false, s->tb, s->M, s->N, s->K, 1.0f, A, s->K, B, ldb, 0.0f, C1, s->N, pool);
        double t1 = now_s();
        for (int i = 0; i < inner; i++)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K,
                      1.0f, A, (int)s->K, B, (int)ldb, 0.0f, C2, (int)s->N);
        double t2 = now_s();
        for (int i = 0; i < inner; i++) {
          if (n_cold) gp.bp = &cold[(r * inner + i) % n_cold];
          oxrt_sgemm_run(&gp, pool);
        }
        double t3 = now_s();
        for (int i = 0; half && i < inner; i++) oxrt_sgemm_run(&gh, pool);
        double t4 = now_s();
        if (r == 0) continue; /* warm-up: page faults, pool start, packing buffers */
        if ((t4 - t3) / inner < best_h) best_h = (t4 - t3) / inner;
        if ((t1 - t0) / inner < best_o) best_o = (t1 - t0) / inner;
        if ((t2 - t1) / inner < best_b) best_b = (t2 - t1) / inner;
        if ((t3 - t2) / inner < best_p) best_p = (t3 - t2) / inner;
      }
      double md = 0, mh = 0, cmax = 0;
      for (size_t i = 0; i < s->M * s->N; i++) {
        double d = C1[i] > C2[i] ? C1[i] - C2[i] : C2[i] - C1[i];
        if (d > md) md = d;
        if (C1[i] > cmax || -C1[i] > cmax) cmax = C1[i] > 0 ? C1[i] : -C1[i];
        if (half && (C3[i] - C1[i] > mh || C1[i] - C3[i] > mh)) mh = C3[i] > C1[i] ? C3[i] - C1[i] : C1[i] - C3[i];
      }
      char dims[48];
      snprintf(dims, sizeof dims, "%zux%zux%zu", s->M, s->N, s->K);
      double go = flop / best_o * 1e-9, gb = flop / best_b * 1e-9, gp_ = flop / best_p * 1e-9;
      printf("%-13s %16s %3d %10.1f %10.1f %10.1f %7.3f %7.3f %9.2e", s->label, dims, nt, go, gp_, gb, go / gb,
             gp_ / gb, md);
      if (half) printf(" %10.1f %8.3f %9.2e\n", flop / best_h * 1e-9, best_p / best_h, mh / (cmax > 0 ? cmax : 1));
      else printf(" %10s %8s %9s\n", "-", "-", "-");
      fflush(stdout);
      oxrt_sgemm_bpack_free(&bp);
      oxrt_sgemm_bpack_free(&bph);
      for (int c = 0; c < n_cold; c++) oxrt_sgemm_bpack_free(&cold[c]);
      free(A), free(B), free(C1), free(C2), free(C3);
    }
    oxrt_threadpool_free(pool);
  }
  return 0;
}
