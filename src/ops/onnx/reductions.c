/* reductions.c - the Reduce* family, table-driven: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd,
 * ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare.
 *
 * Each operator is (element transform, combine, initial value, finish). Axes come from the `axes` attribute
 * before the version that turned them into input 1 (ReduceSum 13, the others 18). The input shape is
 * collapsed into alternating kept/reduced groups and walked once in memory order, so every reduction
 * pattern reads the input sequentially; work is split over the outermost group when it is kept.
 * Floats accumulate in double; integer Sum/Prod/Max/Min/L1/SumSquare are exact in int64 (wrapping like the
 * element type); integer Mean/L2/LogSum go through double and truncate like numpy's astype. */
#include "../op_util.h"
#include "../infer_rules.h"
#include "f32_view.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ } red_op;
typedef enum { C_SUM, C_PROD, C_MAX, C_MIN } red_comb;
typedef enum { T_ID, T_ABS, T_SQ, T_EXPSHIFT } red_tf;

typedef struct {
  red_comb comb;
  red_tf tf;
} red_desc;

static const red_desc red_table[] = {
    [R_SUM] = {C_SUM, T_ID},      [R_MEAN] = {C_SUM, T_ID},   [R_MAX] = {C_MAX, T_ID},
    [R_MIN] = {C_MIN, T_ID},      [R_PROD] = {C_PROD, T_ID},  [R_L1] = {C_SUM, T_ABS},
    [R_L2] = {C_SUM, T_SQ},       [R_LOGSUM] = {C_SUM, T_ID}, [R_LOGSUMEXP] = {C_SUM, T_EXPSHIFT},
    [R_SUMSQ] = {C_SUM, T_SQ},
};

/* The input viewed as m groups of consecutive axes, alternately kept and reduced. */
typedef struct {
  int m;
  int64_t size[OXRT_MAX_RANK];
  bool red[OXRT_MAX_RANK];
  int64_t ostride[OXRT_MAX_RANK]; /* output stride of each group (0 when reduced) */
  int64_t istride[OXRT_MAX_RANK]; /* input stride */
} red_shape;

typedef struct {
  const red_shape *S;
  red_comb comb;
  red_tf tf;
  bool is_unsigned;
  const void *x;       /* float, double or int64 elements */
  void *acc;           /* double or int64 accumulators, one per output */
  const double *shift; /* T_EXPSHIFT: per-output maximum */
} red_job;

/* Walks rows (the last group) of the input for first-group indices [b, e) and folds them into acc.
 * One macro body serves float and double sources (double accumulators) and int64 (int64 accumulators). */
#define RED_WALK(NAME, SRC_T, ACC_T, COMBINE, TRANSFORM)                                                        \
  static void NAME(void *arg, size_t b, size_t e) {                                                            \
    const red_job *J = arg;                                                                                    \
    const red_shape *S = J->S;                                                                                 \
    const SRC_T *x = J->x;                                                                                     \
    ACC_T *acc = J->acc;                                                                                       \
    const int m = S->m;                                                                                        \
    const int64_t L = S->size[m - 1];                                                                          \
    const bool last_red = S->red[m - 1];                                                                       \
    int64_t idx[OXRT_MAX_RANK] = {0};                                                                          \
    idx[0] = (int64_t)b;                                                                                       \
    if (m == 1) e = b + 1; /* a single group is the whole row */                                              \
    for (;;) {                                                                                                 \
      int64_t xo = 0, oo = 0;                                                                                  \
      for (int g = 0; g < m - 1; g++) xo += idx[g] * S->istride[g], oo += idx[g] * S->ostride[g];             \
      const SRC_T *row = x + xo;                                                                               \
      if (last_red) {                                                                                          \
        ACC_T a = acc[oo];                                                                                     \
        const ACC_T sh = J->shift ? (ACC_T)J->shift[oo] : 0;                                                   \
        (void)sh;                                                                                              \
        for (int64_t j = 0; j < L; j++) {                                                                      \
          ACC_T v = (ACC_T)row[j];                                                                             \
          TRANSFORM;                                                                                           \
          COMBINE(a, v);                                                                                       \
        }                                                                                                      \
        acc[oo] = a;                                                                                           \
      } else {                                                                                                 \
        ACC_T *ar = acc + oo;                                                                                  \
        for (int64_t j = 0; j < L; j++) {                                                                      \
          const ACC_T sh = J->shift ? (ACC_T)J->shift[oo + j] : 0;                                             \
          (void)sh;                                                                                            \
          ACC_T v = (ACC_T)row[j];                                                                             \
          TRANSFORM;                                                                                           \
          COMBINE(ar[j], v);                                                                                   \
        }                                                                                                      \
      }                                                                                                        \
      int g = m - 2;                                                                                           \
      for (; g >= 0; g--) {                                                                                    \
        if (++idx[g] < (g == 0 ? (int64_t)e : S->size[g])) break;                                              \
        if (g == 0) break;                                                                                     \
        idx[g] = 0;                                                                                            \
      }                                                                                                        \
      if (g < 0 || (g == 0 && idx[0] >= (int64_t)e)) break;                                                    \
    }                                                                                                          \
  }

