/* rnn_common.c - the shared driver of RNN, GRU and LSTM (see rnn_common.h). */
#include "rnn_common.h"
#include "../../kernels/gemm.h"
#include "../../kernels/vmath.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------- activations */
static const struct {
  const char *name;
  rnn_act_kind kind;
  int uses_alpha, uses_beta;
  double alpha, beta; /* defaults, as the corresponding ONNX operators */
} act_table[] = {
    {"Relu", RNN_ACT_RELU, 0, 0, 0, 0},
    {"Tanh", RNN_ACT_TANH, 0, 0, 0, 0},
    {"Sigmoid", RNN_ACT_SIGMOID, 0, 0, 0, 0},
    {"Affine", RNN_ACT_AFFINE, 1, 1, 1.0, 0.0},
    {"LeakyRelu", RNN_ACT_LEAKYRELU, 1, 0, 0.01, 0},
    {"ThresholdedRelu", RNN_ACT_THRESHOLDEDRELU, 1, 0, 1.0, 0},
    {"ScaledTanh", RNN_ACT_SCALEDTANH, 1, 1, 1.0, 1.0},
    {"HardSigmoid", RNN_ACT_HARDSIGMOID, 1, 1, 0.2, 0.5},
    {"Elu", RNN_ACT_ELU, 1, 0, 1.0, 0},
    {"Softsign", RNN_ACT_SOFTSIGN, 0, 0, 0, 0},
    {"Softplus", RNN_ACT_SOFTPLUS, 0, 0, 0, 0},
};

static double rnn_act1(const rnn_act *f, double x) {
  switch (f->kind) {
  case RNN_ACT_RELU: return x > 0 ? x : 0;
  case RNN_ACT_TANH: return tanh(x);
  case RNN_ACT_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
  case RNN_ACT_AFFINE: return f->alpha * x + f->beta;
  case RNN_ACT_LEAKYRELU: return x >= 0 ? x : f->alpha * x;
  case RNN_ACT_THRESHOLDEDRELU: return x > f->alpha ? x : 0;
  case RNN_ACT_SCALEDTANH: return f->alpha * tanh(f->beta * x);
  case RNN_ACT_HARDSIGMOID: {
    double y = f->alpha * x + f->beta;
    return y < 0 ? 0 : y > 1 ? 1 : y;
  }
  case RNN_ACT_ELU: return x >= 0 ? x : f->alpha * (exp(x) - 1);
  case RNN_ACT_SOFTSIGN: return x / (1 + fabs(x));
  case RNN_ACT_SOFTPLUS: return x > 30 ? x : log1p(exp(x));
  }
  return x;
}

/* Float path of oxrt_rnn_vact: single-precision math, the vectorised sigmoid and tanh of vmath.h. */
static void vact_f32(const rnn_act *f, float *x, size_t n) {
  switch (f->kind) {
  case RNN_ACT_SIGMOID: oxrt_vsigmoid_f32(x, x, n); return;
  case RNN_ACT_TANH: oxrt_vtanh_f32(x, x, n); return;
  case RNN_ACT_RELU:
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0 ? x[i] : 0;
    return;
  default:
    for (size_t i = 0; i < n; i++) x[i] = (float)rnn_act1(f, x[i]);
    return;
  }
}

void oxrt_rnn_vact(const rnn_attrs *a, const rnn_act *f, bool clip, bool dbl, void *x, size_t n) {
  if (clip && a->has_clip) {
    if (dbl) {
      double *v = x, c = a->clip;
      for (size_t i = 0; i < n; i++) v[i] = v[i] < -c ? -c : v[i] > c ? c : v[i];
    } else {
      float *v = x, c = (float)a->clip;
      for (size_t i = 0; i < n; i++) v[i] = v[i] < -c ? -c : v[i] > c ? c : v[i];
    }
  }
  if (!dbl) {
    vact_f32(f, x, n);
    return;
  }
  double *v = x;
  for (size_t i = 0; i < n; i++) v[i] = rnn_act1(f, v[i]);
}

void oxrt_rnn_vadd(bool dbl, void *x, const void *y, size_t n) {
  if (dbl) {
    double *a = x;
    const double *b = y;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
  } else {
    float *a = x;
    const float *b = y;
    for (size_t i = 0; i < n; i++) a[i] += b[i];
  }
}

