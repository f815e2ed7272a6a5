/* Softmax.c - Softmax and LogSoftmax.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalised over the flattened
 * trailing block; from 13 on, over the single axis `axis` (default -1). Either way the data is viewed as
 * [outer, D, inner]; inner == 1 (the usual last-axis case) runs contiguous rows, otherwise columns are
 * processed a row of `inner` at a time so memory is still read sequentially. Rows run in parallel.
 * The exponentials come from kernels/vmath.h; no output is subnormal (values below FLT_MIN become 0), since
 * subnormal probabilities would slow every MatMul that consumes them by orders of magnitude. */
#include "../../core/cpu.h"
#include "../../kernels/softmax_row.h"
#include "../../kernels/vmath.h"
#include "../infer_rules.h"
#include "f32_view.h"
#include <float.h>
#include <math.h>

typedef struct {
  const float *x;
  float *y;
  size_t D, inner;
  bool log;
  oxrt_softmax_row_fn row;    /* the contiguous-row kernel, chosen once per node */
  const oxrt_vmath_table *vm; /* its exp set */
} sm_job;

OXRT_SIMD_CLONES static void sm_rows(void *arg, size_t b, size_t e) {
  const sm_job *J = arg;
  const size_t D = J->D, inner = J->inner;
  for (size_t o = b; o < e; o++) {
    const float *x = J->x + o * D * inner;
    float *y = J->y + o * D * inner;
    if (inner == 1) {
      J->row(x, y, D, J->log, J->vm);
    } else {
      /* column form: y holds the running max, then the exps; sums accumulate in a row of `inner` */
      for (size_t j = 0; j < inner; j++) y[j] = x[j];
      for (size_t i = 1; i < D; i++)
        for (size_t j = 0; j < inner; j++) y[j] = x[i * inner + j] > y[j] ? x[i * inner + j] : y[j];
      float mbuf[256], sbuf[256], ebuf[256];
      for (size_t j0 = 0; j0 < inner; j0 += 256) {
        const size_t n = inner - j0 < 256 ? inner - j0 : 256;
        for (size_t j = 0; j < n; j++) {
          float m = y[j0 + j];
          mbuf[j] = isinf(m) && m < 0 ? 0 : m;
          sbuf[j] = 0.0f;
        }
        for (size_t i = 0; i < D; i++) {
          const float *xr = x + i * inner + j0;
          float *e = J->log ? ebuf : y + i * inner + j0;
          for (size_t j = 0; j < n; j++) e[j] = xr[j] - mbuf[j];
          oxrt_vexp_f32(e, e, n);
          for (size_t j = 0; j < n; j++) sbuf[j] += e[j];
        }
        for (size_t j = 0; j < n; j++) sbuf[j] = J->log ? logf(sbuf[j]) + mbuf[j] : 1.0f / sbuf[j];
        for (size_t i = 0; i < D; i++) {
          const float *xr = x + i * inner + j0;
          float *yr = y + i * inner + j0;
          if (J->log)
            for (size_t j = 0; j < n; j++) yr[j] = xr[j] - sbuf[j];
          else
            for (size_t j = 0; j < n; j++) {
              const float v = yr[j] * sbuf[j];
              yr[j] = v < FLT_MIN ? 0.0f : v;
            }
        }
      }
    }
  }
}

static oxrt_status *softmax_common(oxrt_kernel_ctx *ctx, bool log) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  const bool legacy = ctx->opset < 13;
  const int r = x->rank;
  int64_t axis;
  const int64_t a = oxrt_attr_int(ctx->node, "axis", legacy ? 1 : -1);
  if (r == 0) {
    if (a != 0 && a != -1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for a scalar", (long long)a);
    axis = 0;
  } else if (legacy) {
    axis = a < 0 ? a + r : a; /* coercion to 2-D also allows axis == rank */
    if (axis < 0 || axis > r)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)a, r);
  } else {
    OXRT_TRY(oxrt_norm_axis(a, r, false, &axis));
  }
  size_t outer = 1, D = 1, inner = 1;
  for (int i = 0; i < r; i++) {
    if (i < axis) outer *= (size_t)x->dims[i];
    else if (legacy || i == axis) D *= (size_t)x->dims[i];
    else inner *= (size_t)x->dims[i];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, x->dims, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 1, &x, y);
  if (!st) {
    const int isa = (int)oxrt_cpu_isa();
    const oxrt_vmath_table *vm = oxrt_vmath_table_for(isa);
    sm_job J = {.x = v.in[0], .y = v.y, .D = D, .inner = inner, .log = log, .row = oxrt_softmax_row_for(vm ? isa : 0),
                .vm = vm ? vm : oxrt_vmath_table_for(OXRT_ISA_PORTABLE)};
    const size_t per = D * inner;
    oxrt_parallel(ctx, outer, per >= 4096 ? 1 : 4096 / (per + 1) + 1, sm_rows, &J);
  }
  return f32_views_close(&v, y, st);
}

static oxrt_status *softmax_run(oxrt_kernel_ctx *ctx) { return softmax_common(ctx, false); }
static oxrt_status *logsoftmax_run(oxrt_kernel_ctx *ctx) { return softmax_common(ctx, true); }

static const oxrt_op_impl softmax_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = softmax_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = softmax_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = softmax_run}, /* single-axis semantics */
};
OXRT_REGISTER_OP(Softmax) = {"", "Softmax", OXRT_IMPLS(softmax_impls), .infer = oxrt_infer_same,
                             .flags = OXRT_OP_SAME_ELEM_TYPE};

static const oxrt_op_impl logsoftmax_impls[] = {
    {.since_version = 1, .type_mask = OXRT_TMASK_FLOATS, .run = logsoftmax_run},
    {.since_version = 11, .type_mask = OXRT_TMASK_FLOATS, .run = logsoftmax_run},
    {.since_version = 13, .type_mask = OXRT_TMASK_FLOATS, .run = logsoftmax_run},
};
OXRT_REGISTER_OP(LogSoftmax) = {"", "LogSoftmax", OXRT_IMPLS(logsoftmax_impls), .infer = oxrt_infer_same};