#define CMB_SUM(a, v) ((a) += (v))
#define CMB_PROD(a, v) ((a) *= (v))
#define CMB_MAX(a, v) ((a) = ((v) > (a) || (v) != (v)) && (a) == (a) ? (v) : (a))
#define CMB_MIN(a, v) ((a) = ((v) < (a) || (v) != (v)) && (a) == (a) ? (v) : (a))
#define CMB_UMAX(a, v) ((a) = (uint64_t)(v) > (uint64_t)(a) ? (v) : (a))
#define CMB_UMIN(a, v) ((a) = (uint64_t)(v) < (uint64_t)(a) ? (v) : (a))
#define TF_ID (void)0
#define TF_ABS v = v < 0 ? -v : v
#define TF_SQ v = v * v
#define TF_EXPSHIFT v = exp(v - sh)
#define TF_IABS v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v
#define TF_ISQ v = (int64_t)((uint64_t)v * (uint64_t)v)
#define IPROD(a, v) ((a) = (int64_t)((uint64_t)(a) * (uint64_t)(v)))
#define ISUM(a, v) ((a) = (int64_t)((uint64_t)(a) + (uint64_t)(v)))

/* float sources */
RED_WALK(rw_f_sum, float, double, CMB_SUM, TF_ID)
RED_WALK(rw_f_prod, float, double, CMB_PROD, TF_ID)
RED_WALK(rw_f_max, float, double, CMB_MAX, TF_ID)
RED_WALK(rw_f_min, float, double, CMB_MIN, TF_ID)
RED_WALK(rw_f_abs, float, double, CMB_SUM, TF_ABS)
RED_WALK(rw_f_sq, float, double, CMB_SUM, TF_SQ)
RED_WALK(rw_f_exp, float, double, CMB_SUM, TF_EXPSHIFT)
/* double sources (double, float16, bfloat16 and integers needing real arithmetic are converted to double) */
RED_WALK(rw_d_sum, double, double, CMB_SUM, TF_ID)
RED_WALK(rw_d_prod, double, double, CMB_PROD, TF_ID)
RED_WALK(rw_d_max, double, double, CMB_MAX, TF_ID)
RED_WALK(rw_d_min, double, double, CMB_MIN, TF_ID)
RED_WALK(rw_d_abs, double, double, CMB_SUM, TF_ABS)
RED_WALK(rw_d_sq, double, double, CMB_SUM, TF_SQ)
RED_WALK(rw_d_exp, double, double, CMB_SUM, TF_EXPSHIFT)
/* exact integer sources */
RED_WALK(rw_i_sum, int64_t, int64_t, ISUM, TF_ID)
RED_WALK(rw_i_prod, int64_t, int64_t, IPROD, TF_ID)
RED_WALK(rw_i_max, int64_t, int64_t, CMB_MAX, TF_ID)
RED_WALK(rw_i_min, int64_t, int64_t, CMB_MIN, TF_ID)
RED_WALK(rw_u_max, int64_t, int64_t, CMB_UMAX, TF_ID)
RED_WALK(rw_u_min, int64_t, int64_t, CMB_UMIN, TF_ID)
RED_WALK(rw_i_abs, int64_t, int64_t, ISUM, TF_IABS)
RED_WALK(rw_i_sq, int64_t, int64_t, ISUM, TF_ISQ)

typedef void (*walk_fn)(void *, size_t, size_t);

static walk_fn pick_walk(int src, red_comb c, red_tf t, bool is_unsigned) {
  /* src: 0 float, 1 double, 2 int64 */
  static const walk_fn fw[3][4] = {{rw_f_sum, rw_f_prod, rw_f_max, rw_f_min},
                                   {rw_d_sum, rw_d_prod, rw_d_max, rw_d_min},
                                   {rw_i_sum, rw_i_prod, rw_i_max, rw_i_min}};
  if (src == 2 && is_unsigned && (c == C_MAX || c == C_MIN)) return c == C_MAX ? rw_u_max : rw_u_min;
  if (t == T_ABS) return src == 0 ? rw_f_abs : src == 1 ? rw_d_abs : rw_i_abs;
  if (t == T_SQ) return src == 0 ? rw_f_sq : src == 1 ? rw_d_sq : rw_i_sq;
  if (t == T_EXPSHIFT) return src == 0 ? rw_f_exp : rw_d_exp;
  return fw[src][c];
}