void oxrt_rnn_vmuladd(bool dbl, void *x, const void *p, const void *c, size_t n) {
  if (dbl) {
    double *a = x;
    const double *b = p, *d = c;
    for (size_t i = 0; i < n; i++) a[i] += b[i] * d[i];
  } else {
    float *a = x;
    const float *b = p, *d = c;
    for (size_t i = 0; i < n; i++) a[i] += b[i] * d[i];
  }
}

void oxrt_rnn_gemm_bt(bool dbl, size_t M, size_t N, size_t K, const void *A, size_t lda, const void *B, size_t ldb,
                      double beta, void *C, size_t ldc, oxrt_threadpool *pool) {
  if (!M || !N) return;
  if (dbl) oxrt_dgemm(false, true, M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc, pool);
  else oxrt_sgemm(false, true, M, N, K, 1.0f, A, lda, B, ldb, (float)beta, C, ldc, pool);
}

/* ------------------------------------------------------------------ prepare */
oxrt_status *oxrt_rnn_prepare(const oxrt_node *node, int opset, rnn_cell cell, void **state) {
  rnn_attrs *a = calloc(1, sizeof *a);
  if (!a) return OXRT_OOM();
  *state = a;
  a->cell = cell;
  if (!(a->f32 = oxrt_rnn_f32_cache_new())) return OXRT_OOM();
  a->gates = cell == RNN_CELL_RNN ? 1 : cell == RNN_CELL_GRU ? 3 : 4;
  a->n_act = cell == RNN_CELL_RNN ? 1 : cell == RNN_CELL_GRU ? 2 : 3;
  const char *dir = oxrt_attr_string(node, "direction", "forward");
  if (!strcmp(dir, "forward")) a->ndir = 1;
  else if (!strcmp(dir, "reverse")) a->ndir = 1, a->reverse = true;
  else if (!strcmp(dir, "bidirectional")) a->ndir = 2;
  else
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute direction='%s' must be forward, reverse or bidirectional",
                      dir);
  a->hidden = oxrt_attr_int(node, "hidden_size", 0);
  if (oxrt_node_attr(node, "hidden_size") && a->hidden <= 0)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute hidden_size=%lld must be positive", (long long)a->hidden);
  if (oxrt_node_attr(node, "clip")) {
    a->has_clip = true;
    a->clip = oxrt_attr_float(node, "clip", 0);
    if (!(a->clip > 0)) return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute clip=%g must be positive", a->clip);
  }
  a->layout = opset >= 14 ? (int)oxrt_attr_int(node, "layout", 0) : 0;
  if (a->layout != 0 && a->layout != 1)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute layout=%d must be 0 or 1", a->layout);
  if (cell == RNN_CELL_GRU && opset >= 3) a->linear_before_reset = oxrt_attr_int(node, "linear_before_reset", 0) != 0;
  if (cell == RNN_CELL_LSTM) a->input_forget = oxrt_attr_int(node, "input_forget", 0) != 0;

  /* activations: n_act names per direction (a bidirectional node given one set uses it for both) */
  static const char *defaults[3][3] = {{"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
  const oxrt_attr *acts = oxrt_node_attr(node, "activations");
  size_t n_names = acts ? acts->n : 0;
  if (n_names && n_names != (size_t)a->n_act && n_names != (size_t)(a->n_act * a->ndir))
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute activations has %zu names, expected %d", n_names,
                      a->n_act * a->ndir);
  size_t n_alpha = 0, n_beta = 0, ia = 0, ib = 0;
  const float *alphas = oxrt_attr_floats(node, "activation_alpha", &n_alpha);
  const float *betas = oxrt_attr_floats(node, "activation_beta", &n_beta);
  for (int d = 0; d < a->ndir; d++)
    for (int k = 0; k < a->n_act; k++) {
      size_t idx = (size_t)(d * a->n_act + k);
      const char *name = !n_names ? defaults[a->n_act - 1][k] : acts->strings[idx < n_names ? idx : (size_t)k];
      size_t e = 0, ne = sizeof act_table / sizeof act_table[0];
      while (e < ne && strcasecmp(act_table[e].name, name)) e++;
      if (e == ne) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "activation '%s' is not supported", name);
      rnn_act *f = &a->act[d][k];
      f->kind = act_table[e].kind;
      f->alpha = act_table[e].alpha;
      f->beta = act_table[e].beta;
      /* alpha/beta lists are consumed in order by the activations that take them */
      if (act_table[e].uses_alpha && ia < n_alpha) f->alpha = alphas[ia++];
      if (act_table[e].uses_beta && ib < n_beta) f->beta = betas[ib++];
    }
  return NULL;
}

