/* Scan.c - Scan.
 * Opset 8: inputs (sequence_lens?, N states [batch,...], M scan inputs [batch, seq, ...]); the body runs per batch
 *   row for sequence_lens[b] steps (attribute `directions` reverses a scan input); scan outputs are
 *   [batch, max_seq, ...], zero-padded past each row's length; final states are stacked per row.
 * Opset 9+: inputs (N states, M scan inputs) without batching; scan_input_axes / scan_input_directions pick the
 *   axis and order each input is read along, scan_output_axes / scan_output_directions where and in which order
 *   each scan output is written (negative axes from opset 11). */
#include "../op_util.h"
#include "../infer_rules.h"
#include <stdlib.h>
#include <string.h>

typedef struct scan_state {
  int n_state, n_scan_in, n_scan_out;
  int64_t *in_axes, *in_dirs, *out_axes, *out_dirs; /* raw attribute values, defaults filled */
} scan_state;

static void scan_release(void *p) {
  scan_state *s = p;
  if (!s) return;
  free(s->in_axes), free(s->in_dirs), free(s->out_axes), free(s->out_dirs);
  free(s);
}

/* Copies attribute `name` (n ints, default 0) into a new array; checks its length and, for directions, values. */
static oxrt_status *read_list(const oxrt_node *node, const char *name, int n, bool dirs, int64_t **out) {
  size_t cnt;
  const int64_t *v = oxrt_attr_ints(node, name, &cnt);
  if (v && (int)cnt != n)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute '%s' has %zu values, expected %d", name, cnt, n);
  *out = calloc((size_t)n + 1, sizeof **out);
  if (!*out) return OXRT_OOM();
  for (int i = 0; v && i < n; i++) {
    if (dirs && v[i] != 0 && v[i] != 1)
      return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute '%s'[%d] = %lld must be 0 or 1", name, i, (long long)v[i]);
    (*out)[i] = v[i];
  }
  return NULL;
}

static oxrt_status *scan_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  const oxrt_attr *a = oxrt_node_attr(node, "body");
  if (!a || !a->g) return oxrt_error(OXRT_ERR_INVALID_MODEL, "graph attribute 'body' is required");
  const oxrt_graph *g = a->g;
  int64_t m = oxrt_attr_int(node, "num_scan_inputs", -1);
  int first = opset < 9 ? 1 : 0; /* opset 8: input 0 is sequence_lens */
  int n_in = node->n_inputs - first;
  if (m < 1 || m > n_in)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "attribute num_scan_inputs=%lld must be in [1, %d]", (long long)m, n_in);
  scan_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  *state = s;
  s->n_scan_in = (int)m;
  s->n_state = n_in - (int)m;
  s->n_scan_out = g->n_outputs - s->n_state;
  if (g->n_inputs != n_in)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body takes %d inputs, expected %d (%d states, %d scan inputs)",
                      g->n_inputs, n_in, s->n_state, s->n_scan_in);
  if (s->n_scan_out < 0)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "body returns %d values, fewer than the %d states", g->n_outputs,
                      s->n_state);
  if (node->n_outputs > g->n_outputs)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "node has %d outputs but the body yields only %d", node->n_outputs,
                      g->n_outputs);
  if (opset < 9) {
    OXRT_TRY(read_list(node, "directions", s->n_scan_in, true, &s->in_dirs));
    OXRT_TRY(read_list(node, "scan_input_axes", 0, false, &s->in_axes)); /* unused */
    OXRT_TRY(read_list(node, "scan_output_axes", 0, false, &s->out_axes));
    OXRT_TRY(read_list(node, "scan_output_directions", 0, false, &s->out_dirs));
    return NULL;
  }
  OXRT_TRY(read_list(node, "scan_input_axes", s->n_scan_in, false, &s->in_axes));
  OXRT_TRY(read_list(node, "scan_input_directions", s->n_scan_in, true, &s->in_dirs));
  OXRT_TRY(read_list(node, "scan_output_axes", s->n_scan_out, false, &s->out_axes));
  OXRT_TRY(read_list(node, "scan_output_directions", s->n_scan_out, true, &s->out_dirs));
  if (opset < 11)
    for (int i = 0; i < s->n_scan_in; i++)
      if (s->in_axes[i] < 0) return oxrt_error(OXRT_ERR_INVALID_MODEL, "negative scan_input_axes need opset 11");
  return NULL;
}

