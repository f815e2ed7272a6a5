/* NchwcLayout.c - the com.microsoft.nchwc operators other than Conv, each a thin call of a kernels/nchwc.h kernel:
 *   ReorderInput(X [N, C, H, W])            -> blocked [N, padded C, H, W] (pad channels 0)
 *   ReorderOutput(X blocked; channels = C)  -> [N, C, H, W]
 *   MaxPool / AveragePool (2-D, ONNX attributes; no Indices output), GlobalAveragePool / GlobalMaxPool: blocked in,
 *     blocked out ([N, C, 1, 1] for the global ones: the same memory in both layouts)
 *   ChannelMul / ChannelAdd(X blocked [N, C, H, W], S [N or 1, C, 1, 1]) -> X * S / X + S per channel
 *     (squeeze-excitation)
 */
#include "nchwc_util.h"
#include <string.h>

/* ---- reorders */
static oxrt_status *reorder_run(oxrt_kernel_ctx *ctx, bool in) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  const int B = nchwc_block();
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_FLOAT || x->rank != 4)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (X): expected a float [N, C, H, W]");
  if (!in) OXRT_TRY(nchwc_check_blocked(x, 0, "X", B));
  const int64_t channels = in ? x->dims[1] : oxrt_attr_int(ctx->node, "channels", -1);
  if (!in && (channels < 0 || channels > x->dims[1]))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute channels = %lld: expected 0 to %lld", (long long)channels,
                      (long long)x->dims[1]);
  int64_t yd[4] = {x->dims[0], in ? (int64_t)oxrt_nchwc_padded((size_t)channels, B) : channels, x->dims[2], x->dims[3]};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (!y->count) return NULL;
  const size_t HW = (size_t)(x->dims[2] * x->dims[3]);
  if (in) oxrt_nchwc_reorder_in(x->data, y->data, (size_t)x->dims[0], (size_t)channels, HW, B, ctx->pool);
  else oxrt_nchwc_reorder_out(x->data, y->data, (size_t)x->dims[0], (size_t)channels, HW, B, ctx->pool);
  return NULL;
}
static oxrt_status *reorder_in_run(oxrt_kernel_ctx *ctx) { return reorder_run(ctx, true); }
static oxrt_status *reorder_out_run(oxrt_kernel_ctx *ctx) { return reorder_run(ctx, false); }

static oxrt_status *reorder_infer(oxrt_infer_ctx *ctx, bool in) {
  oxrt_tshape x;
  if (!oxrt_infer_input(ctx, 0, &x) || x.rank != 4) return NULL;
  if (in) x.dims[1] = x.dims[1] < 0 ? -1 : (int64_t)oxrt_nchwc_padded((size_t)x.dims[1], nchwc_block());
  else x.dims[1] = oxrt_attr_int(ctx->node, "channels", -1);
  x.names[1] = NULL;
  return oxrt_infer_output(ctx, 0, &x);
}
static oxrt_status *reorder_in_infer(oxrt_infer_ctx *ctx) { return reorder_infer(ctx, true); }
static oxrt_status *reorder_out_infer(oxrt_infer_ctx *ctx) { return reorder_infer(ctx, false); }

/* ---- pooling */
static oxrt_status *pool_ints(const oxrt_node *n, const char *name, int count, int64_t dflt, int64_t lo, int64_t *out) {
  size_t c = 0;
  const int64_t *v = oxrt_attr_ints(n, name, &c);
  for (int i = 0; i < count; i++) {
    out[i] = v ? (c == (size_t)count ? v[i] : lo - 1) : dflt;
    if (out[i] < lo)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute %s: expected %d values >= %lld", name, count,
                        (long long)lo);
  }
  return NULL;
}

