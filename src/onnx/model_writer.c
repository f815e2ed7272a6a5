/* model_writer.c - IR -> ModelProto: the protobuf wire writer and the message encoders.
 *
 * Nested messages are written in place: a length slot of 5 bytes is reserved,
 * the body written after it, and the body moved down once its length is known
 * (so no message is encoded twice). Raw tensor bytes are little-endian;
 * sub-byte types (int4, uint4, float4, int2, uint2) are packed low bits first;
 * string tensors use string_data. Large initializers may go to an external
 * data file, 64-byte aligned so the reader can reference them in place.
 */
#include "onnx_writer.h"
#include "pb.h"
#include "../core/dtype.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_int(pb_writer *b, uint32_t field, int64_t v) {
  pb_put_key(b, field, PB_VARINT);
  pb_put_varint(b, (uint64_t)v);
}

/* A string field, always written (empty strings keep positions, e.g. omitted node inputs). */
static void put_str(pb_writer *b, uint32_t field, const char *s) {
  pb_put_bytes(b, field, s ? s : "", s ? strlen(s) : 0);
}
/* A string field written only when non-empty (optional scalar fields). */
static void put_opt_str(pb_writer *b, uint32_t field, const char *s) {
  if (s && *s) put_str(b, field, s);
}

#define SLOT 5 /* bytes reserved for a nested message's length: up to 32 GiB */

static size_t begin(pb_writer *b, uint32_t field) {
  pb_put_key(b, field, PB_BYTES);
  if (!pb_reserve(b, SLOT)) return 0;
  size_t mark = b->n;
  b->n += SLOT;
  return mark;
}

