/* Concat.c - Concat along `axis` (default 1 in opset 1, required from 4, negative from 11). */
#include "layout_util.h"
#include "../infer_rules.h"

/* Few long runs (a channel Concat of one image: one run per input): lay_gather2 would copy each run on one thread.
 * Here every run is cut into 32 KiB pieces that the pool shares (squeezenet1_1's 1.5 MB Concats at 2 threads took
 * longer than at 1). */
#define CONCAT_MAX_IN 16
#define CONCAT_PIECE ((size_t)32 << 10)
typedef struct {
  char *y;
  const char *src[CONCAT_MAX_IN];
  size_t bytes[CONCAT_MAX_IN], off[CONCAT_MAX_IN], first[CONCAT_MAX_IN + 1]; /* first: pieces before input i */
  size_t nin, row_bytes;
} concat_job;

static void concat_pieces(void *arg, size_t begin, size_t end) {
  const concat_job *j = arg;
  const size_t per_row = j->first[j->nin];
  for (size_t it = begin; it < end; it++) {
    const size_t o = it / per_row, r = it % per_row;
    size_t i = 0;
    while (r >= j->first[i + 1]) i++;
    const size_t b = (r - j->first[i]) * CONCAT_PIECE, n = j->bytes[i] - b < CONCAT_PIECE ? j->bytes[i] - b : CONCAT_PIECE;
    memcpy(j->y + o * j->row_bytes + j->off[i] + b, j->src[i] + o * j->bytes[i] + b, n);
  }
}

static oxrt_status *concat_run(oxrt_kernel_ctx *ctx) {
  const oxrt_node *node = ctx->node;
  const oxrt_attr *aa = oxrt_node_attr(node, "axis");
  if (!aa && ctx->opset >= 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'axis' is required");
  int64_t axis = aa ? oxrt_attr_int(node, "axis", 1) : 1;
  const oxrt_value *first = NULL;
  for (int i = 0; i < ctx->n_inputs; i++) {
    const oxrt_value *x = oxrt_input(ctx, i);
    OXRT_TRY(oxrt_check_tensor(x, i, "input"));
    if (!first) first = x;
  }
  if (!first) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Concat needs at least one input");
  int r = first->rank;
  if (r == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot concatenate scalars");
  OXRT_TRY(oxrt_norm_axis(axis, r, false, &axis));
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0; d < r; d++) dims[d] = first->dims[d];
  dims[axis] = 0;
  for (int i = 0; i < ctx->n_inputs; i++) {
    const oxrt_value *x = ctx->inputs[i];
    if (x->dtype != first->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has type %s, input 0 has %s", i, oxrt_elem_type_name(x->dtype),
                        oxrt_elem_type_name(first->dtype));
    if (x->rank != r) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has rank %d, input 0 has rank %d", i, x->rank, r);
    for (int d = 0; d < r; d++)
      if (d != axis && x->dims[d] != first->dims[d])
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d: dim %d is %lld, input 0 has %lld", i, d,
                          (long long)x->dims[d], (long long)first->dims[d]);
    dims[axis] += x->dims[axis];
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, first->dtype, r, dims, &y));
  /* Each input is a [outer, block] matrix placed at a column offset of the [outer, total] output. */
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++) outer *= dims[d];
  for (int d = (int)axis + 1; d < r; d++) inner *= dims[d];
  int64_t total = dims[axis] * inner, col = 0;
  const size_t es = oxrt_elem_type_size(first->dtype);
  if (first->dtype != OXRT_STRING && es && ctx->n_inputs <= CONCAT_MAX_IN && outer <= 4 &&
      y->nbytes >= 4 * CONCAT_PIECE) {
    concat_job j = {.y = y->data, .nin = (size_t)ctx->n_inputs, .row_bytes = (size_t)total * es};
    for (int i = 0; i < ctx->n_inputs; i++) {
      const oxrt_value *x = ctx->inputs[i];
      j.src[i] = x->data;
      j.bytes[i] = (size_t)(x->dims[axis] * inner) * es;
      j.off[i] = (size_t)col * es;
      j.first[i + 1] = j.first[i] + (j.bytes[i] + CONCAT_PIECE - 1) / CONCAT_PIECE;
      col += x->dims[axis] * inner;
    }
    oxrt_parallel(ctx, (size_t)outer * j.first[j.nin], 1, concat_pieces, &j);
    return NULL;
  }
  for (int i = 0; i < ctx->n_inputs; i++) {
    const oxrt_value *x = ctx->inputs[i];
    int64_t block = x->dims[axis] * inner;
    int64_t md[2] = {outer, block}, ss[2] = {block, 1}, ds[2] = {total, 1};
    OXRT_TRY(oxrt_lay_gather2(ctx, x->dtype, y->data, col, ds, x->data, 0, 2, md, ss));
    col += block;
  }
  return NULL;
}

static const oxrt_op_impl concat_impls[] = {{.since_version = 1, .run = concat_run}};

/* Sizes along `axis` add up; the contents of 1-D integer inputs are joined. */
static oxrt_status *infer_concat(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  oxrt_known_ints r;
  memset(&r, 0, sizeof r);
  for (int i = 0; i < n->n_inputs && r.n >= 0; i++) {
    const oxrt_known_ints *k = oxrt_infer_known(ctx, i);
    if (!k || k->scalar || r.n + k->n > OXRT_MAX_RANK) r.n = -1;
    else
      for (int j = 0; j < k->n; j++) r.v[r.n] = k->v[j], r.names[r.n++] = k->names[j];
  }
  if (r.n >= 0 && n->n_inputs > 0) oxrt_infer_set_known(ctx, 0, &r);
  oxrt_tshape out, s;
  for (int i = 0; i < n->n_inputs; i++) {
    if (!oxrt_infer_input(ctx, i, &s) || s.rank < 1) return NULL;
    int64_t axis = oxrt_attr_int(n, "axis", 0);
    if (axis < 0) axis += s.rank;
    if (axis < 0 || axis >= s.rank) return NULL;
    if (i == 0) {
      out = s;
      continue;
    }
    if (s.rank != out.rank) return NULL;
    if (out.dims[axis] < 0 || s.dims[axis] < 0 || __builtin_add_overflow(out.dims[axis], s.dims[axis], &out.dims[axis]))
      out.dims[axis] = -1;
    out.names[axis] = NULL;
  }
  return n->n_inputs > 0 ? oxrt_infer_output(ctx, 0, &out) : NULL;
}

OXRT_REGISTER_OP(Concat) = {"", "Concat", OXRT_IMPLS(concat_impls), .infer = infer_concat,
                            .flags = OXRT_OP_SAME_ELEM_TYPE};