/* -------------------------------------------------------------------- run */
/* `v`'s data in the working type: the tensor's own memory when it already is, else a converted copy in *tmp. */
static oxrt_status *as_work(const oxrt_value *v, bool dbl, const void **out, void **tmp) {
  oxrt_elem_type wt = dbl ? OXRT_DOUBLE : OXRT_FLOAT;
  *tmp = NULL;
  if (v->dtype == wt) {
    *out = v->data;
    return NULL;
  }
  *tmp = malloc(v->count * oxrt_elem_type_size(wt) + 1);
  if (!*tmp) return OXRT_OOM();
  if (!oxrt_convert(wt, *tmp, v->dtype, v->data, v->count, false)) return OXRT_OOM();
  *out = *tmp;
  return NULL;
}

/* Swaps the first two axes of a [A, B, inner] tensor while converting it to the working type. */
static oxrt_status *swap01_to_work(const oxrt_value *v, bool dbl, void **out) {
  oxrt_elem_type wt = dbl ? OXRT_DOUBLE : OXRT_FLOAT;
  size_t A = (size_t)v->dims[0], B = (size_t)v->dims[1], inner = (size_t)v->dims[2];
  size_t es = oxrt_elem_type_size(v->dtype), ws = oxrt_elem_type_size(wt);
  *out = malloc(v->count * ws + 1);
  if (!*out) return OXRT_OOM();
  for (size_t i = 0; i < A; i++)
    for (size_t j = 0; j < B; j++)
      oxrt_convert(wt, (char *)*out + (j * A + i) * inner * ws, v->dtype,
                   (const char *)v->data + (i * B + j) * inner * es, inner, false);
  return NULL;
}

static oxrt_status *check_shape(const oxrt_value *v, int index, const char *what, oxrt_elem_type t, int rank,
                                const int64_t *dims) {
  OXRT_TRY(oxrt_check_tensor(v, index, what));
  if (v->dtype != t)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (%s) has element type %s, X has %s", index, what,
                      oxrt_elem_type_name(v->dtype), oxrt_elem_type_name(t));
  bool ok = v->rank == rank;
  for (int d = 0; ok && d < rank; d++) ok = v->dims[d] == dims[d];
  if (!ok) {
    char a[128], b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (%s) has shape %s, expected %s", index, what,
                      oxrt_dims_str(v->dims, v->rank, a, sizeof a), oxrt_dims_str(dims, rank, b, sizeof b));
  }
  return NULL;
}

typedef struct rnn_bufs {
  void *tmp[8];
  void *gx, *gh, *scratch, *bias, *y, *yh, *yc, *h0, *c0, *x, *xs;
  void **rows;
  int32_t *lens;
} rnn_bufs;

static void bufs_free(rnn_bufs *b) {
  for (int i = 0; i < 8; i++) free(b->tmp[i]);
  free(b->gx), free(b->gh), free(b->scratch), free(b->bias), free(b->y), free(b->yh), free(b->yc);
  free(b->h0), free(b->c0), free(b->x), free(b->xs), free(b->rows);
}

oxrt_status *oxrt_rnn_write_output(oxrt_kernel_ctx *ctx, int o, oxrt_elem_type t, bool dbl, const void *src, int rank,
                                   const int64_t *dims0, int layout) {
  if (!oxrt_output_wanted(ctx, o)) return NULL;
  oxrt_elem_type wt = dbl ? OXRT_DOUBLE : OXRT_FLOAT;
  size_t ws = oxrt_elem_type_size(wt), es = oxrt_elem_type_size(t);
  int64_t dims[4];
  /* layout 1 moves the batch axis (second to last) to the front */
  for (int d = 0; d < rank; d++) dims[d] = dims0[d];
  if (layout == 1) {
    dims[0] = dims0[rank - 2];
    for (int d = 1; d < rank - 1; d++) dims[d] = dims0[d - 1];
  }
  oxrt_value *v;
  OXRT_TRY(oxrt_output_tensor(ctx, o, t, rank, dims, &v));
  size_t H = (size_t)dims0[rank - 1], Bt = (size_t)dims0[rank - 2], lead = 1;
  for (int d = 0; d < rank - 2; d++) lead *= (size_t)dims0[d];
  if (layout == 0) {
    if (v->count) oxrt_convert(t, v->data, wt, src, v->count, false);
    return NULL;
  }
  for (size_t l = 0; l < lead; l++)
    for (size_t b = 0; b < Bt; b++)
      oxrt_convert(t, (char *)v->data + (b * lead + l) * H * es, wt, (const char *)src + (l * Bt + b) * H * ws, H,
                   false);
  return NULL;
}