static void run_walk(oxrt_kernel_ctx *ctx, red_job *J, walk_fn fn, size_t total) {
  const red_shape *S = J->S;
  /* Outputs written for different first-group indices are disjoint only when that group is kept. */
  if (S->m > 1 && !S->red[0] && total >= 32768) {
    size_t per = total / (size_t)S->size[0];
    oxrt_parallel(ctx, (size_t)S->size[0], per >= 16384 ? 1 : 16384 / (per + 1) + 1, fn, J);
  } else {
    fn(J, 0, S->m > 1 ? (size_t)S->size[0] : 1);
  }
}

static oxrt_status *reduce_run(oxrt_kernel_ctx *ctx, red_op op, int axes_input_since) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "data"));
  const int r = x->rank;
  const bool keepdims = oxrt_attr_int(ctx->node, "keepdims", 1) != 0;
  bool mask[OXRT_MAX_RANK] = {false};
  bool all = true;
  if (ctx->opset >= axes_input_since) {
    const oxrt_value *ax = oxrt_input(ctx, 1);
    const bool noop = oxrt_attr_int(ctx->node, "noop_with_empty_axes", 0) != 0;
    if (ax && ax->count > 0) {
      int64_t *v;
      size_t n;
      OXRT_TRY(oxrt_read_int_list(ax, 1, &v, &n));
      for (size_t i = 0; i < n; i++) {
        int64_t a;
        oxrt_status *st = oxrt_norm_axis(v[i], r, false, &a);
        if (st) {
          free(v);
          return st;
        }
        mask[a] = true;
      }
      free(v);
      all = false;
    } else if (noop) {
      all = false; /* reduce over no axis: each output is the (transformed) element itself */
    }
  } else {
    size_t n = 0;
    const int64_t *v = oxrt_attr_ints(ctx->node, "axes", &n);
    if (v && n > 0) {
      for (size_t i = 0; i < n; i++) {
        int64_t a;
        OXRT_TRY(oxrt_norm_axis(v[i], r, false, &a));
        mask[a] = true;
      }
      all = false;
    }
  }
  if (all)
    for (int i = 0; i < r; i++) mask[i] = true;

  int64_t odims[OXRT_MAX_RANK];
  int orank = 0;
  for (int i = 0; i < r; i++) {
    if (!mask[i]) odims[orank++] = x->dims[i];
    else if (keepdims) odims[orank++] = 1;
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, orank, odims, &y));
  const size_t O = y->count;
  if (O == 0) return NULL;
  size_t R = 1;
  for (int i = 0; i < r; i++)
    if (mask[i]) R *= (size_t)x->dims[i];

  /* Collapse into groups; unit axes join whichever group they touch. */
  red_shape S;
  memset(&S, 0, sizeof S);
  for (int i = 0; i < r; i++) {
    if (x->dims[i] == 1) continue;
    if (S.m > 0 && S.red[S.m - 1] == mask[i]) {
      S.size[S.m - 1] *= x->dims[i];
    } else {
      S.size[S.m] = x->dims[i];
      S.red[S.m] = mask[i];
      S.m++;
    }
  }
  if (S.m == 0) S.m = 1, S.size[0] = 1, S.red[0] = false;
  {
    int64_t is = 1, os = 1;
    for (int g = S.m - 1; g >= 0; g--) {
      S.istride[g] = is;
      is *= S.size[g];
      S.ostride[g] = S.red[g] ? 0 : os;
      if (!S.red[g]) os *= S.size[g];
    }
  }

  const red_desc D = red_table[op];
  const oxrt_elem_type t = x->dtype;
  const bool is_int = oxrt_dtype_is_signed_int(t) || oxrt_dtype_is_unsigned_int(t) || t == OXRT_BOOL;
  const bool exact_int = is_int && (op == R_SUM || op == R_PROD || op == R_MAX || op == R_MIN || op == R_L1 || op == R_SUMSQ);
  const int src = t == OXRT_FLOAT ? 0 : exact_int ? 2 : 1;
  const size_t total = x->count;

  /* Source data: float in place, everything else converted (double or int64). */
  void *conv = NULL;
  const void *xs = x->data;
  if (src != 0 && !(src == 1 && t == OXRT_DOUBLE) && !(src == 2 && (t == OXRT_INT64 || t == OXRT_UINT64))) {
    conv = malloc(8 * (total ? total : 1));
    if (!conv) return OXRT_OOM();
    if (src == 1 && (t == OXRT_FLOAT16 || t == OXRT_BFLOAT16)) {
      /* widened exactly a block at a time with the bulk conversions, not a type switch per element */
      float blk[1024];
      for (size_t s = 0; s < total; s += 1024) {
        size_t n = total - s < 1024 ? total - s : 1024;
        f32_widen(t, (const uint16_t *)x->data + s, blk, n);
        for (size_t i = 0; i < n; i++) ((double *)conv)[s + i] = blk[i];
      }
    } else if (src == 1) {
      for (size_t i = 0; i < total; i++) ((double *)conv)[i] = oxrt_load_f64(t, x->data, i);
    } else {
      for (size_t i = 0; i < total; i++) ((int64_t *)conv)[i] = oxrt_load_i64(t, x->data, i);
    }
    xs = conv;
  }
  void *acc = malloc(8 * O);
  double *shift = NULL;
  if (!acc) {
    free(conv);
    return OXRT_OOM();
  }
  red_job J = {.S = &S, .comb = D.comb, .tf = D.tf, .is_unsigned = oxrt_dtype_is_unsigned_int(t), .x = xs, .acc = acc};

  if (src == 2) {
    int64_t *a = acc;
    int64_t init = 0;
    if (D.comb == C_PROD) init = 1;
    else if (D.comb == C_MAX) init = J.is_unsigned ? 0 : t == OXRT_BOOL ? 0 : INT64_MIN;
    else if (D.comb == C_MIN) init = J.is_unsigned ? -1 /* UINT64_MAX */ : t == OXRT_BOOL ? 1 : INT64_MAX;
    for (size_t i = 0; i < O; i++) a[i] = init;
    if (total) run_walk(ctx, &J, pick_walk(2, D.comb, D.tf, J.is_unsigned), total);
    if (R == 0 && (D.comb == C_MAX || D.comb == C_MIN) && !J.is_unsigned && t != OXRT_BOOL) {
      /* empty-set max/min: the extreme value of the element type */
      for (size_t i = 0; i < O; i++) {
        double v = D.comb == C_MAX ? -INFINITY : INFINITY;
        oxrt_store_f64(t, y->data, i, v);
      }
    } else if (R == 0 && J.is_unsigned && D.comb == C_MIN) {
      for (size_t i = 0; i < O; i++) oxrt_store_f64(t, y->data, i, INFINITY);
    } else {
      for (size_t i = 0; i < O; i++) oxrt_store_i64(t, y->data, i, a[i]);
    }
  } else {
    double *a = acc;
    double init = D.comb == C_PROD ? 1.0 : D.comb == C_MAX ? -INFINITY : D.comb == C_MIN ? INFINITY : 0.0;
    if (op == R_LOGSUMEXP) {
      /* pass 1: maximum per output (infinite inputs do not shift); pass 2: sum of exp(x - max) */
      for (size_t i = 0; i < O; i++) a[i] = -INFINITY;
      J.comb = C_MAX;
      if (total) run_walk(ctx, &J, pick_walk(src, C_MAX, T_ID, false), total);
      shift = malloc(sizeof(double) * O);
      if (!shift) {
        free(acc);
        free(conv);
        return OXRT_OOM();
      }
      for (size_t i = 0; i < O; i++) shift[i] = isinf(a[i]) ? 0.0 : a[i];
      J.comb = C_SUM;
      J.shift = shift;
      init = 0.0;
    }
    for (size_t i = 0; i < O; i++) a[i] = init;
    if (total) run_walk(ctx, &J, pick_walk(src, J.comb, D.tf, false), total);
    for (size_t i = 0; i < O; i++) {
      double v = a[i];
      switch (op) {
      case R_MEAN: v = v / (double)R; break;
      case R_L2: v = sqrt(v); break;
      case R_LOGSUM: v = log(v); break;
      case R_LOGSUMEXP: v = log(v) + shift[i]; break;
      default: break;
      }
      if (t == OXRT_FLOAT) ((float *)y->data)[i] = (float)v;
      else if (t == OXRT_DOUBLE) ((double *)y->data)[i] = v;
      else oxrt_store_f64(t, y->data, i, v);
    }
  }
  free(shift);
  free(acc);
  free(conv);
  return NULL;
}

