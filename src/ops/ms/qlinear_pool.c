/* qlinear_pool.c - com.microsoft QLinearGlobalAveragePool and QLinearAveragePool (X, x_scale, x_zp, y_scale,
 * y_zp; attribute channels_last, default 0 = NCHW). The average of (x - x_zp) over each window, times
 * x_scale / y_scale, rounded half to even, plus y_zp. AveragePool takes Pool's attributes (kernel_shape,
 * strides, pads, auto_pad, ceil_mode, count_include_pad) for any number of spatial dims. */
#include "../onnx/conv_util.h"
#include "../onnx/qlinear_util.h"

typedef struct {
  bool sg, cl;       /* signed, channels last */
  float xz, yz, r;   /* zero points, x_scale / y_scale */
  size_t N, C, in_size;
} qpool_io;

static oxrt_status *qpool_io_make(oxrt_kernel_ctx *ctx, const oxrt_value *x, qpool_io *io) {
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (!ql_is8(x->dtype) || x->rank < 3)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X) must be uint8 or int8 of rank >= 3");
  float xs = 1, ys = 1;
  OXRT_TRY(ql_scalar_param(ctx, 1, 2, x->dtype, &xs, &io->xz));
  OXRT_TRY(ql_scalar_param(ctx, 3, 4, x->dtype, &ys, &io->yz));
  io->sg = x->dtype == OXRT_INT8, io->r = xs / ys;
  io->cl = oxrt_attr_int(ctx->node, "channels_last", 0) != 0;
  io->N = (size_t)x->dims[0], io->C = (size_t)x->dims[io->cl ? x->rank - 1 : 1], io->in_size = io->N * io->C != 0 ? x->count / (io->N * io->C) : 1;
  return NULL;
}

typedef struct {
  const qpool_io *io;
  const void *x;
  void *y;
  float r; /* x_scale / y_scale / positions */
} qgap_job;

/* Outputs [i0, i1) of N x C: exact integer sums (int64 over a channel's positions), one float multiply, rounded. */
static void qgap_range(void *arg, size_t i0, size_t i1) {
  const qgap_job *j = arg;
  const qpool_io *io = j->io;
  size_t S = io->in_size, cs = io->cl ? io->C : 1, ss = io->cl ? 1 : S; /* strides of channel and position */
  for (size_t i = i0; i < i1; i++) {
    size_t n = i / io->C, c = i % io->C;
    const uint8_t *xb = (const uint8_t *)j->x + n * io->C * S + c * ss;
    int64_t sum = 0;
    if (cs == 1 && S <= ((size_t)1 << 23)) { /* contiguous and under 2^31 / 256: int32 sums, which vectorize */
      int32_t t = 0;
      if (io->sg)
        for (size_t s = 0; s < S; s++) t += (int8_t)xb[s];
      else
        for (size_t s = 0; s < S; s++) t += xb[s];
      sum = t;
    } else if (io->sg) {
      for (size_t s = 0; s < S; s++) sum += (int8_t)xb[s * cs];
    } else {
      for (size_t s = 0; s < S; s++) sum += xb[s * cs];
    }
    float v = (float)(sum - (int64_t)io->xz * (int64_t)S) * j->r;
    ((uint8_t *)j->y)[i] = ql_sat8(v, io->yz, io->sg);
  }
}

static oxrt_status *qgap_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  qpool_io io;
  OXRT_TRY(qpool_io_make(ctx, x, &io));
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0; d < x->rank; d++) dims[d] = 1;
  dims[0] = (int64_t)io.N, dims[io.cl ? x->rank - 1 : 1] = (int64_t)io.C;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
  qgap_job j = {&io, x->data, y->data, io.r / (float)(io.in_size ? io.in_size : 1)};
  /* over images x channels, each chunk at least 16K inputs: a classifier's 1280 x 7 x 7 splits in four */
  oxrt_parallel(ctx, io.N * io.C, 1 + 16384 / (io.in_size + 1), qgap_range, &j);
  return NULL;
}

