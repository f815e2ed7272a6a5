/* DeformConv.c - deformable 2-D convolution (opset 19): every kernel tap samples X bilinearly at its regular
 * position plus a learned offset (zero outside the image), optionally scaled by a mask, per offset group.
 * Lowered to a sampled im2col + oxrt_sgemm per image and group; computed in float32. */
#include "../../kernels/gemm.h"
#include "conv_util.h"
#include "linalg_util.h"
#include <math.h>

typedef struct {
  const oxrt_conv_shape *s;
  const float *x, *off, *mask; /* x, offset, mask of one image */
  float *col;                  /* [C*kh*kw, oh*ow] */
  size_t og_channels;          /* input channels per offset group */
} dcol_job;

static float bilinear(const float *img, int64_t H, int64_t W, float h, float w) {
  if (!(h > -1 && w > -1 && h < (float)H && w < (float)W)) return 0; /* also rejects NaN */
  int64_t h0 = (int64_t)floorf(h), w0 = (int64_t)floorf(w);
  float lh = h - (float)h0, lw = w - (float)w0, v = 0;
  for (int dy = 0; dy < 2; dy++)
    for (int dx = 0; dx < 2; dx++) {
      int64_t y = h0 + dy, x = w0 + dx;
      if (y < 0 || y >= H || x < 0 || x >= W) continue;
      v += (dy ? lh : 1 - lh) * (dx ? lw : 1 - lw) * img[y * W + x];
    }
  return v;
}

static void dcol_rows(void *arg, size_t r0, size_t r1) {
  const dcol_job *j = arg;
  const oxrt_conv_shape *s = j->s;
  int64_t H = s->in[0], W = s->in[1], OH = s->out[0], OW = s->out[1], KH = s->k[0], KW = s->k[1];
  size_t kk_n = (size_t)(KH * KW), out_n = (size_t)(OH * OW);
  for (size_t r = r0; r < r1; r++) {
    size_t c = r / kk_n, kk = r % kk_n, g = c / j->og_channels;
    int64_t ki = (int64_t)kk / KW, kj = (int64_t)kk % KW;
    const float *img = j->x + c * (size_t)(H * W);
    const float *oh_ = j->off + ((g * kk_n + kk) * 2) * out_n, *ow_ = oh_ + out_n;
    const float *mk = j->mask ? j->mask + (g * kk_n + kk) * out_n : NULL;
    float *dst = j->col + r * out_n;
    for (int64_t i = 0; i < OH; i++)
      for (int64_t jj = 0; jj < OW; jj++) {
        size_t o = (size_t)(i * OW + jj);
        float h = (float)(i * s->stride[0] - s->pad[0] + ki * s->dil[0]) + oh_[o];
        float w = (float)(jj * s->stride[1] - s->pad[1] + kj * s->dil[1]) + ow_[o];
        float v = bilinear(img, H, W, h, w);
        dst[o] = mk ? v * mk[o] : v;
      }
  }
}

static oxrt_status *dconv_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *w = oxrt_input(ctx, 1), *off = oxrt_input(ctx, 2), *b = oxrt_input(ctx, 3),
                   *mask = oxrt_input(ctx, 4);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(w, 1, "W"));
  OXRT_TRY(oxrt_check_tensor(off, 2, "offset"));
  if (x->rank != 4) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "only 2-D DeformConv is supported (X rank %d)", x->rank);
  oxrt_conv_shape s;
  OXRT_TRY(conv_geometry(ctx->node, x, w, &s));
  int64_t og = oxrt_attr_int(ctx->node, "offset_group", 1);
  if (og < 1 || s.C % (size_t)og)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "offset_group %lld must divide the %zu input channels", (long long)og, s.C);
  size_t kk_n = (size_t)(s.k[0] * s.k[1]), out_n = (size_t)(s.out[0] * s.out[1]);
  if (off->rank != 4 || off->dims[0] != (int64_t)s.N || off->dims[1] != (int64_t)(og * (int64_t)kk_n * 2) ||
      off->dims[2] != s.out[0] || off->dims[3] != s.out[1])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2 (offset): expected shape [%zu,%lld,%lld,%lld]", s.N,
                      (long long)(og * (int64_t)kk_n * 2), (long long)s.out[0], (long long)s.out[1]);
  if (mask && (mask->rank != 4 || mask->count != s.N * (size_t)og * kk_n * out_n))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 4 (mask): expected shape [%zu,%lld,%lld,%lld]", s.N,
                      (long long)(og * (int64_t)kk_n), (long long)s.out[0], (long long)s.out[1]);
  if (b && b->count != s.M) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 3 (B): expected %zu values", s.M);
  int64_t yd[OXRT_MAX_RANK];
  int yr = conv_out_dims(&s, yd);
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, yr, yd, &y));
  if (y->count == 0) return NULL;
  const float *xf = NULL, *wf = NULL, *of = NULL, *bf = NULL, *mf = NULL;
  float *xt = NULL, *wt = NULL, *ot = NULL, *bt = NULL, *mt = NULL, *yf = NULL, *yt = NULL, *col = NULL;
  oxrt_status *st = NULL;
  size_t Cg = s.C / s.group, Mg = s.M / s.group, Kg = Cg * kk_n;
  if (!(st = oxrt_f32_view(x, &xf, &xt)) && !(st = oxrt_f32_view(w, &wf, &wt)) && !(st = oxrt_f32_view(off, &of, &ot)) &&
      !(b && (st = oxrt_f32_view(b, &bf, &bt))) && !(mask && (st = oxrt_f32_view(mask, &mf, &mt))) &&
      !(st = la_f32_out(y, &yf, &yt)) && !(col = oxrt_aligned_alloc(sizeof(float) * s.C * kk_n * out_n + 64)))
    st = OXRT_OOM();
  for (size_t n = 0; !st && n < s.N; n++) {
    dcol_job j = {&s, xf + n * s.C * (size_t)(s.in[0] * s.in[1]), of + n * (size_t)og * kk_n * 2 * out_n,
                  mf ? mf + n * (size_t)og * kk_n * out_n : NULL, col, s.C / (size_t)og};
    oxrt_parallel(ctx, s.C * kk_n, 1, dcol_rows, &j);
    for (size_t g = 0; g < s.group; g++) {
      float *yg = yf + (n * s.M + g * Mg) * out_n;
      for (size_t m = 0; m < Mg; m++)
        for (size_t o = 0; o < out_n; o++) yg[m * out_n + o] = bf ? bf[g * Mg + m] : 0.0f;
      oxrt_sgemm(false, false, Mg, out_n, Kg, 1.0f, wf + g * Mg * Kg, Kg, col + g * Kg * out_n, out_n, 1.0f, yg, out_n,
                 ctx->pool);
    }
  }
  oxrt_aligned_free(col);
  free(xt);
  free(wt);
  free(ot);
  free(bt);
  free(mt);
  if (yt) {
    if (!st) la_f32_commit(y, yt);
    else free(yt);
  }
  return st;
}

#define DC_T (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_FLOAT16))
static const oxrt_op_impl dconv_impls[] = {
    {.since_version = 19, .type_mask = DC_T, .run = dconv_run},
    {.since_version = 22, .type_mask = DC_T | OXRT_TBIT(OXRT_BFLOAT16), .run = dconv_run},
};
OXRT_REGISTER_OP(DeformConv) = {"", "DeformConv", OXRT_IMPLS(dconv_impls)};