#define RED_RUN(NAME, OP, SINCE)                                                                                 \
  static oxrt_status *NAME(oxrt_kernel_ctx *ctx) { return reduce_run(ctx, OP, SINCE); }
RED_RUN(rsum_run, R_SUM, 13)
RED_RUN(rmean_run, R_MEAN, 18)
RED_RUN(rmax_run, R_MAX, 18)
RED_RUN(rmin_run, R_MIN, 18)
RED_RUN(rprod_run, R_PROD, 18)
RED_RUN(rl1_run, R_L1, 18)
RED_RUN(rl2_run, R_L2, 18)
RED_RUN(rlogsum_run, R_LOGSUM, 18)
RED_RUN(rlse_run, R_LOGSUMEXP, 18)
RED_RUN(rsumsq_run, R_SUMSQ, 18)

#define T_NUM (OXRT_TMASK_FLOATS | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
#define T_NUM8 (T_NUM | OXRT_TBIT(OXRT_INT8) | OXRT_TBIT(OXRT_UINT8))

/* Versions: 1, 11 (negative axes), 13 (bfloat16; ReduceSum axes input), 18 (axes input), and for Max/Min
 * 12 (int8/uint8) and 20 (bool). Older versions simply read the attribute. */
#define RED_IMPLS(NAME, RUN, MASK)                                                                               \
  static const oxrt_op_impl NAME[] = {                                                                         \
      {.since_version = 1, .type_mask = MASK, .run = RUN},  {.since_version = 11, .type_mask = MASK, .run = RUN}, \
      {.since_version = 13, .type_mask = MASK, .run = RUN}, {.since_version = 18, .type_mask = MASK, .run = RUN}, \
  };