/* Sub-tensor of `src` at `index` along `axis` (that axis removed): a view when contiguous, else a copy. */
static oxrt_status *slice_at(const oxrt_value *src, int axis, int64_t index, oxrt_value **out) {
  size_t outer = 1, inner = 1, es = oxrt_elem_type_size(src->dtype);
  int64_t dims[OXRT_MAX_RANK];
  for (int d = 0, r = 0; d < src->rank; d++) {
    if (d < axis) outer *= (size_t)src->dims[d];
    if (d > axis) inner *= (size_t)src->dims[d];
    if (d != axis) dims[r++] = src->dims[d];
  }
  size_t len = (size_t)src->dims[axis];
  const char *base = (const char *)src->data + (size_t)index * inner * es;
  if (outer == 1) return oxrt_tensor_view(src->dtype, src->rank - 1, dims, (void *)base, out);
  OXRT_TRY(oxrt_tensor_new(src->dtype, src->rank - 1, dims, out));
  for (size_t o = 0; o < outer && inner; o++)
    if (!oxrt_convert(src->dtype, (char *)(*out)->data + o * inner * es, src->dtype, base + o * len * inner * es,
                      inner, false)) {
      oxrt_value_free(*out);
      return OXRT_OOM();
    }
  return NULL;
}

/* Writes `v` at `index` along `axis` of `dst` (whose dims are v's with that axis inserted). */
static oxrt_status *place_at(oxrt_value *dst, int axis, int64_t index, const oxrt_value *v) {
  size_t outer = 1, inner = v->count, es = oxrt_elem_type_size(dst->dtype), len = (size_t)dst->dims[axis];
  for (int d = 0; d < axis; d++) outer *= (size_t)dst->dims[d];
  if (outer) inner = v->count / outer;
  for (size_t o = 0; o < outer && inner; o++)
    if (!oxrt_convert(dst->dtype, (char *)dst->data + (o * len + (size_t)index) * inner * es, v->dtype,
                      (const char *)v->data + o * inner * es, inner, false))
      return OXRT_OOM();
  return NULL;
}

/* Checks an iteration's scan output against the shape set by the first iteration. */
static oxrt_status *check_like(const oxrt_value *v, const oxrt_value *first, int k, const oxrt_graph *g) {
  const char *name = g->values[g->outputs[k]].name;
  if (!v || v->kind != OXRT_KIND_TENSOR)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "body output '%s' must be a tensor", name);
  if (first && (v->dtype != first->dtype || v->rank != first->rank ||
                memcmp(v->dims, first->dims, sizeof(int64_t) * (size_t)v->rank))) {
    char a[128], b[128];
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "body output '%s' changes from %s to %s between iterations", name,
                      oxrt_value_describe(first, a, sizeof a), oxrt_value_describe(v, b, sizeof b));
  }
  return NULL;
}

/* Output for a scan output when no iteration ran: `lead` dims, then the body's declared shape with a 0-length
 * axis inserted at `axis` when `insert` (left out where the declaration is unknown). Zero-filled. */
static oxrt_status *empty_scan_output(oxrt_kernel_ctx *ctx, int o, const oxrt_value_def *decl, int64_t axis,
                                      const int64_t *lead, int n_lead, bool insert) {
  const oxrt_type *t = decl->type;
  oxrt_elem_type et = t && t->kind == OXRT_KIND_TENSOR && t->elem_type ? t->elem_type : OXRT_FLOAT;
  int64_t dims[OXRT_MAX_RANK];
  int rank = 0;
  for (int i = 0; i < n_lead; i++) dims[rank++] = lead[i];
  bool known = t && t->kind == OXRT_KIND_TENSOR && t->rank >= 0 && t->rank + n_lead + 1 <= OXRT_MAX_RANK;
  for (int d = 0; known && d < t->rank; d++) known = t->dims[d] >= 0;
  if (!known) {
    if (insert) dims[rank++] = 0;
  } else {
    if (axis < 0) axis += t->rank + 1;
    if (axis < 0 || axis > t->rank) axis = 0;
    for (int d = 0, r = 0; d <= t->rank; d++) {
      if (d == axis && insert) dims[rank++] = 0;
      if (d < t->rank) dims[rank++] = t->dims[r++];
    }
  }
  oxrt_value *v;
  OXRT_TRY(oxrt_output_tensor(ctx, o, et, rank, dims, &v));
  if (et != OXRT_STRING && v->nbytes) memset(v->data, 0, v->nbytes);
  return NULL;
}

