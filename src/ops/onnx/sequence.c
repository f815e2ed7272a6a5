/* sequence.c - the sequence family: SequenceConstruct, SequenceEmpty, SequenceAt, SequenceInsert, SequenceErase,
 * SequenceLength, SplitToSequence, ConcatFromSequence (all from opset 11; SplitToSequence 24 only adds types). */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */
static oxrt_status *check_seq(const oxrt_value *s, int index) {
  if (!s) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (sequence) is missing", index);
  if (s->kind != OXRT_KIND_SEQUENCE) {
    char b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d must be a sequence, got %s", index,
                      oxrt_value_describe(s, b, sizeof b));
  }
  return NULL;
}

/* Reads a position input (int32/int64 scalar or one-element tensor). */
static oxrt_status *read_position(const oxrt_value *p, int index, int64_t *out) {
  OXRT_TRY(oxrt_check_tensor(p, index, "position"));
  if (p->dtype != OXRT_INT32 && p->dtype != OXRT_INT64)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d (position) must be int32 or int64, got %s", index,
                      oxrt_elem_type_name(p->dtype));
  return oxrt_read_scalar_i64(p, index, out);
}

/* A new sequence of `src`'s items with room for `extra` more; items are deep copies except index `skip`. */
static oxrt_status *copy_seq(const oxrt_value *src, size_t extra, size_t skip, oxrt_value **out) {
  oxrt_value *s;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, src->dtype, src->n_items + extra + 1, &s));
  for (size_t i = 0; i < src->n_items; i++) {
    if (i == skip) continue;
    oxrt_status *st = oxrt_value_clone(src->items[i], &s->items[s->n_items]);
    if (st) {
      oxrt_value_free(s);
      return st;
    }
    s->n_items++;
  }
  *out = s;
  return NULL;
}

/* Type check of a tensor going into a sequence that already holds tensors. An empty sequence takes the tensor's
 * type (some exporters leave SequenceEmpty's dtype at its float default). */
static oxrt_status *check_elem_type(const oxrt_value *seq, const oxrt_value *t, int index) {
  if (seq->n_items && seq->dtype != OXRT_UNDEFINED && seq->dtype != t->dtype)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has element type %s but the sequence holds %s", index,
                      oxrt_elem_type_name(t->dtype), oxrt_elem_type_name(seq->dtype));
  return NULL;
}

/* --------------------------------------------------------- SequenceConstruct */
static oxrt_status *construct_run(oxrt_kernel_ctx *ctx) {
  if (ctx->n_inputs < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "needs at least one input");
  for (int i = 0; i < ctx->n_inputs; i++) {
    OXRT_TRY(oxrt_check_tensor(oxrt_input(ctx, i), i, "tensor"));
    if (ctx->inputs[i]->dtype != ctx->inputs[0]->dtype)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d has element type %s, input 0 has %s", i,
                        oxrt_elem_type_name(ctx->inputs[i]->dtype), oxrt_elem_type_name(ctx->inputs[0]->dtype));
  }
  oxrt_value *s;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, ctx->inputs[0]->dtype, (size_t)ctx->n_inputs, &s));
  for (int i = 0; i < ctx->n_inputs; i++) {
    oxrt_status *st = oxrt_value_clone(ctx->inputs[i], &s->items[s->n_items]);
    if (st) {
      oxrt_value_free(s);
      return st;
    }
    s->n_items++;
  }
  return oxrt_set_output(ctx, 0, s);
}

/* -------------------------------------------------------------- SequenceEmpty */
static oxrt_status *empty_run(oxrt_kernel_ctx *ctx) {
  int64_t dt = oxrt_attr_int(ctx->node, "dtype", OXRT_FLOAT);
  if (!oxrt_dtype_is_valid((int)dt) || dt == OXRT_UNDEFINED)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute dtype=%lld is not a tensor element type", (long long)dt);
  oxrt_value *s;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, (oxrt_elem_type)dt, 0, &s));
  return oxrt_set_output(ctx, 0, s);
}