RED_IMPLS(rsum_impls, rsum_run, T_NUM)
RED_IMPLS(rmean_impls, rmean_run, T_NUM)
RED_IMPLS(rprod_impls, rprod_run, T_NUM)
RED_IMPLS(rl1_impls, rl1_run, T_NUM)
RED_IMPLS(rl2_impls, rl2_run, T_NUM)
RED_IMPLS(rlogsum_impls, rlogsum_run, T_NUM)
RED_IMPLS(rlse_impls, rlse_run, T_NUM)
RED_IMPLS(rsumsq_impls, rsumsq_run, T_NUM)

static const oxrt_op_impl rmax_impls[] = {
    {.since_version = 1, .type_mask = T_NUM, .run = rmax_run},
    {.since_version = 11, .type_mask = T_NUM, .run = rmax_run},
    {.since_version = 12, .type_mask = T_NUM8, .run = rmax_run},
    {.since_version = 13, .type_mask = T_NUM8, .run = rmax_run},
    {.since_version = 18, .type_mask = T_NUM8, .run = rmax_run},
    {.since_version = 20, .type_mask = T_NUM8 | OXRT_TBIT(OXRT_BOOL), .run = rmax_run},
};
static const oxrt_op_impl rmin_impls[] = {
    {.since_version = 1, .type_mask = T_NUM, .run = rmin_run},
    {.since_version = 11, .type_mask = T_NUM, .run = rmin_run},
    {.since_version = 12, .type_mask = T_NUM8, .run = rmin_run},
    {.since_version = 13, .type_mask = T_NUM8, .run = rmin_run},
    {.since_version = 18, .type_mask = T_NUM8, .run = rmin_run},
    {.since_version = 20, .type_mask = T_NUM8 | OXRT_TBIT(OXRT_BOOL), .run = rmin_run},
};

OXRT_REGISTER_OP(ReduceSum) = {"", "ReduceSum", OXRT_IMPLS(rsum_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceMean) = {"", "ReduceMean", OXRT_IMPLS(rmean_impls), .infer = oxrt_infer_reduce,
                                .flags = OXRT_OP_SAME_ELEM_TYPE};
OXRT_REGISTER_OP(ReduceMax) = {"", "ReduceMax", OXRT_IMPLS(rmax_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceMin) = {"", "ReduceMin", OXRT_IMPLS(rmin_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceProd) = {"", "ReduceProd", OXRT_IMPLS(rprod_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceL1) = {"", "ReduceL1", OXRT_IMPLS(rl1_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceL2) = {"", "ReduceL2", OXRT_IMPLS(rl2_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceLogSum) = {"", "ReduceLogSum", OXRT_IMPLS(rlogsum_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceLogSumExp) = {"", "ReduceLogSumExp", OXRT_IMPLS(rlse_impls), .infer = oxrt_infer_reduce};
OXRT_REGISTER_OP(ReduceSumSquare) = {"", "ReduceSumSquare", OXRT_IMPLS(rsumsq_impls), .infer = oxrt_infer_reduce};