/* ------------------------------------------------------------------ opset 9+ */
static oxrt_status *scan9_run_axes(oxrt_kernel_ctx *ctx, const scan_state *s, const oxrt_graph *g, int *in_axis);

/* One iteration once in[ns..ns+mi) hold this step's scan-input slices (st: the error of taking them): runs the
 * body into out[], frees the slices, and moves the ns state outputs into in[0..ns) for the next step. */
static oxrt_status *scan_step(oxrt_kernel_ctx *ctx, const oxrt_graph *g, const oxrt_value **in, bool *own,
                              oxrt_value **out, int ns, int mi, oxrt_status *st) {
  if (!st) st = oxrt_subgraph_run(ctx, g, in, ns + mi, out);
  for (int j = 0; j < mi; j++) {
    oxrt_value_free((oxrt_value *)in[ns + j]);
    in[ns + j] = NULL;
  }
  if (st) return st;
  for (int i = 0; i < ns; i++) {
    if (own[i]) oxrt_value_free((oxrt_value *)in[i]);
    in[i] = out[i];
    own[i] = true;
    out[i] = NULL;
  }
  return NULL;
}

static oxrt_status *scan9_run(oxrt_kernel_ctx *ctx) {
  const scan_state *s = ctx->state;
  const oxrt_graph *g = oxrt_node_attr(ctx->node, "body")->g;
  int *in_axis = calloc((size_t)s->n_scan_in + 1, sizeof *in_axis);
  if (!in_axis) return OXRT_OOM();
  oxrt_status *st = scan9_run_axes(ctx, s, g, in_axis);
  free(in_axis);
  return st;
}

static oxrt_status *scan9_run_axes(oxrt_kernel_ctx *ctx, const scan_state *s, const oxrt_graph *g, int *in_axis) {
  const int ns = s->n_state, mi = s->n_scan_in, ko = s->n_scan_out;
  int64_t len = -1;
  for (int j = 0; j < mi; j++) {
    const oxrt_value *x = oxrt_input(ctx, ns + j);
    OXRT_TRY(oxrt_check_tensor(x, ns + j, "scan input"));
    int64_t ax;
    if (x->rank < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan input %d must have rank >= 1", ns + j);
    OXRT_TRY(oxrt_norm_axis(s->in_axes[j], x->rank, false, &ax));
    in_axis[j] = (int)ax;
    if (len >= 0 && x->dims[ax] != len)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan input %d has %lld steps along axis %lld, input %d has %lld",
                        ns + j, (long long)x->dims[ax], (long long)ax, ns, (long long)len);
    len = x->dims[ax];
  }
  for (int i = 0; i < ns; i++)
    if (!oxrt_input(ctx, i)) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "state input %d is missing", i);

  oxrt_status *st = NULL;
  const oxrt_value **in = calloc((size_t)(ns + mi) + 1, sizeof *in);
  bool *own = calloc((size_t)ns + 1, sizeof *own);
  oxrt_value **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  oxrt_value **scan_out = calloc((size_t)ko + 1, sizeof *scan_out); /* node outputs being filled */
  oxrt_value **first = calloc((size_t)ko + 1, sizeof *first);      /* shape reference: first iteration's value */
  int *out_axis = calloc((size_t)ko + 1, sizeof *out_axis);
  if (!in || !own || !out || !scan_out || !first || !out_axis) {
    st = OXRT_OOM();
    goto done;
  }
  for (int i = 0; i < ns; i++) in[i] = ctx->inputs[i];
  for (int64_t t = 0; t < len && !st; t++) {
    for (int j = 0; j < mi && !st; j++) {
      const oxrt_value *x = ctx->inputs[ns + j];
      oxrt_value *sl = NULL; /* stays NULL when slice_at fails: scan_step frees it */
      st = slice_at(x, in_axis[j], s->in_dirs[j] ? len - 1 - t : t, &sl);
      in[ns + j] = sl;
    }
    if ((st = scan_step(ctx, g, in, own, out, ns, mi, st))) break;
    for (int k = 0; k < ko && !st; k++) {
      oxrt_value *v = out[ns + k];
      st = check_like(v, first[k], ns + k, g);
      if (st) break;
      if (!first[k]) {
        /* first iteration: the output's shape is now known */
        if (v->rank + 1 > OXRT_MAX_RANK) {
          st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan output rank too large");
          break;
        }
        int64_t ax;
        st = oxrt_norm_axis(s->out_axes[k], v->rank, true, &ax);
        if (st) break;
        out_axis[k] = (int)ax;
        int64_t dims[OXRT_MAX_RANK];
        for (int d = 0, r = 0; d <= v->rank; d++) dims[d] = d == ax ? len : v->dims[r++];
        if (ns + k < ctx->n_outputs && oxrt_output_wanted(ctx, ns + k))
          st = oxrt_output_tensor(ctx, ns + k, v->dtype, v->rank + 1, dims, &scan_out[k]);
        first[k] = v;
        out[ns + k] = NULL;
      }
      if (!st && scan_out[k]) st = place_at(scan_out[k], out_axis[k], s->out_dirs[k] ? len - 1 - t : t, v);
    }
    for (int i = 0; i < g->n_outputs; i++) {
      oxrt_value_free(out[i]);
      out[i] = NULL;
    }
  }
  for (int o = 0; !st && o < ctx->n_outputs; o++) {
    if (!oxrt_output_wanted(ctx, o)) continue;
    if (o < ns) {
      oxrt_value *v;
      if (own[o]) {
        v = (oxrt_value *)in[o];
        own[o] = false;
      } else {
        st = oxrt_value_clone(in[o], &v);
        if (st) break;
      }
      st = oxrt_set_output(ctx, o, v);
    } else if (!first[o - ns]) {
      st = empty_scan_output(ctx, o, &g->values[g->outputs[o]], s->out_axes[o - ns], NULL, 0, true);
    }
  }