static oxrt_status *qavgpool_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  qpool_io io;
  OXRT_TRY(qpool_io_make(ctx, x, &io));
  int nd = x->rank - 2;
  if (nd > OXRT_CONV_MAX_DIMS) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "%d spatial dims", nd);
  oxrt_conv_shape s = {.nd = nd, .N = io.N, .C = io.C};
  size_t kc = 0;
  const int64_t *ks = oxrt_attr_ints(ctx->node, "kernel_shape", &kc);
  if (!ks || kc != (size_t)nd)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute kernel_shape must have %d values", nd);
  int64_t pads[2 * OXRT_CONV_MAX_DIMS];
  OXRT_TRY(conv_ints_attr(ctx->node, "strides", nd, 1, 1, s.stride));
  OXRT_TRY(conv_ints_attr(ctx->node, "pads", 2 * nd, 0, 0, pads));
  bool ceil_mode = oxrt_attr_int(ctx->node, "ceil_mode", 0) != 0, incl = oxrt_attr_int(ctx->node, "count_include_pad", 0) != 0;
  const char *ap = oxrt_attr_string(ctx->node, "auto_pad", "NOTSET");
  bool same = !strncmp(ap, "SAME", 4), valid = !strcmp(ap, "VALID");
  int64_t yd[OXRT_MAX_RANK] = {x->dims[0]};
  for (int d = 0; d < nd; d++) {
    s.in[d] = x->dims[io.cl ? d + 1 : d + 2], s.k[d] = ks[d];
    if (ks[d] < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "kernel_shape[%d] must be >= 1", d);
    int64_t pb = pads[d], pe = pads[d + nd];
    if (valid) pb = pe = 0;
    if (same) {
      int64_t o = (s.in[d] + s.stride[d] - 1) / s.stride[d], tot = (o - 1) * s.stride[d] + ks[d] - s.in[d];
      tot = tot < 0 ? 0 : tot;
      pb = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2, pe = tot - pb;
    }
    int64_t span = s.in[d] + pb + pe - ks[d];
    if (span < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "spatial dim %d smaller than the kernel", d);
    s.out[d] = (ceil_mode ? (span + s.stride[d] - 1) / s.stride[d] : span / s.stride[d]) + 1;
    if (ceil_mode && (s.out[d] - 1) * s.stride[d] >= s.in[d] + pb) s.out[d]--; /* last window starts in the padding */
    s.pad[d] = pb, s.dil[d] = pe; /* dil holds the end padding here */
  }
  for (int d = 0; d < nd; d++) yd[io.cl ? d + 1 : d + 2] = s.out[d];
  yd[io.cl ? x->rank - 1 : 1] = (int64_t)io.C;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, yd, &y));
  size_t out_size = io.N * io.C != 0 ? y->count / (io.N * io.C) : 1, cs = io.cl ? io.C : 1;
  for (size_t n = 0; n < io.N; n++)
    for (size_t c = 0; c < io.C; c++) {
      const uint8_t *xb = (const uint8_t *)x->data + n * io.C * io.in_size + (io.cl ? c : c * io.in_size);
      uint8_t *yb = (uint8_t *)y->data + n * io.C * out_size + (io.cl ? c : c * out_size);
      for (size_t o = 0; o < out_size; o++) {
        int64_t od[OXRT_CONV_MAX_DIMS], lo[OXRT_CONV_MAX_DIMS], hi[OXRT_CONV_MAX_DIMS], idx[OXRT_CONV_MAX_DIMS];
        size_t rem = o, padded = 1, cnt = 1;
        for (int d = nd - 1; d >= 0; d--) od[d] = (int64_t)(rem % (size_t)s.out[d]), rem /= (size_t)s.out[d];
        for (int d = 0; d < nd; d++) {
          int64_t b = od[d] * s.stride[d] - s.pad[d], e = b + s.k[d];
          int64_t pe = e < s.in[d] + s.dil[d] ? e : s.in[d] + s.dil[d]; /* the window inside the padded input */
          padded *= (size_t)(pe - b);
          lo[d] = b < 0 ? 0 : b, hi[d] = e < s.in[d] ? e : s.in[d];
          cnt *= (size_t)(hi[d] > lo[d] ? hi[d] - lo[d] : 0);
          idx[d] = lo[d];
        }
        int64_t sum = 0;
        for (size_t k = 0; k < cnt; k++) {
          size_t off = 0;
          for (int d = 0; d < nd; d++) off = off * (size_t)s.in[d] + (size_t)idx[d];
          sum += (io.sg ? (int8_t)xb[off * cs] : xb[off * cs]) - (int64_t)io.xz;
          for (int d = nd - 1; d >= 0 && ++idx[d] == hi[d]; d--) idx[d] = lo[d];
        }
        size_t div = incl ? padded : cnt;
        float v = div ? (float)sum * io.r / (float)div : 0.0f;
        yb[o * cs] = ql_sat8(v, io.yz, io.sg);
      }
    }
  return NULL;
}

static const oxrt_op_impl qgap_impls[] = {{.since_version = 1, .run = qgap_run}};
OXRT_REGISTER_OP(ms_QLinearGlobalAveragePool) = {"com.microsoft", "QLinearGlobalAveragePool", OXRT_IMPLS(qgap_impls)};
static const oxrt_op_impl qavgpool_impls[] = {{.since_version = 1, .run = qavgpool_run}};
OXRT_REGISTER_OP(ms_QLinearAveragePool) = {"com.microsoft", "QLinearAveragePool", OXRT_IMPLS(qavgpool_impls)};
