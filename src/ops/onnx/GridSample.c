/* GridSample.c - GridSample over N spatial axes (opset 16: 2-D with bilinear/nearest/bicubic; opset 20:
 * N-D with linear/nearest/cubic; both spellings accepted). Each output point denormalises its grid
 * coordinates (the grid's last axis lists x first, i.e. the spatial axes reversed), applies padding_mode to
 * coordinates outside the border, then interpolates separably: per axis the tap indices (already mapped by
 * the padding mode, -1 meaning a zero) and weights are computed once, and the taps' product is summed.
 * Cubic uses Keys' kernel with a = -0.75; nearest rounds half to even. Output points run in parallel. */
#include "f32_view.h"
#include <math.h>
#include <string.h>

enum { GS_LINEAR, GS_NEAREST, GS_CUBIC };
enum { GP_ZEROS, GP_BORDER, GP_REFLECT };

typedef struct {
  const float *x, *grid;
  float *y;
  int nsp;
  int64_t N, C, in[OXRT_MAX_RANK];
  size_t in_plane, out_pts; /* spatial sizes per (n, c) */
  int mode, pad;
  bool align;
} gs_job;

static double gs_reflect(double x, double lo, double hi) {
  const double rng = hi - lo;
  if (rng <= 0) return lo;
  /* fmod over one period (2 * rng) instead of an integer count: no out-of-range cast for huge x */
  if (x < lo) {
    const double m = fmod(lo - x, 2 * rng);
    return m <= rng ? lo + m : hi - (m - rng);
  }
  if (x > hi) {
    const double m = fmod(x - hi, 2 * rng);
    return m <= rng ? hi - m : lo + (m - rng);
  }
  return x;
}

/* Coordinate -> integer index. A plain cast of NaN or of a huge value is undefined (x86 and ARM give
 * different results); far outside every axis behaves the same for all padding modes, NaN counts as below. */
static int64_t gs_index(double v) {
  const double lim = 0x1p40;
  return v >= -lim && v <= lim ? (int64_t)v : v > 0 ? (int64_t)lim : -(int64_t)lim;
}

static void gs_cubic(double t, double *c) {
  const double a = -0.75;
  t = fabs(t);
  c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
  c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
  c[2] = ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1;
  c[3] = ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a;
}

/* Index of tap i on an axis of size d after the padding mode; -1 for a zero. */
static int64_t gs_tap(const gs_job *J, int64_t i, int64_t d) {
  if (i >= 0 && i < d) return i;
  if (J->pad == GP_ZEROS) return -1;
  if (J->pad == GP_BORDER) return i < 0 ? 0 : d - 1;
  const double lo = J->align ? 0.0 : -0.5, hi = J->align ? (double)d - 1 : (double)d - 0.5;
  int64_t k = (int64_t)gs_reflect((double)i, lo, hi);
  return k < 0 ? 0 : k >= d ? d - 1 : k;
}

static void gs_points(void *arg, size_t b, size_t e) {
  const gs_job *J = arg;
  const int r = J->nsp;
  const int ntap = J->mode == GS_LINEAR ? 2 : J->mode == GS_CUBIC ? 4 : 1;
  int64_t tap[OXRT_MAX_RANK][4];
  double wt[OXRT_MAX_RANK][4];
  for (size_t p = b; p < e; p++) { /* p indexes (n, output point) */
    const size_t n = p / J->out_pts, q = p % J->out_pts;
    const float *g = J->grid + p * (size_t)r;
    for (int i = 0; i < r; i++) {
      const int64_t d = J->in[i];
      const double nv = g[r - 1 - i];
      double v = J->align ? (nv + 1) / 2.0 * (double)(d - 1) : ((nv + 1) * (double)d - 1) / 2.0;
      if (J->mode == GS_NEAREST) v = nearbyint(v);
      const double lo = J->align ? 0.0 : -0.5, hi = J->align ? (double)d - 1 : (double)d - 0.5;
      if (v < lo || v > hi) {
        if (J->pad == GP_BORDER) v = v < 0 ? 0 : v > (double)(d - 1) ? (double)(d - 1) : v;
        else if (J->pad == GP_REFLECT) v = gs_reflect(v, lo, hi);
      }
      if (J->mode == GS_NEAREST) {
        tap[i][0] = gs_tap(J, gs_index(v), d);
        wt[i][0] = 1.0;
      } else {
        const double f = floor(v);
        const int64_t i0 = gs_index(f);
        if (J->mode == GS_LINEAR) {
          wt[i][0] = 1 - (v - f), wt[i][1] = v - f;
          tap[i][0] = gs_tap(J, i0, d), tap[i][1] = gs_tap(J, i0 + 1, d);
        } else {
          gs_cubic(v - f, wt[i]);
          for (int k = 0; k < 4; k++) tap[i][k] = gs_tap(J, i0 - 1 + k, d);
        }
      }
    }
    /* sum over tap combinations; offsets per combination are shared by all channels */
    size_t combos = 1;
    for (int i = 0; i < r; i++) combos *= (size_t)ntap;
    for (int64_t c = 0; c < J->C; c++) {
      const float *img = J->x + (n * (size_t)J->C + (size_t)c) * J->in_plane;
      double acc = 0;
      for (size_t k = 0; k < combos; k++) {
        size_t rem = k, off = 0;
        double w = 1;
        bool zero = false;
        for (int i = r - 1; i >= 0; i--) {
          const int t = (int)(rem % (size_t)ntap);
          rem /= (size_t)ntap;
          if (tap[i][t] < 0) {
            zero = true;
            break;
          }
          w *= wt[i][t];
          size_t stride = 1;
          for (int j = i + 1; j < r; j++) stride *= (size_t)J->in[j];
          off += (size_t)tap[i][t] * stride;
        }
        if (!zero) acc += w * img[off];
      }
      J->y[(n * (size_t)J->C + (size_t)c) * J->out_pts + q] = (float)acc;
    }
  }
}