done:
  if (own)
    for (int i = 0; i < ns; i++)
      if (own[i]) oxrt_value_free((oxrt_value *)in[i]);
  if (out)
    for (int i = 0; i < g->n_outputs; i++) oxrt_value_free(out[i]);
  if (first)
    for (int k = 0; k < ko; k++) oxrt_value_free(first[k]);
  free(in), free(own), free(out), free(scan_out), free(first), free(out_axis);
  return st;
}

/* -------------------------------------------------------------------- opset 8 */
static oxrt_status *scan8_run(oxrt_kernel_ctx *ctx) {
  const scan_state *s = ctx->state;
  const oxrt_graph *g = oxrt_node_attr(ctx->node, "body")->g;
  const int ns = s->n_state, mi = s->n_scan_in, ko = s->n_scan_out;
  const oxrt_value *lens = oxrt_input(ctx, 0);
  int64_t batch = -1, max_len = -1;
  for (int j = 0; j < mi; j++) {
    const oxrt_value *x = oxrt_input(ctx, 1 + ns + j);
    OXRT_TRY(oxrt_check_tensor(x, 1 + ns + j, "scan input"));
    if (x->rank < 2)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan input %d must be [batch, sequence, ...], got rank %d",
                        1 + ns + j, x->rank);
    if ((batch >= 0 && x->dims[0] != batch) || (max_len >= 0 && x->dims[1] != max_len))
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan inputs disagree on batch size or sequence length");
    batch = x->dims[0];
    max_len = x->dims[1];
  }
  for (int i = 0; i < ns; i++) {
    const oxrt_value *x = oxrt_input(ctx, 1 + i);
    OXRT_TRY(oxrt_check_tensor(x, 1 + i, "initial state"));
    if (x->rank < 1 || x->dims[0] != batch)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "initial state %d must have batch size %lld first", 1 + i,
                        (long long)batch);
  }
  if (lens) {
    OXRT_TRY(oxrt_check_tensor(lens, 0, "sequence_lens"));
    if ((lens->dtype != OXRT_INT64 && lens->dtype != OXRT_INT32) || lens->rank != 1 || lens->dims[0] != batch)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 (sequence_lens) must be int64 [%lld]", (long long)batch);
    for (int64_t b = 0; b < batch; b++) {
      int64_t l = oxrt_load_i64(lens->dtype, lens->data, (size_t)b);
      if (l < 0 || l > max_len)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld is outside [0, %lld]", (long long)b,
                          (long long)l, (long long)max_len);
    }
  }
  oxrt_status *st = NULL;
  const oxrt_value **in = calloc((size_t)(ns + mi) + 1, sizeof *in);
  bool *own = calloc((size_t)ns + 1, sizeof *own);
  oxrt_value **out = calloc((size_t)g->n_outputs + 1, sizeof *out);
  oxrt_value **res = calloc((size_t)g->n_outputs + 1, sizeof *res); /* node outputs, allocated on first result */
  oxrt_value **first = calloc((size_t)g->n_outputs + 1, sizeof *first);
  if (!in || !own || !out || !res || !first) {
    st = OXRT_OOM();
    goto done;
  }
  for (int64_t b = 0; b < batch && !st; b++) {
    int64_t n = lens ? oxrt_load_i64(lens->dtype, lens->data, (size_t)b) : max_len;
    for (int i = 0; i < ns && !st; i++) {
      oxrt_value *sl = NULL; /* stays NULL when slice_at fails: scan_step frees it */
      st = slice_at(ctx->inputs[1 + i], 0, b, &sl);
      in[i] = sl;
      own[i] = true;
    }
    for (int64_t t = 0; t < n && !st; t++) {
      for (int j = 0; j < mi && !st; j++) {
        const oxrt_value *x = ctx->inputs[1 + ns + j];
        oxrt_value *row, *sl = NULL;
        st = slice_at(x, 0, b, &row);
        if (!st) st = slice_at(row, 0, s->in_dirs[j] ? n - 1 - t : t, &sl);
        oxrt_value_free(row);
        in[ns + j] = sl;
      }
      if ((st = scan_step(ctx, g, in, own, out, ns, mi, st))) break;
      for (int k = 0; k < ko && !st; k++) {
        oxrt_value *v = out[ns + k];
        st = check_like(v, first[ns + k], ns + k, g);
        if (st || !oxrt_output_wanted(ctx, ns + k)) continue;
        if (!res[ns + k]) {
          int64_t dims[OXRT_MAX_RANK];
          if (v->rank + 2 > OXRT_MAX_RANK) {
            st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "scan output rank too large");
            break;
          }
          dims[0] = batch;
          dims[1] = max_len;
          for (int d = 0; d < v->rank; d++) dims[2 + d] = v->dims[d];
          st = oxrt_tensor_new_zero(v->dtype, v->rank + 2, dims, &res[ns + k]);
          if (st) break;
          first[ns + k] = v;
          out[ns + k] = NULL;
        }
        st = place_at(res[ns + k], 0, b * max_len + t, v); /* rows of [batch*max_len, ...] */
      }
      for (int i = 0; i < g->n_outputs; i++) {
        oxrt_value_free(out[i]);
        out[i] = NULL;
      }
    }
    /* final states of this row */
    for (int i = 0; i < ns && !st; i++) {
      if (!oxrt_output_wanted(ctx, i)) continue;
      const oxrt_value *v = in[i];
      if (!v || v->kind != OXRT_KIND_TENSOR) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "state %d must be a tensor", i);
        break;
      }
      if (!res[i]) {
        int64_t dims[OXRT_MAX_RANK];
        if (v->rank + 1 > OXRT_MAX_RANK) {
          st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "state rank too large");
          break;
        }
        dims[0] = batch;
        for (int d = 0; d < v->rank; d++) dims[1 + d] = v->dims[d];
        st = oxrt_tensor_new_zero(v->dtype, v->rank + 1, dims, &res[i]);
        if (st) break;
      } else if (res[i]->count != (size_t)batch * v->count || res[i]->dtype != v->dtype) {
        st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "state %d changes shape between batch rows", i);
        break;
      }
      st = place_at(res[i], 0, b, v);
    }
    for (int i = 0; i < ns; i++) {
      if (own[i]) oxrt_value_free((oxrt_value *)in[i]);
      in[i] = NULL;
      own[i] = false;
    }
  }
  /* hand out; outputs never filled (batch 0 or no iteration) get their declared shape */
  for (int o = 0; !st && o < ctx->n_outputs; o++) {
    if (!oxrt_output_wanted(ctx, o)) continue;
    if (res[o]) {
      st = oxrt_set_output(ctx, o, res[o]);
      res[o] = NULL;
    } else if (o < ns) {
      const oxrt_value *x = ctx->inputs[1 + o];
      st = oxrt_output_copy(ctx, o, x, x->rank, x->dims);
    } else {
      int64_t lead[2] = {batch < 0 ? 0 : batch, max_len < 0 ? 0 : max_len};
      st = empty_scan_output(ctx, o, &g->values[g->outputs[o]], 0, lead, 2, false);
    }
  }