static void end(pb_writer *b, size_t mark) {
  if (b->oom) return;
  size_t len = b->n - mark - SLOT;
  if ((uint64_t)len >> 35) { /* size_t may be 32-bit */
    b->oom = true; /* cannot happen in practice: protobuf messages are limited to 2 GiB */
    return;
  }
  uint8_t tmp[SLOT];
  size_t vl = 0;
  uint64_t v = len;
  do {
    tmp[vl++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  memcpy(b->p + mark, tmp, vl);
  if (vl < SLOT) memmove(b->p + mark + vl, b->p + mark + SLOT, len);
  b->n -= SLOT - vl;
}

/* ------------------------------------------------------------------ writer */
typedef struct writer {
  pb_writer b;
  const oxrt_write_options *opts;
  int64_t ir_version;
  FILE *ext;            /* external data file, or NULL */
  const char *ext_name; /* its location as written in the model */
  uint64_t ext_off;
  oxrt_status *err;
} writer;

static bool host_is_le(void) {
  const uint16_t one = 1;
  uint8_t first;
  memcpy(&first, &one, 1);
  return first == 1;
}

static int pack_factor(oxrt_elem_type t) {
  if (t == OXRT_INT4 || t == OXRT_UINT4 || t == OXRT_FLOAT4E2M1) return 2;
  if (t == OXRT_INT2 || t == OXRT_UINT2) return 4;
  return 1;
}

/* Bytes of a tensor's raw_data: a pointer into the tensor when it can be written
 * as is, else a malloc'd copy in *tmp (packed sub-byte values, or byte-swapped
 * on a big-endian host). */
static const uint8_t *raw_bytes(const oxrt_value *t, size_t *len, uint8_t **tmp) {
  *tmp = NULL;
  int per = pack_factor(t->dtype);
  if (per > 1) {
    size_t n = (t->count + (size_t)per - 1) / (size_t)per, bits = 8 / (size_t)per;
    uint8_t *p = calloc(n + 1, 1);
    if (!p) return NULL;
    const uint8_t *src = t->data;
    uint8_t mask = (uint8_t)((1u << bits) - 1);
    for (size_t i = 0; i < t->count; i++) p[i / (size_t)per] |= (uint8_t)((src[i] & mask) << ((i % (size_t)per) * bits));
    *tmp = p;
    *len = n;
    return p;
  }
  size_t es = oxrt_elem_type_size(t->dtype);
  *len = t->count * es;
  if (es <= 1 || host_is_le()) return t->data ? t->data : (const uint8_t *)"";
  size_t unit = t->dtype == OXRT_COMPLEX64 ? 4 : t->dtype == OXRT_COMPLEX128 ? 8 : es;
  uint8_t *p = malloc(*len + 1);
  if (!p) return NULL;
  const uint8_t *src = t->data;
  for (size_t i = 0; i < *len; i += unit)
    for (size_t k = 0; k < unit; k++) p[i + k] = src[i + unit - 1 - k];
  *tmp = p;
  return p;
}

static void put_packed_dims(pb_writer *b, uint32_t field, const int64_t *dims, int rank) {
  if (rank <= 0) return;
  size_t m = begin(b, field);
  for (int i = 0; i < rank; i++) pb_put_varint(b, (uint64_t)dims[i]);
  end(b, m);
}

static void put_kv(pb_writer *b, uint32_t field, const char *k, const char *v) {
  size_t m = begin(b, field);
  put_str(b, 1, k);
  put_str(b, 2, v);
  end(b, m);
}

/* TensorProto body (without its own key/length). */
static void tensor_body(writer *w, const oxrt_value *t, const char *name, bool allow_external) {
  pb_writer *b = &w->b;
  put_packed_dims(b, 1, t->dims, t->rank);
  put_int(b, 2, t->dtype);
  put_opt_str(b, 8, name);
  if (t->dtype == OXRT_STRING) {
    char **s = t->data;
    for (size_t i = 0; i < t->count; i++) put_str(b, 6, s && s[i] ? s[i] : "");
    return;
  }
  uint8_t *tmp;
  size_t len;
  const uint8_t *raw = raw_bytes(t, &len, &tmp);
  if (!raw) {
    b->oom = true;
    return;
  }
  if (allow_external && w->ext && w->opts && w->opts->external_threshold && len >= w->opts->external_threshold) {
    static const uint8_t zeros[64];
    uint64_t pad = (64 - w->ext_off % 64) % 64;
    if ((pad && fwrite(zeros, 1, (size_t)pad, w->ext) != pad) || fwrite(raw, 1, len, w->ext) != len) {
      if (!w->err) w->err = oxrt_error(OXRT_ERR_IO, "cannot write external data file '%s': %s", w->ext_name, strerror(errno));
    }
    w->ext_off += pad;
    char num[32];
    size_t m = begin(b, 13);
    put_str(b, 1, "location");
    put_str(b, 2, w->ext_name);
    end(b, m);
    snprintf(num, sizeof num, "%llu", (unsigned long long)w->ext_off);
    put_kv(b, 13, "offset", num);
    snprintf(num, sizeof num, "%zu", len);
    put_kv(b, 13, "length", num);
    put_int(b, 14, 1); /* data_location = EXTERNAL */
    w->ext_off += len;
  } else {
    pb_put_bytes(b, 9, raw, len);
  }
  free(tmp);
}

static void put_tensor(writer *w, uint32_t field, const oxrt_value *t, const char *name, bool allow_external) {
  size_t m = begin(&w->b, field);
  tensor_body(w, t, name, allow_external);
  end(&w->b, m);
}

/* A dense tensor as a SparseTensorProto (COO, linear indices) for sparse attributes. */
static void put_sparse(writer *w, uint32_t field, const oxrt_value *t) {
  pb_writer *b = &w->b;
  size_t es = oxrt_elem_type_size(t->dtype), nnz = 0;
  const uint8_t *d = t->data;
  static const uint8_t zero[16];
  for (size_t i = 0; i < t->count; i++)
    if (t->dtype == OXRT_STRING ? ((char **)t->data)[i][0] != 0 : memcmp(d + i * es, zero, es) != 0) nnz++;
  int64_t n = (int64_t)nnz;
  oxrt_value *vals = NULL, *idx = NULL;
  if (oxrt_tensor_new(t->dtype, 1, &n, &vals) || oxrt_tensor_new(OXRT_INT64, 1, &n, &idx)) {
    oxrt_value_free(vals);
    b->oom = true;
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < t->count; i++) {
    bool nz = t->dtype == OXRT_STRING ? ((char **)t->data)[i][0] != 0 : memcmp(d + i * es, zero, es) != 0;
    if (!nz) continue;
    if (t->dtype == OXRT_STRING) oxrt_value_set_string(vals, k, ((char **)t->data)[i], strlen(((char **)t->data)[i]));
    else memcpy((uint8_t *)vals->data + k * es, d + i * es, es);
    ((int64_t *)idx->data)[k++] = (int64_t)i;
  }
  size_t m = begin(b, field);
  put_tensor(w, 1, vals, NULL, false);
  put_tensor(w, 2, idx, NULL, false);
  put_packed_dims(b, 3, t->dims, t->rank);
  end(b, m);
  oxrt_value_free(vals);
  oxrt_value_free(idx);
}

/* ------------------------------------------------------------------ types */
static void type_body(pb_writer *b, const oxrt_type *t);

static void put_type(pb_writer *b, uint32_t field, const oxrt_type *t) {
  size_t m = begin(b, field);
  type_body(b, t);
  end(b, m);
}

static void put_shape(pb_writer *b, int rank, const int64_t *dims, char *const *params) {
  size_t m = begin(b, 2);
  for (int i = 0; i < rank; i++) {
    size_t d = begin(b, 1);
    if (dims && dims[i] >= 0) put_int(b, 1, dims[i]);
    else if (params && params[i]) put_str(b, 2, params[i]);
    end(b, d);
  }
  end(b, m);
}

static void type_body(pb_writer *b, const oxrt_type *t) {
  size_t m;
  switch (t->kind) {
  case OXRT_KIND_TENSOR:
  case OXRT_KIND_SPARSE_TENSOR:
    m = begin(b, t->kind == OXRT_KIND_TENSOR ? 1 : 8);
    if (t->elem_type != OXRT_UNDEFINED) put_int(b, 1, t->elem_type);
    if (t->rank >= 0) put_shape(b, t->rank, t->dims, t->dim_params);
    end(b, m);
    break;
  case OXRT_KIND_SEQUENCE:
  case OXRT_KIND_OPTIONAL:
    m = begin(b, t->kind == OXRT_KIND_SEQUENCE ? 4 : 9);
    if (t->elem) put_type(b, 1, t->elem);
    end(b, m);
    break;
  case OXRT_KIND_MAP:
    m = begin(b, 5);
    put_int(b, 1, t->elem_type);
    if (t->elem) put_type(b, 2, t->elem);
    end(b, m);
    break;
  default: break;
  }
}

/* ValueInfoProto of a graph value: its declared type, or the initializer's. */
static void put_value_info(pb_writer *b, uint32_t field, const oxrt_value_def *d) {
  size_t m = begin(b, field);
  put_str(b, 1, d->name);
  if (d->type && d->type->kind != OXRT_KIND_UNKNOWN) {
    put_type(b, 2, d->type);
  } else if (d->init && d->init->kind == OXRT_KIND_TENSOR) {
    size_t t = begin(b, 2), tt = begin(b, 1);
    put_int(b, 1, d->init->dtype);
    put_shape(b, d->init->rank, d->init->dims, NULL);
    end(b, tt);
    end(b, t);
  }
  end(b, m);
}

/* --------------------------------------------------------- graphs, nodes */
static void graph_body(writer *w, const oxrt_graph *g);

static void put_graph(writer *w, uint32_t field, const oxrt_graph *g) {
  size_t m = begin(&w->b, field);
  graph_body(w, g);
  end(&w->b, m);
}

static void put_attr(writer *w, const oxrt_attr *at) {
  pb_writer *b = &w->b;
  size_t m = begin(b, 5);
  put_str(b, 1, at->name);
  put_int(b, 20, at->type);
  if (at->ref_attr_name) {
    put_str(b, 21, at->ref_attr_name);
    end(b, m);
    return;
  }
  size_t p;
  switch (at->type) {
  case OXRT_ATTR_FLOAT: {
    uint32_t u;
    memcpy(&u, &at->f, 4);
    uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pb_put_key(b, 2, PB_FIXED32);
    pb_put(b, le, 4);
    break;
  }
  case OXRT_ATTR_INT: put_int(b, 3, at->i); break;
  case OXRT_ATTR_STRING: pb_put_bytes(b, 4, at->s ? at->s : "", at->s ? at->s_len : 0); break;
  case OXRT_ATTR_TENSOR:
    if (at->t) put_tensor(w, 5, at->t, NULL, false);
    break;
  case OXRT_ATTR_GRAPH:
    if (at->g) put_graph(w, 6, at->g);
    break;
  case OXRT_ATTR_SPARSE_TENSOR:
    if (at->t) put_sparse(w, 22, at->t);
    break;
  case OXRT_ATTR_TYPE_PROTO:
    if (at->tp) put_type(b, 14, at->tp);
    break;
  case OXRT_ATTR_FLOATS:
    p = begin(b, 7);
    for (size_t i = 0; i < at->n; i++) {
      uint32_t u;
      memcpy(&u, &at->floats[i], 4);
      uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
      pb_put(b, le, 4);
    }
    end(b, p);
    break;
  case OXRT_ATTR_INTS:
    p = begin(b, 8);
    for (size_t i = 0; i < at->n; i++) pb_put_varint(b, (uint64_t)at->ints[i]);
    end(b, p);
    break;
  case OXRT_ATTR_STRINGS:
    for (size_t i = 0; i < at->n; i++)
      pb_put_bytes(b, 9, at->strings[i], at->string_lens ? at->string_lens[i] : strlen(at->strings[i]));
    break;
  case OXRT_ATTR_TENSORS:
    for (size_t i = 0; i < at->n; i++) put_tensor(w, 10, at->tensors[i], NULL, false);
    break;
  case OXRT_ATTR_GRAPHS:
    for (size_t i = 0; i < at->n; i++) put_graph(w, 11, at->graphs[i]);
    break;
  case OXRT_ATTR_TYPE_PROTOS:
    for (size_t i = 0; i < at->n; i++) put_type(b, 15, at->tps[i]);
    break;
  default: break; /* sparse_tensors are not kept by the reader */
  }
  end(b, m);
}

static void put_node(writer *w, uint32_t field, const oxrt_graph *g, const oxrt_node *n) {
  pb_writer *b = &w->b;
  size_t m = begin(b, field);
  for (int i = 0; i < n->n_inputs; i++) put_str(b, 1, n->inputs[i] >= 0 ? g->values[n->inputs[i]].name : "");
  /* trailing omitted outputs are dropped; inner ones keep their position */
  int no = n->n_outputs;
  while (no > 0 && n->outputs[no - 1] < 0) no--;
  for (int i = 0; i < no; i++) put_str(b, 2, n->outputs[i] >= 0 ? g->values[n->outputs[i]].name : "");
  put_opt_str(b, 3, n->name);
  put_str(b, 4, n->op_type);
  for (int a = 0; a < n->n_attrs; a++) put_attr(w, &n->attrs[a]);
  put_opt_str(b, 7, n->domain);
  end(b, m);
}

static void graph_body(writer *w, const oxrt_graph *g) {
  pb_writer *b = &w->b;
  bool *produced = calloc((size_t)g->n_values + 1, 1);
  if (!produced) {
    b->oom = true;
    return;
  }
  for (int i = 0; i < g->n_nodes; i++) {
    put_node(w, 1, g, &g->nodes[i]);
    for (int k = 0; k < g->nodes[i].n_outputs; k++)
      if (g->nodes[i].outputs[k] >= 0) produced[g->nodes[i].outputs[k]] = true;
  }
  put_str(b, 2, g->name && *g->name ? g->name : "graph");
  for (int v = 0; v < g->n_values; v++) {
    const oxrt_value_def *d = &g->values[v];
    if (d->init && !d->is_outer) put_tensor(w, 5, d->init, d->name, true);
  }
  put_opt_str(b, 10, g->doc);
  for (int i = 0; i < g->n_inputs; i++) put_value_info(b, 11, &g->values[g->inputs[i]]);
  /* IR < 4 requires every initializer to be listed as a graph input too */
  if (w->ir_version < 4)
    for (int v = 0; v < g->n_values; v++)
      if (g->values[v].init && !g->values[v].is_outer && !g->values[v].is_input) put_value_info(b, 11, &g->values[v]);
  for (int i = 0; i < g->n_outputs; i++) put_value_info(b, 12, &g->values[g->outputs[i]]);
  if (!(w->opts && w->opts->skip_value_info))
    for (int v = 0; v < g->n_values; v++) {
      const oxrt_value_def *d = &g->values[v];
      if (!produced[v] || d->is_input || d->is_output || d->init || !d->type || d->type->kind == OXRT_KIND_UNKNOWN)
        continue;
      put_value_info(b, 13, d);
    }
  free(produced);
}

static void put_opset(pb_writer *b, uint32_t field, const oxrt_opset *o) {
  size_t m = begin(b, field);
  put_opt_str(b, 1, o->domain);
  put_int(b, 2, o->version);
  end(b, m);
}

static void put_function(writer *w, const oxrt_function *fn) {
  pb_writer *b = &w->b;
  const oxrt_graph *body = fn->body;
  size_t m = begin(b, 25);
  put_str(b, 1, fn->name);
  for (int i = 0; i < fn->n_inputs; i++) put_str(b, 4, fn->inputs[i]);
  for (int i = 0; i < fn->n_outputs; i++) put_str(b, 5, fn->outputs[i]);
  for (int i = 0; i < fn->n_attr_names; i++) put_str(b, 6, fn->attr_names[i]);
  for (int i = 0; body && i < body->n_nodes; i++) put_node(w, 7, body, &body->nodes[i]);
  for (int i = 0; i < fn->n_opsets; i++) put_opset(b, 9, &fn->opsets[i]);
  put_opt_str(b, 10, fn->domain);
  for (int i = 0; i < fn->n_attr_defaults; i++) {
    /* attribute_proto (field 11) shares AttributeProto's layout; put_attr writes field 5, so re-key it */
    size_t before = b->n;
    put_attr(w, &fn->attr_defaults[i]);
    if (!b->oom && b->n > before) b->p[before] = (uint8_t)((11u << 3) | PB_BYTES);
  }
  put_opt_str(b, 13, fn->overload);
  end(b, m);
}

static void model_body(writer *w, const oxrt_model *m) {
  pb_writer *b = &w->b;
  w->ir_version = m->ir_version;
  put_int(b, 1, m->ir_version);
  put_opt_str(b, 2, m->producer_name);
  put_opt_str(b, 3, m->producer_version);
  put_opt_str(b, 4, m->domain);
  if (m->model_version) put_int(b, 5, m->model_version);
  put_opt_str(b, 6, m->doc);
  if (m->graph) put_graph(w, 7, m->graph);
  for (int i = 0; i < m->n_opsets; i++) put_opset(b, 8, &m->opsets[i]);
  for (int i = 0; i < m->n_meta; i++) put_kv(b, 14, m->meta_keys[i], m->meta_values[i]);
  for (int i = 0; i < m->n_functions; i++) put_function(w, &m->functions[i]);
}

static oxrt_status *finish(writer *w, uint8_t **data, size_t *size) {
  if (w->err || w->b.oom) {
    free(w->b.p);
    if (w->err) return w->err;
    return OXRT_OOM();
  }
  *data = w->b.p;
  *size = w->b.n;
  return NULL;
}

oxrt_status *oxrt_serialize_model(const oxrt_model *m, uint8_t **data, size_t *size) {
  if (!m || !data || !size) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "NULL argument");
  writer w = {0};
  model_body(&w, m);
  return finish(&w, data, size);
}

static oxrt_status *write_all(const char *path, const uint8_t *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return oxrt_error(OXRT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
  bool ok = fwrite(p, 1, n, f) == n;
  ok = (fclose(f) == 0) && ok;
  if (!ok) {
    remove(path);
    return oxrt_error(OXRT_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  }
  return NULL;
}

oxrt_status *oxrt_write_model(const oxrt_model *m, const char *path, const oxrt_write_options *opts) {
  if (!m || !path || !*path) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model and path must be given");
  writer w = {0};
  w.opts = opts;
  char ext_name[1024], ext_path[2048], ext_tmp[2100], tmp_path[2100];
  /* Everything goes to temporary files renamed at the end: the source model
   * (or its data file) may be the very file being replaced, and still mapped. */
  snprintf(tmp_path, sizeof tmp_path, "%s.tmp%ld", path, (long)getpid());
  if (opts && opts->external_threshold) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (opts->external_file && *opts->external_file) snprintf(ext_name, sizeof ext_name, "%s", opts->external_file);
    else snprintf(ext_name, sizeof ext_name, "%s.data", base);
    if (strchr(ext_name, '/') || strcmp(ext_name, "..") == 0)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "external data file '%s' must be a plain file name", ext_name);
    if (slash) snprintf(ext_path, sizeof ext_path, "%.*s/%s", (int)(slash - path), path, ext_name);
    else snprintf(ext_path, sizeof ext_path, "%s", ext_name);
    snprintf(ext_tmp, sizeof ext_tmp, "%s.tmp%ld", ext_path, (long)getpid());
    w.ext = fopen(ext_tmp, "wb");
    if (!w.ext) return oxrt_error(OXRT_ERR_IO, "cannot create external data file '%s': %s", ext_tmp, strerror(errno));
    w.ext_name = ext_name;
  }
  model_body(&w, m);
  if (w.ext) {
    if (fclose(w.ext) != 0 && !w.err)
      w.err = oxrt_error(OXRT_ERR_IO, "cannot write external data file '%s': %s", ext_path, strerror(errno));
    w.ext = NULL;
  }
  uint8_t *data = NULL;
  size_t size = 0;
  oxrt_status *st = finish(&w, &data, &size);
  if (!st) {
    st = write_all(tmp_path, data, size);
    free(data);
  }
  if (!st && opts && opts->external_threshold && rename(ext_tmp, ext_path) != 0)
    st = oxrt_error(OXRT_ERR_IO, "cannot create '%s': %s", ext_path, strerror(errno));
  if (!st && rename(tmp_path, path) != 0) st = oxrt_error(OXRT_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
  if (st) {
    remove(tmp_path);
    if (opts && opts->external_threshold) remove(ext_tmp);
  }
  return st;
}