static oxrt_status *gridsample_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *grid = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  OXRT_TRY(oxrt_check_tensor(grid, 1, "grid"));
  const int nsp = x->rank - 2;
  if (nsp < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank >= 3, got %d", x->rank);
  if (ctx->opset < 20 && x->rank != 4)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank 4 before opset 20, got %d", x->rank);
  if (grid->rank != x->rank || grid->dims[0] != x->dims[0] || grid->dims[grid->rank - 1] != nsp)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: expected grid [N, out..., %d] with N = %lld", nsp,
                      (long long)x->dims[0]);
  const char *mode = oxrt_attr_string(ctx->node, "mode", ctx->opset >= 20 ? "linear" : "bilinear");
  const char *pad = oxrt_attr_string(ctx->node, "padding_mode", "zeros");
  gs_job J = {.nsp = nsp, .N = x->dims[0], .C = x->dims[1], .align = oxrt_attr_int(ctx->node, "align_corners", 0) != 0};
  if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear")) J.mode = GS_LINEAR;
  else if (!strcmp(mode, "nearest")) J.mode = GS_NEAREST;
  else if (!strcmp(mode, "cubic") || !strcmp(mode, "bicubic")) J.mode = GS_CUBIC;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode '%s' is not linear, nearest or cubic", mode);
  if (!strcmp(pad, "zeros")) J.pad = GP_ZEROS;
  else if (!strcmp(pad, "border")) J.pad = GP_BORDER;
  else if (!strcmp(pad, "reflection")) J.pad = GP_REFLECT;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "padding_mode '%s' is not zeros, border or reflection", pad);
  if (J.mode == GS_CUBIC && nsp > 3)
    return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "cubic sampling over %d axes (at most 3 supported)", nsp);
  int64_t od[OXRT_MAX_RANK];
  od[0] = x->dims[0], od[1] = x->dims[1];
  J.in_plane = 1, J.out_pts = 1;
  for (int i = 0; i < nsp; i++) {
    J.in[i] = x->dims[2 + i];
    J.in_plane *= (size_t)x->dims[2 + i];
    od[2 + i] = grid->dims[1 + i];
    J.out_pts *= (size_t)grid->dims[1 + i];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, od, &y));
  if (y->count == 0) return NULL;
  f32_views v;
  oxrt_status *st = f32_views_open(&v, 2, (const oxrt_value *[]){x, grid}, y);
  if (!st) {
    if (J.in_plane == 0) {
      memset(v.y, 0, sizeof(float) * y->count);
    } else {
      J.x = v.in[0], J.grid = v.in[1], J.y = v.y;
      oxrt_parallel(ctx, (size_t)J.N * J.out_pts, 64, gs_points, &J);
    }
  }
  return f32_views_close(&v, y, st);
}

static const oxrt_op_impl gridsample_impls[] = {
    {.since_version = 16, .type_mask = OXRT_TMASK_FLOATS, .run = gridsample_run},
    {.since_version = 20, .type_mask = OXRT_TMASK_FLOATS, .run = gridsample_run}, /* N-D, renamed modes */
    {.since_version = 22, .type_mask = OXRT_TMASK_FLOATS, .run = gridsample_run},
};
OXRT_REGISTER_OP(GridSample) = {"", "GridSample", OXRT_IMPLS(gridsample_impls)};