static oxrt_status *pool_run(oxrt_kernel_ctx *ctx, bool max) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  const oxrt_node *n = ctx->node;
  const int B = nchwc_block();
  OXRT_TRY(nchwc_check_blocked(x, 0, "X", B));
  int64_t k[2], s[2], d[2], p[4];
  OXRT_TRY(pool_ints(n, "kernel_shape", 2, 0, 1, k));
  OXRT_TRY(pool_ints(n, "strides", 2, 1, 1, s));
  OXRT_TRY(pool_ints(n, "dilations", 2, 1, 1, d));
  OXRT_TRY(pool_ints(n, "pads", 4, 0, 0, p));
  const char *auto_pad = oxrt_attr_string(n, "auto_pad", "NOTSET");
  const bool ceil_mode = oxrt_attr_int(n, "ceil_mode", 0) != 0;
  oxrt_nchwc_geom g = {.N = (size_t)x->dims[0], .C = (size_t)x->dims[1], .M = (size_t)x->dims[1], .H = x->dims[2],
                       .W = x->dims[3], .kh = k[0], .kw = k[1], .sh = s[0], .sw = s[1], .dh = d[0], .dw = d[1], .B = B};
  const int64_t in[2] = {g.H, g.W};
  int64_t out[2], pb[2], pe[2];
  for (int i = 0; i < 2; i++) {
    if (!strcmp(auto_pad, "SAME_UPPER") || !strcmp(auto_pad, "SAME_LOWER")) {
      out[i] = (in[i] + s[i] - 1) / s[i];
      int64_t total = (out[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1 - in[i];
      total = total < 0 ? 0 : total;
      pb[i] = !strcmp(auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
      pe[i] = total - pb[i];
    } else {
      pb[i] = strcmp(auto_pad, "VALID") ? p[i] : 0;
      pe[i] = strcmp(auto_pad, "VALID") ? p[i + 2] : 0;
      out[i] = oxrt_window_out(in[i], k[i], s[i], d[i], pb[i], pe[i], "NOTSET", ceil_mode);
    }
    if (out[i] < 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "the window is larger than the padded input");
  }
  g.OH = out[0], g.OW = out[1], g.pt = pb[0], g.pl = pb[1], g.pb = pe[0], g.pr = pe[1];
  const int64_t yd[4] = {x->dims[0], x->dims[1], g.OH, g.OW};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (!y->count) return NULL;
  oxrt_nchwc_pool_kind kind = max ? OXRT_NCHWC_MAX
                              : oxrt_attr_int(n, "count_include_pad", 0) ? OXRT_NCHWC_AVG_INCLUDE_PAD
                                                                          : OXRT_NCHWC_AVG_EXCLUDE_PAD;
  oxrt_nchwc_pool(&g, kind, x->data, y->data, nchwc_isa(), ctx->pool);
  return NULL;
}
static oxrt_status *max_pool_run(oxrt_kernel_ctx *ctx) { return pool_run(ctx, true); }
static oxrt_status *avg_pool_run(oxrt_kernel_ctx *ctx) { return pool_run(ctx, false); }

static oxrt_status *global_pool_run(oxrt_kernel_ctx *ctx, bool max) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  const int B = nchwc_block();
  OXRT_TRY(nchwc_check_blocked(x, 0, "X", B));
  const int64_t yd[4] = {x->dims[0], x->dims[1], 1, 1};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, yd, &y));
  if (!y->count) return NULL;
  oxrt_nchwc_global_pool((size_t)x->dims[0], (size_t)x->dims[1], (size_t)(x->dims[2] * x->dims[3]), B, max, x->data,
                         y->data, nchwc_isa(), ctx->pool);
  return NULL;
}
static oxrt_status *global_max_run(oxrt_kernel_ctx *ctx) { return global_pool_run(ctx, true); }
static oxrt_status *global_avg_run(oxrt_kernel_ctx *ctx) { return global_pool_run(ctx, false); }