/* ----------------------------------------------------------------- SequenceAt */
static oxrt_status *at_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *s = oxrt_input(ctx, 0);
  OXRT_TRY(check_seq(s, 0));
  int64_t pos, n = (int64_t)s->n_items;
  OXRT_TRY(read_position(oxrt_input(ctx, 1), 1, &pos));
  if (pos < -n || pos >= n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "position %lld is out of range for a sequence of %lld items",
                      (long long)pos, (long long)n);
  if (pos < 0) pos += n;
  const oxrt_value *it = s->items[pos];
  if (!it) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %lld is empty", (long long)pos);
  if (it->kind == OXRT_KIND_TENSOR) return oxrt_output_copy(ctx, 0, it, it->rank, it->dims);
  oxrt_value *c;
  OXRT_TRY(oxrt_value_clone(it, &c));
  return oxrt_set_output(ctx, 0, c);
}

/* ------------------------------------------------------------- SequenceInsert */
static oxrt_status *insert_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *s = oxrt_input(ctx, 0), *t = oxrt_input(ctx, 1), *p = oxrt_input(ctx, 2);
  OXRT_TRY(check_seq(s, 0));
  OXRT_TRY(oxrt_check_tensor(t, 1, "tensor"));
  OXRT_TRY(check_elem_type(s, t, 1));
  int64_t n = (int64_t)s->n_items, pos = n;
  if (p) {
    OXRT_TRY(read_position(p, 2, &pos));
    if (pos < -n || pos > n)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "position %lld is out of range [%lld, %lld]", (long long)pos,
                        (long long)-n, (long long)n);
    if (pos < 0) pos += n;
  }
  oxrt_value *out, *ti;
  OXRT_TRY(copy_seq(s, 1, SIZE_MAX, &out));
  oxrt_status *st = oxrt_value_clone(t, &ti);
  if (st) {
    oxrt_value_free(out);
    return st;
  }
  memmove(&out->items[pos + 1], &out->items[pos], (size_t)(n - pos) * sizeof *out->items);
  out->items[pos] = ti;
  out->n_items++;
  out->dtype = t->dtype;
  return oxrt_set_output(ctx, 0, out);
}

/* -------------------------------------------------------------- SequenceErase */
static oxrt_status *erase_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *s = oxrt_input(ctx, 0), *p = oxrt_input(ctx, 1);
  OXRT_TRY(check_seq(s, 0));
  int64_t n = (int64_t)s->n_items, pos = n - 1;
  if (p) OXRT_TRY(read_position(p, 1, &pos));
  if (pos < -n || pos >= n)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "position %lld is out of range for a sequence of %lld items",
                      (long long)pos, (long long)n);
  if (pos < 0) pos += n;
  oxrt_value *out;
  OXRT_TRY(copy_seq(s, 0, (size_t)pos, &out));
  return oxrt_set_output(ctx, 0, out);
}

/* ------------------------------------------------------------- SequenceLength */
static oxrt_status *length_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *s = oxrt_input(ctx, 0);
  OXRT_TRY(check_seq(s, 0));
  oxrt_value *o;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, 0, NULL, &o));
  *(int64_t *)o->data = (int64_t)s->n_items;
  return NULL;
}

