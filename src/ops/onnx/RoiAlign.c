/* RoiAlign.c - RoiAlign: for each region, bilinear samples on a regular grid per output bin, averaged (avg)
 * or maxed (max: the largest weighted corner term per sample, as ONNX Runtime and the reference do).
 * coordinate_transformation_mode (opset 16, default half_pixel) shifts the box by -0.5; opset 10 behaves as
 * output_half_pixel, which also forces boxes to at least 1x1. Regions run in parallel. */
#include "f32_view.h"
#include <math.h>
#include <string.h>

typedef struct {
  const float *x, *rois;
  const int64_t *bidx;
  float *y;
  int64_t C, H, W, oh, ow;
  int64_t sampling;
  float scale;
  bool half_pixel, max_mode;
} roi_job;

static void roi_bins(void *arg, size_t b, size_t e) {
  const roi_job *J = arg;
  const int64_t H = J->H, W = J->W;
  for (size_t r = b; r < e; r++) {
    const float *roi = J->rois + r * 4;
    const double off = J->half_pixel ? 0.5 : 0.0;
    const double sw = roi[0] * J->scale - off, sh = roi[1] * J->scale - off;
    const double ew = roi[2] * J->scale - off, eh = roi[3] * J->scale - off;
    double rw = ew - sw, rh = eh - sh;
    if (!J->half_pixel) {
      rw = rw > 1.0 ? rw : 1.0;
      rh = rh > 1.0 ? rh : 1.0;
    }
    const double bh = rh / (double)J->oh, bw = rw / (double)J->ow;
    /* grid counts from a NaN or huge roi would be undefined casts (x86 and ARM differ): none, so zeros */
    const double gh_d = ceil(rh / (double)J->oh), gw_d = ceil(rw / (double)J->ow);
    const int64_t gh = J->sampling > 0 ? J->sampling : gh_d >= 0 && gh_d < 0x1p62 ? (int64_t)gh_d : 0;
    const int64_t gw = J->sampling > 0 ? J->sampling : gw_d >= 0 && gw_d < 0x1p62 ? (int64_t)gw_d : 0;
    const double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;
    const float *img = J->x + (size_t)J->bidx[r] * (size_t)(J->C * H * W);
    float *out = J->y + r * (size_t)(J->C * J->oh * J->ow);
    for (int64_t ph = 0; ph < J->oh; ph++)
      for (int64_t pw = 0; pw < J->ow; pw++) {
        for (int64_t c = 0; c < J->C; c++) {
          const float *im = img + c * H * W;
          double acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; iy++) {
            double y = sh + ph * bh + (iy + 0.5) * bh / (double)gh;
            for (int64_t ix = 0; ix < gw; ix++) {
              double x = sw + pw * bw + (ix + 0.5) * bw / (double)gw;
              double w1 = 0, w2 = 0, w3 = 0, w4 = 0;
              int64_t yl = 0, yh = 0, xl = 0, xh = 0;
              if (y >= -1.0 && y <= (double)H && x >= -1.0 && x <= (double)W) { /* NaN counts as outside */
                double yy = y < 0 ? 0 : y, xx = x < 0 ? 0 : x;
                yl = (int64_t)yy, xl = (int64_t)xx;
                if (yl >= H - 1) yh = yl = H - 1, yy = (double)yl;
                else yh = yl + 1;
                if (xl >= W - 1) xh = xl = W - 1, xx = (double)xl;
                else xh = xl + 1;
                const double ly = yy - yl, lx = xx - xl, hy = 1 - ly, hx = 1 - lx;
                w1 = hy * hx, w2 = hy * lx, w3 = ly * hx, w4 = ly * lx;
              }
              const double v1 = w1 * im[yl * W + xl], v2 = w2 * im[yl * W + xh];
              const double v3 = w3 * im[yh * W + xl], v4 = w4 * im[yh * W + xh];
              if (J->max_mode) {
                double v = v1 > v2 ? v1 : v2;
                v = v > v3 ? v : v3;
                v = v > v4 ? v : v4;
                acc = first || v > acc ? v : acc;
                first = false;
              } else {
                acc += v1 + v2 + v3 + v4;
              }
            }
          }
          out[(c * J->oh + ph) * J->ow + pw] = (float)(J->max_mode ? acc : acc / count);
        }
      }
  }
}

