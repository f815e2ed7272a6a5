/* QLinearWhere.c - com.microsoft QLinearWhere(condition, X, x_scale, x_zp, Y, y_scale, y_zp, z_scale, z_zp):
 * Where on 8-bit X and Y with numpy broadcasting, the chosen value requantized into Z's scale / zero point. */
#include "../onnx/qlinear_util.h"

typedef struct {
  const bool *c;
  const uint8_t *x, *y;
  uint8_t *z;
  bool sg;
  float rx, ry, xz, yz, zz;
} qwhere_job;

static void qwhere_fn(void *arg, size_t out_off, const size_t *in_off, const int64_t *in_step, size_t len) {
  const qwhere_job *j = arg;
  for (size_t i = 0; i < len; i++) {
    bool c = j->c[in_off[0] + i * (size_t)in_step[0]];
    float v = c ? (ql_ld8(j->x, in_off[1] + i * (size_t)in_step[1], j->sg) - j->xz) * j->rx
                : (ql_ld8(j->y, in_off[2] + i * (size_t)in_step[2], j->sg) - j->yz) * j->ry;
    j->z[out_off + i] = ql_sat8(v, j->zz, j->sg);
  }
}

static oxrt_status *qwhere_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *c = oxrt_input(ctx, 0), *x = oxrt_input(ctx, 1), *y = oxrt_input(ctx, 4);
  OXRT_TRY(oxrt_check_tensor(c, 0, "condition"));
  OXRT_TRY(oxrt_check_tensor(x, 1, "X"));
  OXRT_TRY(oxrt_check_tensor(y, 4, "Y"));
  if (c->dtype != OXRT_BOOL || !ql_is8(x->dtype) || y->dtype != x->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "expected a bool condition and X, Y both uint8 or both int8");
  qwhere_job j = {.c = c->data, .x = x->data, .y = y->data, .sg = x->dtype == OXRT_INT8};
  float xs = 1, ys = 1, zs = 1;
  OXRT_TRY(ql_scalar_param(ctx, 2, 3, x->dtype, &xs, &j.xz));
  OXRT_TRY(ql_scalar_param(ctx, 5, 6, x->dtype, &ys, &j.yz));
  OXRT_TRY(ql_scalar_param(ctx, 7, 8, x->dtype, &zs, &j.zz));
  j.rx = xs / zs, j.ry = ys / zs;
  const oxrt_value *ins[3] = {c, x, y};
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  OXRT_TRY(oxrt_broadcast_shapes(3, ins, &rank, dims));
  oxrt_value *z;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, rank, dims, &z));
  j.z = z->data;
  if (z->count) oxrt_broadcast_foreach(3, ins, rank, dims, qwhere_fn, &j);
  return NULL;
}

static const oxrt_op_impl qwhere_impls[] = {{.since_version = 1, .run = qwhere_run}};
OXRT_REGISTER_OP(ms_QLinearWhere) = {"com.microsoft", "QLinearWhere", OXRT_IMPLS(qwhere_impls)};