/* ------------------------------------------------------------ SplitToSequence */
static oxrt_status *split_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *sp = oxrt_input(ctx, 1);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 must have rank >= 1, got a scalar");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(oxrt_attr_int(ctx->node, "axis", 0), x->rank, false, &axis));
  bool keepdims = oxrt_attr_int(ctx->node, "keepdims", 1) != 0;
  int64_t dim = x->dims[axis];
  int64_t *lens = NULL;
  size_t n = 0;
  if (!sp) {
    n = (size_t)dim;
    lens = malloc((n + 1) * sizeof *lens);
    if (!lens) return OXRT_OOM();
    for (size_t i = 0; i < n; i++) lens[i] = 1;
  } else {
    OXRT_TRY(oxrt_check_tensor(sp, 1, "split"));
    if (sp->dtype != OXRT_INT32 && sp->dtype != OXRT_INT64)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (split) must be int32 or int64, got %s",
                        oxrt_elem_type_name(sp->dtype));
    keepdims = true; /* ignored once 'split' is given */
    if (sp->rank == 0) {
      int64_t len = oxrt_load_i64(sp->dtype, sp->data, 0);
      if (len <= 0)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split length must be positive, got %lld", (long long)len);
      n = (size_t)((dim + len - 1) / len);
      lens = malloc((n + 1) * sizeof *lens);
      if (!lens) return OXRT_OOM();
      for (size_t i = 0; i < n; i++) lens[i] = (int64_t)i + 1 < (int64_t)n ? len : dim - len * (int64_t)(n - 1);
    } else {
      if (sp->rank != 1)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 1 (split) must be a scalar or 1-D, got rank %d", sp->rank);
      OXRT_TRY(oxrt_read_int_list(sp, 1, &lens, &n));
      int64_t sum = 0;
      for (size_t i = 0; i < n; i++) {
        if (lens[i] < 0) {
          free(lens);
          return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split[%zu] = %lld is negative", i, (long long)lens[i]);
        }
        sum += lens[i];
      }
      if (sum != dim) {
        free(lens);
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "split lengths sum to %lld but axis %lld has %lld", (long long)sum,
                          (long long)axis, (long long)dim);
      }
    }
  }
  size_t outer = 1, inner = 1, es = oxrt_elem_type_size(x->dtype);
  for (int64_t d = 0; d < axis; d++) outer *= (size_t)x->dims[d];
  for (int d = (int)axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
  oxrt_value *seq;
  oxrt_status *st = oxrt_value_new_container(OXRT_KIND_SEQUENCE, x->dtype, n + 1, &seq);
  int64_t start = 0;
  for (size_t i = 0; !st && i < n; i++) {
    int64_t dims[OXRT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
      if (d == axis && !keepdims) continue;
      dims[r++] = d == axis ? lens[i] : x->dims[d];
    }
    oxrt_value *t;
    st = oxrt_tensor_new(x->dtype, r, dims, &t);
    if (st) break;
    seq->items[seq->n_items++] = t;
    size_t blk = (size_t)lens[i] * inner;
    for (size_t o = 0; o < outer && blk; o++) {
      const char *src = (const char *)x->data + ((o * (size_t)dim + (size_t)start) * inner) * es;
      if (!oxrt_convert(x->dtype, (char *)t->data + o * blk * es, x->dtype, src, blk, false)) {
        st = OXRT_OOM();
        break;
      }
    }
    start += lens[i];
  }
  free(lens);
  if (st) {
    oxrt_value_free(seq);
    return st;
  }
  return oxrt_set_output(ctx, 0, seq);
}