/* ---- per-channel broadcast */
static oxrt_status *channel_run(oxrt_kernel_ctx *ctx, char op) {
  const oxrt_value *x = oxrt_input(ctx, 0), *s = oxrt_input(ctx, 1);
  const int B = nchwc_block();
  OXRT_TRY(nchwc_check_blocked(x, 0, "X", B));
  OXRT_TRY(oxrt_check_tensor(s, 1, "S"));
  if (s->dtype != OXRT_FLOAT || s->rank != 4 || (s->dims[0] != x->dims[0] && s->dims[0] != 1) ||
      s->dims[1] != x->dims[1] || s->dims[2] != 1 || s->dims[3] != 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (S): expected a float [N or 1, C, 1, 1] matching X");
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 4, x->dims, &y));
  if (!y->count) return NULL;
  const size_t N = (size_t)x->dims[0], C = (size_t)x->dims[1], HW = (size_t)(x->dims[2] * x->dims[3]);
  if (s->dims[0] == x->dims[0])
    oxrt_nchwc_channel_op(N, C, HW, B, op, x->data, s->data, y->data, nchwc_isa(), ctx->pool);
  else /* one scale for every image */
    for (size_t n = 0; n < N; n++)
      oxrt_nchwc_channel_op(1, C, HW, B, op, (const float *)x->data + n * C * HW, s->data,
                            (float *)y->data + n * C * HW, nchwc_isa(), ctx->pool);
  return NULL;
}
static oxrt_status *channel_mul_run(oxrt_kernel_ctx *ctx) { return channel_run(ctx, '*'); }
static oxrt_status *channel_add_run(oxrt_kernel_ctx *ctx) { return channel_run(ctx, '+'); }

#define NCHWC_IMPL(name, fn)                                                                                           \
  static const oxrt_op_impl name[] = {{.since_version = 1, .type_mask = OXRT_TBIT(OXRT_FLOAT), .run = fn}};
NCHWC_IMPL(reorder_in_impls, reorder_in_run)
NCHWC_IMPL(reorder_out_impls, reorder_out_run)
NCHWC_IMPL(max_pool_impls, max_pool_run)
NCHWC_IMPL(avg_pool_impls, avg_pool_run)
NCHWC_IMPL(global_max_impls, global_max_run)
NCHWC_IMPL(global_avg_impls, global_avg_run)
NCHWC_IMPL(channel_mul_impls, channel_mul_run)
NCHWC_IMPL(channel_add_impls, channel_add_run)

#define NCHWC_SCHEMA(name, impls, hook)                                                                                \
  {"com.microsoft.nchwc", name, OXRT_IMPLS(impls), .infer = hook, .flags = OXRT_OP_SAME_ELEM_TYPE}
OXRT_REGISTER_OP(nchwc_ReorderInput) = NCHWC_SCHEMA("ReorderInput", reorder_in_impls, reorder_in_infer);
OXRT_REGISTER_OP(nchwc_ReorderOutput) = NCHWC_SCHEMA("ReorderOutput", reorder_out_impls, reorder_out_infer);
OXRT_REGISTER_OP(nchwc_MaxPool) = NCHWC_SCHEMA("MaxPool", max_pool_impls, oxrt_infer_pool);
OXRT_REGISTER_OP(nchwc_AveragePool) = NCHWC_SCHEMA("AveragePool", avg_pool_impls, oxrt_infer_pool);
OXRT_REGISTER_OP(nchwc_GlobalMaxPool) = NCHWC_SCHEMA("GlobalMaxPool", global_max_impls, oxrt_infer_global_pool);
OXRT_REGISTER_OP(nchwc_GlobalAveragePool) = NCHWC_SCHEMA("GlobalAveragePool", global_avg_impls, oxrt_infer_global_pool);
OXRT_REGISTER_OP(nchwc_ChannelMul) = NCHWC_SCHEMA("ChannelMul", channel_mul_impls, oxrt_infer_same);
OXRT_REGISTER_OP(nchwc_ChannelAdd) = NCHWC_SCHEMA("ChannelAdd", channel_add_impls, oxrt_infer_same);