oxrt_status *oxrt_rnn_check(oxrt_kernel_ctx *ctx, rnn_io *io) {
  const rnn_attrs *a = ctx->state;
  const bool lstm = a->cell == RNN_CELL_LSTM;
  const oxrt_value *X = oxrt_input(ctx, 0), *W = oxrt_input(ctx, 1), *R = oxrt_input(ctx, 2);
  const oxrt_value *B = oxrt_input(ctx, 3), *SL = oxrt_input(ctx, 4), *H0 = oxrt_input(ctx, 5);
  const oxrt_value *C0 = lstm ? oxrt_input(ctx, 6) : NULL, *P = lstm ? oxrt_input(ctx, 7) : NULL;
  memset(io, 0, sizeof *io);
  OXRT_TRY(oxrt_check_tensor(X, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(W, 1, "W"));
  OXRT_TRY(oxrt_check_tensor(R, 2, "R"));
  if (X->rank != 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X) must have rank 3, got %d", X->rank);
  const oxrt_elem_type T = X->dtype;
  if (T != OXRT_FLOAT && T != OXRT_DOUBLE && T != OXRT_FLOAT16 && T != OXRT_BFLOAT16)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "element type %s is not supported", oxrt_elem_type_name(T));
  const int64_t S = X->dims[a->layout ? 1 : 0], Bt = X->dims[a->layout ? 0 : 1], I = X->dims[2];
  const int64_t D = a->ndir, G = a->gates;
  if (W->rank != 3 || R->rank != 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "W and R must have rank 3, got %d and %d", W->rank, R->rank);
  int64_t Hs = a->hidden ? a->hidden : R->dims[2];
  if (Hs <= 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "hidden size must be positive, R is %lld wide",
                                 (long long)R->dims[2]);
  const int64_t wd[3] = {D, G * Hs, I}, rd[3] = {D, G * Hs, Hs}, bd[2] = {D, 2 * G * Hs};
  const int64_t hd[3] = {a->layout ? Bt : D, a->layout ? D : Bt, Hs}, pd[2] = {D, 3 * Hs};
  OXRT_TRY(check_shape(W, 1, "W", T, 3, wd));
  OXRT_TRY(check_shape(R, 2, "R", T, 3, rd));
  if (B) OXRT_TRY(check_shape(B, 3, "B", T, 2, bd));
  if (H0) OXRT_TRY(check_shape(H0, 5, "initial_h", T, 3, hd));
  if (C0) OXRT_TRY(check_shape(C0, 6, "initial_c", T, 3, hd));
  if (P) OXRT_TRY(check_shape(P, 7, "P", T, 2, pd));
  *io = (rnn_io){X, W, R, B, H0, C0, P, T, (size_t)S, (size_t)Bt, (size_t)I, (size_t)Hs, (size_t)D, (size_t)G, NULL};

  /* sequence lengths */
  io->lens = malloc((io->Bt + 1) * sizeof *io->lens);
  if (!io->lens) return OXRT_OOM();
  if (SL) {
    OXRT_TRY(oxrt_check_tensor(SL, 4, "sequence_lens"));
    if ((SL->dtype != OXRT_INT32 && SL->dtype != OXRT_INT64) || SL->rank != 1 || SL->dims[0] != Bt)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 4 (sequence_lens) must be int32 [%lld]", (long long)Bt);
    for (size_t b = 0; b < io->Bt; b++) {
      int64_t l = oxrt_load_i64(SL->dtype, SL->data, b);
      if (l < 0 || l > S)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence_lens[%zu] = %lld is outside [0, %lld]", b, (long long)l,
                          (long long)S);
      io->lens[b] = (int32_t)l;
    }
  } else {
    for (size_t b = 0; b < io->Bt; b++) io->lens[b] = (int32_t)S;
  }
  return NULL;
}

/* The generic path (double, and float problems too large for the float path's buffers): the working type is
 * double for double tensors, else float; one call of the cell's step per time step. */