/* --------------------------------------------------------- ConcatFromSequence */
static oxrt_status *concat_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *s = oxrt_input(ctx, 0);
  OXRT_TRY(check_seq(s, 0));
  const oxrt_attr *ax = oxrt_node_attr(ctx->node, "axis");
  if (!ax) return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute 'axis' is required");
  bool new_axis = oxrt_attr_int(ctx->node, "new_axis", 0) != 0;
  if (s->n_items == 0) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot concatenate an empty sequence");
  const oxrt_value *t0 = s->items[0];
  for (size_t i = 0; i < s->n_items; i++) {
    const oxrt_value *t = s->items[i];
    if (!t || t->kind != OXRT_KIND_TENSOR)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu is not a tensor", i);
    if (t->dtype != t0->dtype || t->rank != t0->rank)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu is %s rank %d, item 0 is %s rank %d", i,
                        oxrt_elem_type_name(t->dtype), t->rank, oxrt_elem_type_name(t0->dtype), t0->rank);
  }
  int rank = t0->rank;
  if (!new_axis && rank == 0)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cannot concatenate scalars without new_axis");
  if (new_axis && rank + 1 > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rank too large");
  int64_t axis;
  OXRT_TRY(oxrt_norm_axis(ax->i, rank, new_axis, &axis));
  /* Each item is viewed as [outer, mid, inner] with mid = its extent along axis (1 with new_axis). */
  size_t outer = 1, inner = 1, es = oxrt_elem_type_size(t0->dtype);
  for (int64_t d = 0; d < axis; d++) outer *= (size_t)t0->dims[d];
  for (int d = (int)axis + (new_axis ? 0 : 1); d < rank; d++) inner *= (size_t)t0->dims[d];
  int64_t total = 0;
  for (size_t i = 0; i < s->n_items; i++) {
    const oxrt_value *t = s->items[i];
    for (int d = 0; d < rank; d++)
      if ((new_axis || d != axis) && t->dims[d] != t0->dims[d]) {
        char a[128], b[128];
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence item %zu has shape %s, incompatible with item 0 %s", i,
                          oxrt_dims_str(t->dims, t->rank, a, sizeof a), oxrt_dims_str(t0->dims, t0->rank, b, sizeof b));
      }
    total += new_axis ? 1 : t->dims[axis];
  }
  int64_t dims[OXRT_MAX_RANK];
  int orank = new_axis ? rank + 1 : rank;
  /* output dims: the items' dims with `axis` replaced (or, with new_axis, inserted) */
  for (int d = 0, k = 0; d < orank; d++) {
    if (d == axis) {
      dims[d] = total;
      if (!new_axis) k++;
    } else {
      dims[d] = t0->dims[k++];
    }
  }
  oxrt_value *o;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t0->dtype, orank, dims, &o));
  size_t orow = (size_t)total * inner, off = 0;
  for (size_t i = 0; i < s->n_items; i++) {
    const oxrt_value *t = s->items[i];
    size_t blk = (new_axis ? 1 : (size_t)t->dims[axis]) * inner;
    for (size_t q = 0; q < outer && blk; q++)
      if (!oxrt_convert(t0->dtype, (char *)o->data + (q * orow + off) * es, t0->dtype,
                        (const char *)t->data + q * blk * es, blk, false))
        return OXRT_OOM();
    off += blk;
  }
  return NULL;
}

static const oxrt_op_impl construct_impls[] = {{.since_version = 11, .run = construct_run}};
static const oxrt_op_impl empty_impls[] = {{.since_version = 11, .run = empty_run}};
static const oxrt_op_impl at_impls[] = {{.since_version = 11, .run = at_run}};
static const oxrt_op_impl insert_impls[] = {{.since_version = 11, .run = insert_run}};
static const oxrt_op_impl erase_impls[] = {{.since_version = 11, .run = erase_run}};
static const oxrt_op_impl length_impls[] = {{.since_version = 11, .run = length_run}};
static const oxrt_op_impl split_impls[] = {{.since_version = 11, .run = split_run}};
static const oxrt_op_impl concat_impls[] = {{.since_version = 11, .run = concat_run}};
OXRT_REGISTER_OP(SequenceConstruct) = {"", "SequenceConstruct", OXRT_IMPLS(construct_impls)};
OXRT_REGISTER_OP(SequenceEmpty) = {"", "SequenceEmpty", OXRT_IMPLS(empty_impls)};
OXRT_REGISTER_OP(SequenceAt) = {"", "SequenceAt", OXRT_IMPLS(at_impls)};
OXRT_REGISTER_OP(SequenceInsert) = {"", "SequenceInsert", OXRT_IMPLS(insert_impls)};
OXRT_REGISTER_OP(SequenceErase) = {"", "SequenceErase", OXRT_IMPLS(erase_impls)};
OXRT_REGISTER_OP(SequenceLength) = {"", "SequenceLength", OXRT_IMPLS(length_impls)};
OXRT_REGISTER_OP(SplitToSequence) = {"", "SplitToSequence", OXRT_IMPLS(split_impls)};
OXRT_REGISTER_OP(ConcatFromSequence) = {"", "ConcatFromSequence", OXRT_IMPLS(concat_impls)};