static oxrt_status *roialign_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *rois = oxrt_input(ctx, 1), *bi = oxrt_input(ctx, 2);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(rois, 1, "rois"));
  OXRT_TRY(oxrt_check_tensor(bi, 2, "batch_indices"));
  if (x->rank != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank 4, got %d", x->rank);
  if (rois->rank != 2 || rois->dims[1] != 4)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: expected [num_rois, 4]");
  if (bi->rank != 1 || bi->dims[0] != rois->dims[0] || (bi->dtype != OXRT_INT64 && bi->dtype != OXRT_INT32))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: expected int64 [num_rois]");
  const char *mode = oxrt_attr_string(ctx->node, "mode", "avg");
  const char *ctm = oxrt_attr_string(ctx->node, "coordinate_transformation_mode", "half_pixel");
  roi_job J = {.C = x->dims[1], .H = x->dims[2], .W = x->dims[3],
               .oh = oxrt_attr_int(ctx->node, "output_height", 1), .ow = oxrt_attr_int(ctx->node, "output_width", 1),
               .sampling = oxrt_attr_int(ctx->node, "sampling_ratio", 0),
               .scale = oxrt_attr_float(ctx->node, "spatial_scale", 1.0f)};
  if (strcmp(mode, "avg") != 0 && strcmp(mode, "max") != 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not avg or max", mode);
  J.max_mode = mode[1] == 'a';
  if (ctx->opset >= 16) {
    if (strcmp(ctm, "half_pixel") != 0 && strcmp(ctm, "output_half_pixel") != 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "coordinate_transformation_mode '%s' is not supported", ctm);
    J.half_pixel = strcmp(ctm, "half_pixel") == 0;
  }
  if (J.oh <= 0 || J.ow <= 0 || J.sampling < 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output sizes must be positive and sampling_ratio >= 0");
  const size_t R = (size_t)rois->dims[0];
  int64_t *bidx = malloc(sizeof(int64_t) * (R ? R : 1));
  if (!bidx) return OXRT_OOM();
  for (size_t i = 0; i < R; i++) {
    bidx[i] = oxrt_load_i64(bi->dtype, bi->data, i);
    if (bidx[i] < 0 || bidx[i] >= x->dims[0]) {
      const long long bad = (long long)bidx[i];
      free(bidx);
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 2: batch index %lld is outside [0, %lld)", bad,
                        (long long)x->dims[0]);
    }
  }
  int64_t od[4] = {(int64_t)R, J.C, J.oh, J.ow};
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, x->dtype, 4, od, &y);
  if (!st && y->count) {
    f32_views v;
    st = f32_views_open(&v, 2, (const oxrt_value *[]){x, rois}, y);
    if (!st) {
      J.x = v.in[0], J.rois = v.in[1], J.bidx = bidx, J.y = v.y;
      if (J.H > 0 && J.W > 0) oxrt_parallel(ctx, R, 1, roi_bins, &J);
      else memset(v.y, 0, sizeof(float) * y->count);
    }
    st = f32_views_close(&v, y, st);
  }
  free(bidx);
  return st;
}

static const oxrt_op_impl roialign_impls[] = {
    {.since_version = 10, .type_mask = OXRT_TMASK_FLOATS, .run = roialign_run},
    {.since_version = 16, .type_mask = OXRT_TMASK_FLOATS, .run = roialign_run}, /* coordinate_transformation_mode */
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = roialign_run},
};
OXRT_REGISTER_OP(RoiAlign) = {"", "RoiAlign", OXRT_IMPLS(roialign_impls)};