static oxrt_status *rnn_run_bufs(oxrt_kernel_ctx *ctx, const rnn_io *io, rnn_step_fn step, rnn_bufs *bf) {
  const rnn_attrs *a = ctx->state;
  const bool lstm = a->cell == RNN_CELL_LSTM;
  const oxrt_value *X = io->X, *W = io->W, *R = io->R, *B = io->B, *H0 = io->H0, *C0 = io->C0, *P = io->P;
  const oxrt_elem_type T = io->T;
  const bool dbl = T == OXRT_DOUBLE;
  const size_t ws = dbl ? sizeof(double) : sizeof(float);
  const int64_t S = (int64_t)io->S, Bt = (int64_t)io->Bt, D = (int64_t)io->D, Hs = (int64_t)io->H;
  const size_t s_ = io->S, b_ = io->Bt, h_ = io->H, g_ = io->G, i_ = io->I;
  const size_t gh_ = g_ * h_;
  bf->lens = io->lens;
  bf->rows = calloc(b_ + 1, sizeof *bf->rows);
  if (!bf->rows) return OXRT_OOM();

  /* inputs in the working type, time-major */
  const void *x, *w, *r, *bias = NULL, *h0 = NULL, *c0 = NULL, *p = NULL;
  if (a->layout) {
    OXRT_TRY(swap01_to_work(X, dbl, &bf->x));
    x = bf->x;
  } else {
    OXRT_TRY(as_work(X, dbl, &x, &bf->tmp[0]));
  }
  OXRT_TRY(as_work(W, dbl, &w, &bf->tmp[1]));
  OXRT_TRY(as_work(R, dbl, &r, &bf->tmp[2]));
  if (B) OXRT_TRY(as_work(B, dbl, &bias, &bf->tmp[3]));
  if (P) OXRT_TRY(as_work(P, dbl, &p, &bf->tmp[4]));
  if (H0) {
    if (a->layout) {
      OXRT_TRY(swap01_to_work(H0, dbl, &bf->h0));
      h0 = bf->h0;
    } else {
      OXRT_TRY(as_work(H0, dbl, &h0, &bf->tmp[5]));
    }
  }
  if (C0) {
    if (a->layout) {
      OXRT_TRY(swap01_to_work(C0, dbl, &bf->c0));
      c0 = bf->c0;
    } else {
      OXRT_TRY(as_work(C0, dbl, &c0, &bf->tmp[6]));
    }
  }

  /* outputs and scratch */
  size_t n_y = s_ * (size_t)D * b_ * h_, n_state = (size_t)D * b_ * h_;
  bf->y = calloc(n_y + 1, ws);
  bf->yh = calloc(n_state + 1, ws);
  bf->yc = calloc(n_state + 1, ws);
  /* input projections of all steps at once (one large GEMM) when they fit in 64 MiB, else step by step */
  const bool all_steps = s_ * b_ * gh_ * ws <= ((size_t)64 << 20);
  bf->gx = malloc(((all_steps ? s_ : 1) * b_ * gh_ + 1) * ws);
  if (!all_steps && !(bf->xs = calloc(b_ * i_ + 1, ws))) return OXRT_OOM();
  bf->gh = malloc((b_ * gh_ + 1) * ws);
  bf->scratch = calloc(b_ * h_ + 1, ws);
  bf->bias = calloc(gh_ + 1, ws);
  if (!bf->y || !bf->yh || !bf->yc || !bf->gx || !bf->gh || !bf->scratch || !bf->bias) return OXRT_OOM();
  const bool want_y = oxrt_output_wanted(ctx, 0);

  for (int64_t d = 0; d < D; d++) {
    const bool rev = a->ndir == 2 ? d == 1 : a->reverse;
    const char *rd_ = (const char *)r + (size_t)d * gh_ * h_ * ws;
    /* projections gx[rows, G*H] = X * W_d^T + Wb (+ Rb where it folds) */
    const char *wd_ = (const char *)w + (size_t)d * gh_ * i_ * ws;
    const void *rb = NULL;
    if (bias) {
      const char *bd_ = (const char *)bias + (size_t)d * 2 * gh_ * ws;
      rb = bd_ + gh_ * ws;
      size_t fold = a->cell == RNN_CELL_GRU && a->linear_before_reset ? 2 * h_ : gh_;
      for (size_t j = 0; j < gh_; j++)
        rnn_st(bf->bias, j, rnn_ld(bd_, j, dbl) + (j < fold ? rnn_ld(rb, j, dbl) : 0.0), dbl);
    }
    if (all_steps) {
      oxrt_rnn_gemm_bt(dbl, s_ * b_, gh_, i_, x, i_, wd_, i_, 0.0, bf->gx, gh_, ctx->pool);
      if (bias)
        for (size_t q = 0; q < s_ * b_; q++) oxrt_rnn_vadd(dbl, (char *)bf->gx + q * gh_ * ws, bf->bias, gh_);
    }
    /* state */
    char *h = (char *)bf->yh + (size_t)d * b_ * h_ * ws, *c = (char *)bf->yc + (size_t)d * b_ * h_ * ws;
    if (h0) memcpy(h, (const char *)h0 + (size_t)d * b_ * h_ * ws, b_ * h_ * ws);
    if (c0) memcpy(c, (const char *)c0 + (size_t)d * b_ * h_ * ws, b_ * h_ * ws);
    rnn_dir dir = {a, dbl, ctx->pool, b_, h_, rd_, rb, p ? (const char *)p + (size_t)d * 3 * h_ * ws : NULL,
                   a->act[d], bf->gh, bf->scratch};
    for (size_t s = 0; s < s_; s++) {
      bool any = false;
      for (size_t b = 0; b < b_; b++) {
        size_t len = (size_t)bf->lens[b];
        if (s >= len) {
          bf->rows[b] = NULL;
          continue;
        }
        size_t t = rev ? len - 1 - s : s;
        bf->rows[b] = (char *)bf->gx + ((all_steps ? t * b_ : 0) + b) * gh_ * ws;
        if (!all_steps) memcpy((char *)bf->xs + b * i_ * ws, (const char *)x + (t * b_ + b) * i_ * ws, i_ * ws);
        any = true;
      }
      if (!any) break;
      if (!all_steps) { /* this step's rows only (finished rows compute on stale input and are ignored) */
        oxrt_rnn_gemm_bt(dbl, b_, gh_, i_, bf->xs, i_, wd_, i_, 0.0, bf->gx, gh_, ctx->pool);
        if (bias)
          for (size_t b = 0; b < b_; b++) oxrt_rnn_vadd(dbl, (char *)bf->gx + b * gh_ * ws, bf->bias, gh_);
      }
      step(&dir, bf->rows, h, c);
      if (!want_y) continue;
      for (size_t b = 0; b < b_; b++) {
        size_t len = (size_t)bf->lens[b];
        if (s >= len) continue;
        size_t t = rev ? len - 1 - s : s;
        memcpy((char *)bf->y + ((t * (size_t)D + (size_t)d) * b_ + b) * h_ * ws, h + b * h_ * ws, h_ * ws);
      }
    }
    /* a row with an empty sequence has no final state: zeros, as ONNX Runtime gives */
    for (size_t b = 0; b < b_; b++)
      if (!bf->lens[b]) {
        memset(h + b * h_ * ws, 0, h_ * ws);
        memset(c + b * h_ * ws, 0, h_ * ws);
      }
  }
  const int64_t yd[4] = {S, D, Bt, Hs}, sdims[3] = {D, Bt, Hs};
  OXRT_TRY(oxrt_rnn_write_output(ctx, 0, T, dbl, bf->y, 4, yd, a->layout));
  OXRT_TRY(oxrt_rnn_write_output(ctx, 1, T, dbl, bf->yh, 3, sdims, a->layout));
  if (lstm) OXRT_TRY(oxrt_rnn_write_output(ctx, 2, T, dbl, bf->yc, 3, sdims, a->layout));
  return NULL;
}

oxrt_status *oxrt_rnn_run(oxrt_kernel_ctx *ctx, rnn_step_fn step) {
  rnn_io io;
  oxrt_status *st = oxrt_rnn_check(ctx, &io);
  bool done = false;
  if (!st && io.T != OXRT_DOUBLE) st = oxrt_rnn_run_f32(ctx, &io, &done);
  if (!st && !done) {
    rnn_bufs bf;
    memset(&bf, 0, sizeof bf);
    st = rnn_run_bufs(ctx, &io, step, &bf);
    bufs_free(&bf);
  }
  free(io.lens);
  return st;
}

void oxrt_rnn_release(void *state) {
  rnn_attrs *a = state;
  if (!a) return;
  oxrt_rnn_f32_cache_free(a->f32);
  free(a);
}