done:
  if (own)
    for (int i = 0; i < ns; i++)
      if (own[i]) oxrt_value_free((oxrt_value *)in[i]);
  if (out && res && first)
    for (int i = 0; i < g->n_outputs; i++) {
      oxrt_value_free(out[i]);
      oxrt_value_free(res[i]);
      oxrt_value_free(first[i]);
    }
  free(in), free(own), free(out), free(res), free(first);
  return st;
}

static const oxrt_op_impl scan_impls[] = {
    {.since_version = 8, .prepare = scan_prepare, .run = scan8_run, .release = scan_release},
    {.since_version = 9, .prepare = scan_prepare, .run = scan9_run, .release = scan_release},
};

/* Opset 9+: the body sees the state values and one slice of each scan input (its scan axis removed); scan
 * outputs get the sequence length inserted at their scan_output_axes. Opset 8 (batched) is shaped at run time. */
static oxrt_status *infer_scan(oxrt_infer_ctx *ctx) {
  const oxrt_node *n = ctx->node;
  const oxrt_attr *ba = oxrt_node_attr(n, "body");
  int64_t m = oxrt_attr_int(n, "num_scan_inputs", 0);
  if (ctx->opset < 9 || !ba || !ba->g || m < 0 || m > n->n_inputs) return NULL;
  oxrt_graph *body = ba->g;
  int n_state = n->n_inputs - (int)m;
  if (body->n_inputs != n->n_inputs || body->n_outputs != n->n_outputs || n_state > n->n_outputs) return NULL;
  size_t nia, noa;
  const int64_t *in_axes = oxrt_attr_ints(n, "scan_input_axes", &nia);
  const int64_t *out_axes = oxrt_attr_ints(n, "scan_output_axes", &noa);
  oxrt_tshape *formal = calloc((size_t)body->n_inputs + (size_t)body->n_outputs + 1, sizeof *formal);
  if (!formal) return OXRT_OOM();
  oxrt_tshape *outs = formal + body->n_inputs, x, o;
  int64_t seq_len = -1;
  const char *seq_name = NULL;
  for (int i = 0; i < n->n_inputs; i++) {
    if (!oxrt_infer_input(ctx, i, &formal[i]) || i < n_state || formal[i].rank < 0) continue;
    x = formal[i];
    int64_t ax = in_axes && (int64_t)nia == m ? in_axes[i - n_state] : 0;
    if (ax < 0) ax += x.rank;
    if (ax < 0 || ax >= x.rank) {
      formal[i].rank = -1;
      continue;
    }
    if (i == n_state) seq_len = x.dims[ax], seq_name = x.names[ax];
    formal[i].rank = 0;
    for (int d = 0; d < x.rank; d++)
      if (d != ax) formal[i].dims[formal[i].rank] = x.dims[d], formal[i].names[formal[i].rank++] = x.names[d];
  }
  oxrt_status *st = oxrt_infer_subgraph(ctx, body, formal, body->n_inputs, outs);
  for (int k = 0; k < n->n_outputs && !st; k++) {
    const oxrt_tshape *b = &outs[k];
    if (k < n_state) {
      if (oxrt_infer_input(ctx, k, &x) && oxrt_tshape_union(&x, b, &o)) st = oxrt_infer_output(ctx, k, &o);
      continue;
    }
    if (b->elem == OXRT_UNDEFINED || b->rank >= OXRT_MAX_RANK) continue;
    o = *b;
    if (b->rank >= 0) {
      int64_t ax = out_axes && (int)noa == n->n_outputs - n_state ? out_axes[k - n_state] : 0;
      if (ax < 0) ax += b->rank + 1;
      if (ax < 0 || ax > b->rank) continue;
      o.rank = b->rank + 1;
      for (int d = 0, j = 0; d < o.rank; d++) {
        if (d == ax) o.dims[d] = seq_len, o.names[d] = seq_name;
        else o.dims[d] = b->dims[j], o.names[d] = b->names[j], j++;
      }
    }
    st = oxrt_infer_output(ctx, k, &o);
  }
  free(formal);
  return st;
}

OXRT_REGISTER_OP(Scan) = {"", "Scan", OXRT_IMPLS(scan_impls), .infer = infer_scan};
