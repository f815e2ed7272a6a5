/* NonMaxSuppression.c - greedy per (batch, class): candidates scoring above score_threshold, by descending
 * score (ties by index), are kept unless their IoU with a kept box exceeds iou_threshold, up to
 * max_output_boxes_per_class. Boxes are corners in any order (center_point_box = 0) or
 * [x_center, y_center, width, height] (1). Output: [selected, 3] int64 rows (batch, class, box). */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  float score;
  int64_t index;
} nms_cand;

static int nms_cmp(const void *a, const void *b) {
  const nms_cand *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Box as (y1, x1, y2, x2) with y1 <= y2, x1 <= x2. */
static void nms_box(const oxrt_value *bx, size_t off, bool center, float *o) {
  float v[4];
  for (int k = 0; k < 4; k++) v[k] = (float)oxrt_load_f64(bx->dtype, bx->data, off + (size_t)k);
  if (center) {
    o[0] = v[1] - v[3] / 2, o[2] = v[1] + v[3] / 2; /* y */
    o[1] = v[0] - v[2] / 2, o[3] = v[0] + v[2] / 2; /* x */
  } else {
    o[0] = v[0] < v[2] ? v[0] : v[2], o[2] = v[0] < v[2] ? v[2] : v[0];
    o[1] = v[1] < v[3] ? v[1] : v[3], o[3] = v[1] < v[3] ? v[3] : v[1];
  }
}

static float nms_iou(const float *a, const float *b) {
  const float aa = (a[2] - a[0]) * (a[3] - a[1]), ab = (b[2] - b[0]) * (b[3] - b[1]);
  if (aa <= 0 || ab <= 0) return 0;
  const float y1 = a[0] > b[0] ? a[0] : b[0], x1 = a[1] > b[1] ? a[1] : b[1];
  const float y2 = a[2] < b[2] ? a[2] : b[2], x2 = a[3] < b[3] ? a[3] : b[3];
  if (y2 <= y1 || x2 <= x1) return 0;
  const float inter = (y2 - y1) * (x2 - x1);
  return inter / (aa + ab - inter);
}

static oxrt_status *nms_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *bx = oxrt_input(ctx, 0), *sc = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(bx, 0, "boxes"));
  OXRT_TRY(oxrt_check_tensor(sc, 1, "scores"));
  if (bx->rank != 3 || bx->dims[2] != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected [batch, boxes, 4]");
  if (sc->rank != 3 || sc->dims[0] != bx->dims[0] || sc->dims[2] != bx->dims[1])
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1: expected [batch, classes, boxes] matching boxes");
  int64_t max_out = 0;
  double iou_th = 0, score_th = 0;
  bool has_score_th = false;
  const oxrt_value *v;
  if ((v = oxrt_input(ctx, 2)) && v->count) OXRT_TRY(oxrt_read_scalar_i64(v, 2, &max_out));
  if ((v = oxrt_input(ctx, 3)) && v->count) OXRT_TRY(oxrt_read_scalar_f64(v, 3, &iou_th));
  if ((v = oxrt_input(ctx, 4)) && v->count) {
    OXRT_TRY(oxrt_read_scalar_f64(v, 4, &score_th));
    has_score_th = true;
  }
  const int64_t cpb = oxrt_attr_int(ctx->node, "center_point_box", 0);
  if (cpb != 0 && cpb != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "center_point_box must be 0 or 1");
  if (iou_th < 0 || iou_th > 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "iou_threshold must be in [0, 1], got %g", iou_th);
  const size_t B = (size_t)bx->dims[0], C = (size_t)sc->dims[1], NB = (size_t)bx->dims[1];
  if (max_out < 0) max_out = 0;
  const size_t cap = B * C * ((size_t)max_out < NB ? (size_t)max_out : NB);
  int64_t *sel = malloc(sizeof(int64_t) * 3 * (cap ? cap : 1));
  float *boxes = malloc(sizeof(float) * 4 * (NB ? NB : 1));
  nms_cand *cand = malloc(sizeof(nms_cand) * (NB ? NB : 1));
  size_t *kept = malloc(sizeof(size_t) * (NB ? NB : 1));
  if (!sel || !boxes || !cand || !kept) {
    free(sel), free(boxes), free(cand), free(kept);
    return OXRT_OOM();
  }
  size_t ns = 0;
  for (size_t b = 0; b < B && max_out > 0; b++) {
    for (size_t i = 0; i < NB; i++) nms_box(bx, (b * NB + i) * 4, cpb == 1, boxes + 4 * i);
    for (size_t c = 0; c < C; c++) {
      size_t nc = 0;
      for (size_t i = 0; i < NB; i++) {
        const float s = (float)oxrt_load_f64(sc->dtype, sc->data, (b * C + c) * NB + i);
        if (has_score_th && !(s > (float)score_th)) continue;
        cand[nc].score = s, cand[nc].index = (int64_t)i, nc++;
      }
      qsort(cand, nc, sizeof *cand, nms_cmp);
      size_t nk = 0;
      for (size_t k = 0; k < nc && nk < (size_t)max_out; k++) {
        const float *bb = boxes + 4 * cand[k].index;
        bool keep = true;
        for (size_t j = 0; j < nk && keep; j++)
          if (nms_iou(bb, boxes + 4 * kept[j]) > (float)iou_th) keep = false;
        if (!keep) continue;
        kept[nk++] = (size_t)cand[k].index;
        sel[3 * ns] = (int64_t)b, sel[3 * ns + 1] = (int64_t)c, sel[3 * ns + 2] = cand[k].index;
        ns++;
      }
    }
  }
  free(boxes), free(cand), free(kept);
  int64_t od[2] = {(int64_t)ns, 3};
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, OXRT_INT64, 2, od, &y);
  if (!st && ns) memcpy(y->data, sel, sizeof(int64_t) * 3 * ns);
  free(sel);
  return st;
}

static const oxrt_op_impl nms_impls[] = {
    {.since_version = 10, .run = nms_run},
    {.since_version = 11, .run = nms_run},
};
OXRT_REGISTER_OP(NonMaxSuppression) = {"", "NonMaxSuppression", OXRT_IMPLS(nms_impls)};
