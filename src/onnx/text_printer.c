/* text_printer.c - a model in ONNX's textual syntax, the form onnx.printer writes and onnx.parser reads.
 *
 *   <ir_version: 8, opset_import: ["" : 17]>
 *   name (float[N,3] x) => (float[N,3] y) <float[3] w = {1,2,3}, float[N,3] t> { t = Add (x, w) ... }
 *
 * Printed from the IR: names that are not plain identifiers are quoted, float tensors use the shortest text
 * that reads back to the same float, float16/bfloat16/float8 tensors print their bit patterns (which is how
 * onnx.parser stores them: in int32_data). An initializer kept in external data is printed as its entries, as
 * onnx.printer does (`float[4] w = ["location": "w.bin", "offset": "0", "length": "16"]`): its values are never
 * read. The IR does not keep those entries, so they are looked up in the serialized model.
 */
#include "../core/dtype.h"
#include "../core/status.h"
#include "onnx_reader.h"
#include "pb.h"
#include "text_format.h"
#include "version_convert.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An initializer with data_location EXTERNAL in the serialized model: the graph it belongs to (numbered in the
 * order the printer meets graphs: the main graph, the subgraphs of its nodes depth first, then those of the
 * functions' nodes), its name and its TensorProto. */
typedef struct ext_ref {
  int graph;
  pb_bytes name;
  pb_reader tensor;
} ext_ref;

typedef struct ext_table {
  ext_ref *refs;
  int n, cap;
  int n_graphs, depth;
  bool unreliable; /* the graphs could not be numbered as the printer meets them: print every value inline */
} ext_table;

typedef struct tbuf {
  char *p;
  size_t n, cap;
  bool oom;
  const ext_table *ext; /* NULL: print every initializer's values */
  int graph_no, ext_hint;
} tbuf;

static void tb_put(tbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 4096;
    while (nc < b->n + n + 1) nc *= 2;
    char *np = realloc(b->p, nc);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np, b->cap = nc;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void tb_puts(tbuf *b, const char *s) { tb_put(b, s, strlen(s)); }

static void tb_printf(tbuf *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    tb_put(b, tmp, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (!big) {
    b->oom = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  tb_put(b, big, (size_t)n);
  free(big);
}

static void indent(tbuf *b, int depth) {
  for (int i = 0; i < depth; i++) tb_puts(b, "   ");
}

/* Words the parser reads as the start of a type wherever a type may stand (before a value's name). */
static bool type_word(const char *s) {
  if (!strcmp(s, "seq") || !strcmp(s, "map") || !strcmp(s, "optional") || !strcmp(s, "sparse_tensor")) return true;
  for (int t = 1; t < OXRT_ELEM_TYPE_COUNT; t++)
    if (!strcmp(s, oxrt_elem_type_name((oxrt_elem_type)t))) return true;
  return false;
}

bool oxrt_text_is_ident(const char *s) {
  const char *w = s;
  if (!*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return !type_word(w); /* a value named "int8" is quoted, or it would read as a type */
}

static void put_quoted(tbuf *b, const char *s, size_t n) {
  tb_puts(b, "\"");
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '"' || c == '\\') tb_put(b, "\\", 1);
    tb_put(b, &c, 1);
  }
  tb_puts(b, "\"");
}

/* Identifiers joined by dots ("com.microsoft"). */
static bool dotted_ident(const char *s) {
  bool start = true;
  for (; *s; s++) {
    if (*s == '.') {
      if (start) return false;
      start = true;
    } else if (start ? (isalpha((unsigned char)*s) || *s == '_') : (isalnum((unsigned char)*s) || *s == '_')) {
      start = false;
    } else {
      return false;
    }
  }
  return !start;
}

/* A node's domain.op_type as the parser reads it back: one qualified name, quoted as a whole when a part is no
 * plain identifier (the parser splits at the last dot either way). */
static void put_op(tbuf *b, const char *domain, const char *op) {
  bool has_domain = domain && *domain;
  if ((!has_domain || dotted_ident(domain)) && oxrt_text_is_ident(op)) {
    if (has_domain) tb_puts(b, domain), tb_puts(b, ".");
    tb_puts(b, op);
    return;
  }
  size_t nd = has_domain ? strlen(domain) : 0, no = strlen(op);
  char stack[256], *q = nd + no + 2 <= sizeof stack ? stack : malloc(nd + no + 2);
  if (!q) {
    b->oom = true;
    return;
  }
  if (has_domain) memcpy(q, domain, nd), q[nd] = '.';
  memcpy(q + (has_domain ? nd + 1 : 0), op, no);
  put_quoted(b, q, (has_domain ? nd + 1 : 0) + no);
  if (q != stack) free(q);
}

/* An identifier, quoted when it is not a plain one ("x.1", "onnx::Add_0", "0"). */
static void put_id(tbuf *b, const char *s) {
  if (oxrt_text_is_ident(s)) tb_puts(b, s);
  else put_quoted(b, s, strlen(s));
}

/* Shortest decimal text that reads back to the same float. */
static void put_float(tbuf *b, double v, bool is_double) {
  char tmp[64];
  if (v != v) {
    tb_puts(b, "nan");
    return;
  }
  if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
    tb_puts(b, v > 0 ? "inf" : "-inf");
    return;
  }
  for (int prec = is_double ? 15 : 6; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, v);
    if (is_double ? strtod(tmp, NULL) == v : strtof(tmp, NULL) == (float)v) break;
  }
  tb_puts(b, tmp);
}

static void put_type(tbuf *b, const oxrt_type *t);

static void put_tensor_type(tbuf *b, oxrt_elem_type et, int rank, const int64_t *dims, char *const *params) {
  tb_puts(b, oxrt_elem_type_name(et));
  if (rank < 0) {
    tb_puts(b, "[]"); /* no shape: unknown rank */
    return;
  }
  if (rank == 0) return; /* a scalar: shape present, no dims */
  tb_puts(b, "[");
  for (int i = 0; i < rank; i++) {
    if (i) tb_puts(b, ",");
    if (dims && dims[i] >= 0) tb_printf(b, "%lld", (long long)dims[i]);
    else if (params && params[i]) put_id(b, params[i]);
    else tb_puts(b, "?");
  }
  tb_puts(b, "]");
}

static void put_type(tbuf *b, const oxrt_type *t) {
  if (!t) {
    tb_puts(b, "float[]");
    return;
  }
  switch (t->kind) {
  case OXRT_KIND_SEQUENCE:
    tb_puts(b, "seq(");
    put_type(b, t->elem);
    tb_puts(b, ")");
    break;
  case OXRT_KIND_OPTIONAL:
    tb_puts(b, "optional(");
    put_type(b, t->elem);
    tb_puts(b, ")");
    break;
  case OXRT_KIND_MAP:
    tb_printf(b, "map(%s, ", oxrt_elem_type_name(t->elem_type));
    put_type(b, t->elem);
    tb_puts(b, ")");
    break;
  case OXRT_KIND_SPARSE_TENSOR:
    tb_puts(b, "sparse_tensor(");
    put_tensor_type(b, t->elem_type, t->rank, t->dims, t->dim_params);
    tb_puts(b, ")");
    break;
  default: put_tensor_type(b, t->elem_type, t->rank, t->dims, t->dim_params); break;
  }
}

/* Element `i` of a tensor as the parser's literal. */
static void put_elem(tbuf *b, const oxrt_value *t, size_t i) {
  switch (t->dtype) {
  case OXRT_FLOAT: put_float(b, ((const float *)t->data)[i], false); break;
  case OXRT_DOUBLE: put_float(b, ((const double *)t->data)[i], true); break;
  case OXRT_STRING: {
    const char *s = ((char *const *)t->data)[i];
    put_quoted(b, s ? s : "", s ? strlen(s) : 0);
    break;
  }
  case OXRT_FLOAT16:
  case OXRT_BFLOAT16: tb_printf(b, "%u", (unsigned)((const uint16_t *)t->data)[i]); break;
  case OXRT_FLOAT8E4M3FN:
  case OXRT_FLOAT8E4M3FNUZ:
  case OXRT_FLOAT8E5M2:
  case OXRT_FLOAT8E5M2FNUZ:
  case OXRT_FLOAT8E8M0:
  case OXRT_FLOAT4E2M1: tb_printf(b, "%u", (unsigned)((const uint8_t *)t->data)[i]); break;
  case OXRT_UINT64: tb_printf(b, "%llu", (unsigned long long)((const uint64_t *)t->data)[i]); break;
  case OXRT_COMPLEX64: /* real, imaginary: the pair onnx.parser reads for one element */
    put_float(b, ((const float *)t->data)[2 * i], false);
    tb_puts(b, ",");
    put_float(b, ((const float *)t->data)[2 * i + 1], false);
    break;
  case OXRT_COMPLEX128:
    put_float(b, ((const double *)t->data)[2 * i], true);
    tb_puts(b, ",");
    put_float(b, ((const double *)t->data)[2 * i + 1], true);
    break;
  default: tb_printf(b, "%lld", (long long)oxrt_load_i64(t->dtype, t->data, i)); break;
  }
}

static void put_tensor(tbuf *b, const oxrt_value *t, const char *name) {
  put_tensor_type(b, t->dtype, t->rank, t->dims, NULL);
  if (name && *name) {
    tb_puts(b, " ");
    put_id(b, name);
  }
  tb_puts(b, " = {");
  for (size_t i = 0; i < t->count; i++) {
    if (i) tb_puts(b, ",");
    put_elem(b, t, i);
  }
  tb_puts(b, "}");
}

static void put_graph(tbuf *b, const oxrt_graph *g, int depth);

/* ------------------------------------------------------- external data */
static void scan_graph(ext_table *T, pb_reader g);

/* An attribute's graphs, where the IR holds them as the printer prints them (one `g` of a GRAPH attribute, the
 * `graphs` of a GRAPHS one); anything else holding a graph makes the numbering unsure. */
static void scan_attr(ext_table *T, pb_reader a) {
  pb_reader r = a;
  uint32_t f, w;
  uint64_t type = 0;
  bool has_type = false, ref = false;
  int n6 = 0, n11 = 0;
  while (pb_next(&r, &f, &w)) {
    if (f == 20 && w == PB_VARINT) has_type = pb_varint(&r, &type);
    else if (f == 21) ref = true, pb_skip(&r, w);
    else if ((f == 6 || f == 11) && w == PB_BYTES) (f == 6 ? n6++ : n11++), pb_skip(&r, w);
    else pb_skip(&r, w);
  }
  if (r.error) T->unreliable = true;
  if (n6 + n11 == 0 || T->unreliable) return;
  bool one_graph = (!has_type || type == OXRT_ATTR_GRAPH) && n6 == 1 && n11 == 0;
  bool graphs = has_type && type == OXRT_ATTR_GRAPHS && n6 == 0;
  if (ref || !(one_graph || graphs)) {
    T->unreliable = true;
    return;
  }
  while (pb_next(&a, &f, &w)) {
    pb_reader g;
    if ((f == 6 || f == 11) && w == PB_BYTES && pb_sub(&a, &g)) scan_graph(T, g);
    else pb_skip(&a, w);
  }
}

static void scan_node(ext_table *T, pb_reader n) {
  uint32_t f, w;
  pb_reader a;
  while (pb_next(&n, &f, &w))
    if (f == 5 && w == PB_BYTES && pb_sub(&n, &a)) scan_attr(T, a);
    else pb_skip(&n, w);
  if (n.error) T->unreliable = true;
}

static void scan_graph(ext_table *T, pb_reader g) {
  if (T->depth >= 64) { /* deeper than the reader allows */
    T->unreliable = true;
    return;
  }
  T->depth++;
  int idx = T->n_graphs++;
  uint32_t f, w;
  pb_reader sub;
  while (!T->unreliable && pb_next(&g, &f, &w)) {
    if (w != PB_BYTES || (f != 1 && f != 5) || !pb_sub(&g, &sub)) {
      pb_skip(&g, w);
      continue;
    }
    if (f == 1) {
      scan_node(T, sub);
      continue;
    }
    pb_reader t = sub;
    pb_bytes name = {0};
    uint64_t location = 0;
    while (pb_next(&t, &f, &w))
      if (f == 8 && w == PB_BYTES) pb_bytes_read(&t, &name);
      else if (f == 14 && w == PB_VARINT) pb_varint(&t, &location);
      else pb_skip(&t, w);
    if (location != 1) continue;
    if (T->n == T->cap) {
      int nc = T->cap ? T->cap * 2 : 16;
      ext_ref *na = realloc(T->refs, sizeof *na * (size_t)nc);
      if (!na) {
        T->unreliable = true; /* out of memory: values inline, as before */
        break;
      }
      T->refs = na, T->cap = nc;
    }
    T->refs[T->n++] = (ext_ref){idx, name, sub};
  }
  if (g.error) T->unreliable = true;
  T->depth--;
}

/* The external initializers of a serialized ModelProto: its graph first, then its functions' nodes. */
static void scan_model(ext_table *T, const void *data, size_t size) {
  memset(T, 0, sizeof *T);
  uint32_t f, w;
  pb_reader sub;
  int n_graphs = 0;
  for (int pass = 0; pass < 2; pass++) {
    pb_reader r = pb_init(data, size);
    while (pb_next(&r, &f, &w)) {
      if (w == PB_BYTES && f == (pass ? 25u : 7u) && pb_sub(&r, &sub)) {
        if (pass) {
          pb_reader fn = sub;
          while (pb_next(&fn, &f, &w))
            if (f == 7 && w == PB_BYTES && pb_sub(&fn, &sub)) scan_node(T, sub);
            else pb_skip(&fn, w);
        } else if (n_graphs++) {
          T->unreliable = true; /* two graph fields */
        } else {
          scan_graph(T, sub);
        }
      } else {
        pb_skip(&r, w);
      }
    }
    if (r.error) T->unreliable = true;
  }
}

/* The external data entries of initializer `name` of the graph numbered `graph`, when its TensorProto states the
 * IR tensor's element type and shape; else false. */
static bool find_external(tbuf *b, int graph, const char *name, const oxrt_value *t, pb_reader *out) {
  const ext_table *T = b->ext;
  if (!T || T->unreliable || T->n == 0) return false;
  size_t len = strlen(name);
  for (int k = 0; k < T->n; k++) {
    const ext_ref *e = &T->refs[(b->ext_hint + k) % T->n]; /* initializers mostly come in order */
    if (e->graph != graph || e->name.len != len || memcmp(e->name.data, name, len)) continue;
    pb_reader r = e->tensor;
    uint32_t f, w;
    uint64_t v, dt = 0;
    int rank = 0;
    bool same = true;
    while (pb_next(&r, &f, &w)) {
      if (f == 1 && w == PB_BYTES) {
        pb_reader d;
        if (!pb_sub(&r, &d)) return false;
        while (d.p < d.end && pb_varint(&d, &v)) same = same && rank < t->rank && t->dims[rank] == (int64_t)v, rank++;
      } else if (f == 1 && w == PB_VARINT) {
        if (!pb_varint(&r, &v)) return false;
        same = same && rank < t->rank && t->dims[rank] == (int64_t)v, rank++;
      } else if (f == 2 && w == PB_VARINT) {
        if (!pb_varint(&r, &dt)) return false;
      } else if (!pb_skip(&r, w)) {
        return false;
      }
    }
    if (r.error || !same || rank != t->rank || dt != (uint64_t)t->dtype) return false;
    b->ext_hint = (b->ext_hint + k + 1) % T->n;
    *out = e->tensor;
    return true;
  }
  return false;
}

/* `float[4] w = ["location": "w.bin", "offset": "0", "length": "16"]`: the entries in the order stored. */
static void put_external(tbuf *b, const oxrt_value *t, const char *name, pb_reader r) {
  put_tensor_type(b, t->dtype, t->rank, t->dims, NULL);
  tb_puts(b, " ");
  put_id(b, name);
  tb_puts(b, " = [");
  uint32_t f, w;
  bool first = true;
  while (pb_next(&r, &f, &w)) {
    pb_reader kv;
    if (f != 13 || w != PB_BYTES || !pb_sub(&r, &kv)) {
      pb_skip(&r, w);
      continue;
    }
    pb_bytes key = {(const uint8_t *)"", 0}, val = {(const uint8_t *)"", 0};
    while (pb_next(&kv, &f, &w))
      if (f == 1 && w == PB_BYTES) pb_bytes_read(&kv, &key);
      else if (f == 2 && w == PB_BYTES) pb_bytes_read(&kv, &val);
      else pb_skip(&kv, w);
    if (!first) tb_puts(b, ", ");
    first = false;
    put_quoted(b, (const char *)key.data, key.len);
    tb_puts(b, ": ");
    put_quoted(b, (const char *)val.data, val.len);
  }
  tb_puts(b, "]");
}

static void put_attr(tbuf *b, const oxrt_attr *a, int depth) {
  static const char *const tn[] = {"undefined", "float", "int", "string", "tensor", "graph", "floats", "ints",
                                   "strings", "tensors", "graphs", "sparse_tensor", "sparse_tensors", "type_proto",
                                   "type_protos"};
  put_id(b, a->name);
  if (a->ref_attr_name && (a->type == OXRT_ATTR_UNDEFINED || a->type > 14)) tb_puts(b, " = "); /* untyped @ref */
  else tb_printf(b, ": %s = ", a->type <= 14 ? tn[a->type] : "undefined");
  if (a->ref_attr_name) {
    tb_puts(b, "@");
    put_id(b, a->ref_attr_name); /* quoted when it is no plain identifier, as the parser reads it */
    return;
  }
  switch (a->type) {
  case OXRT_ATTR_FLOAT: put_float(b, a->f, false); break;
  case OXRT_ATTR_INT: tb_printf(b, "%lld", (long long)a->i); break;
  case OXRT_ATTR_STRING: put_quoted(b, a->s ? a->s : "", a->s ? a->s_len : 0); break;
  case OXRT_ATTR_TENSOR:
  case OXRT_ATTR_SPARSE_TENSOR:
    if (a->t) put_tensor(b, a->t, NULL);
    break;
  case OXRT_ATTR_GRAPH:
    if (a->g) put_graph(b, a->g, depth);
    break;
  case OXRT_ATTR_TYPE_PROTO: put_type(b, a->tp); break;
  case OXRT_ATTR_FLOATS:
  case OXRT_ATTR_INTS:
  case OXRT_ATTR_STRINGS:
  case OXRT_ATTR_TENSORS:
  case OXRT_ATTR_GRAPHS:
  case OXRT_ATTR_TYPE_PROTOS:
    tb_puts(b, "[");
    for (size_t i = 0; i < a->n; i++) {
      if (i) tb_puts(b, ", ");
      if (a->type == OXRT_ATTR_FLOATS) put_float(b, a->floats[i], false);
      else if (a->type == OXRT_ATTR_INTS) tb_printf(b, "%lld", (long long)a->ints[i]);
      else if (a->type == OXRT_ATTR_STRINGS)
        put_quoted(b, a->strings[i], a->string_lens ? a->string_lens[i] : strlen(a->strings[i]));
      else if (a->type == OXRT_ATTR_TENSORS) put_tensor(b, a->tensors[i], NULL);
      else if (a->type == OXRT_ATTR_GRAPHS) put_graph(b, a->graphs[i], depth);
      else put_type(b, a->tps[i]);
    }
    tb_puts(b, "]");
    break;
  default: break;
  }
}

static const char *vname(const oxrt_graph *g, int id) { return id >= 0 ? g->values[id].name : ""; }

static void put_node(tbuf *b, const oxrt_graph *g, const oxrt_node *n, int depth) {
  indent(b, depth);
  if (n->name && *n->name) {
    tb_puts(b, "[");
    put_id(b, n->name);
    tb_puts(b, "] ");
  }
  int no = n->n_outputs;
  while (no > 0 && n->outputs[no - 1] < 0) no--;
  for (int i = 0; i < no; i++) {
    if (i) tb_puts(b, ", ");
    put_id(b, vname(g, n->outputs[i]));
  }
  tb_puts(b, no ? " = " : "= ");
  put_op(b, n->domain, n->op_type);
  if (n->n_attrs) {
    tb_puts(b, " <");
    for (int a = 0; a < n->n_attrs; a++) {
      if (a) tb_puts(b, ", ");
      put_attr(b, &n->attrs[a], depth + 1);
    }
    tb_puts(b, ">");
  }
  tb_puts(b, " (");
  for (int i = 0; i < n->n_inputs; i++) {
    if (i) tb_puts(b, ", ");
    put_id(b, vname(g, n->inputs[i]));
  }
  tb_puts(b, ")\n");
}

/* `type name`; a value declared without a type prints its name only, as onnx.printer does. */
static void put_value_info(tbuf *b, const oxrt_value_def *d) {
  if (d->type && d->type->kind != OXRT_KIND_UNKNOWN) put_type(b, d->type);
  else if (d->init) put_tensor_type(b, d->init->dtype, d->init->rank, d->init->dims, NULL);
  tb_puts(b, " ");
  put_id(b, d->name);
}

static void put_nodes(tbuf *b, const oxrt_graph *g, int depth) {
  tb_puts(b, "{\n");
  for (int i = 0; i < g->n_nodes; i++) put_node(b, g, &g->nodes[i], depth + 1);
  indent(b, depth);
  tb_puts(b, "}");
}

static void put_graph(tbuf *b, const oxrt_graph *g, int depth) {
  int graph_no = b->graph_no++; /* numbered on entry, as scan_graph does */
  if (g->doc && *g->doc) { /* onnx's syntax has no graph doc_string: a comment that oxrt parse reads back */
    tb_puts(b, "# doc_string: \"");
    for (const char *c = g->doc; *c; c++) /* a comment ends at a newline: written as \n, which the parser reads */
      if (*c == '\n') tb_puts(b, "\\n");
      else if (*c == '"' || *c == '\\') tb_put(b, "\\", 1), tb_put(b, c, 1);
      else tb_put(b, c, 1);
    tb_puts(b, "\"\n");
    indent(b, depth);
  }
  put_id(b, g->name && *g->name ? g->name : "graph");
  tb_puts(b, " (");
  for (int i = 0; i < g->n_inputs; i++) {
    if (i) tb_puts(b, ", ");
    put_value_info(b, &g->values[g->inputs[i]]);
  }
  tb_puts(b, ") => (");
  for (int i = 0; i < g->n_outputs; i++) {
    if (i) tb_puts(b, ", ");
    put_value_info(b, &g->values[g->outputs[i]]);
  }
  tb_puts(b, ")");
  /* initializers, then value_info of intermediate values */
  bool any = false;
  for (int v = 0; v < g->n_values; v++) {
    const oxrt_value_def *d = &g->values[v];
    bool init = d->init && !d->is_outer;
    bool vi = !d->init && !d->is_input && !d->is_output && !d->is_outer && d->type && d->type->kind != OXRT_KIND_UNKNOWN;
    if (!init && !vi) continue;
    tb_puts(b, any ? ", " : "\n");
    if (!any) {
      indent(b, depth + 1);
      tb_puts(b, "<");
    }
    any = true;
    pb_reader ext;
    if (init && find_external(b, graph_no, d->name, d->init, &ext)) put_external(b, d->init, d->name, ext);
    else if (init) put_tensor(b, d->init, d->name);
    else put_value_info(b, d);
  }
  if (any) tb_puts(b, ">");
  tb_puts(b, "\n");
  indent(b, depth);
  put_nodes(b, g, depth);
}

static void put_opsets(tbuf *b, const oxrt_opset *os, int n) {
  tb_puts(b, "opset_import: [");
  for (int i = 0; i < n; i++) {
    if (i) tb_puts(b, ", ");
    put_quoted(b, os[i].domain, strlen(os[i].domain));
    tb_printf(b, " : %lld", (long long)os[i].version);
  }
  tb_puts(b, "]");
}

static void put_function(tbuf *b, const oxrt_function *fn) {
  tb_puts(b, "<\n  domain: ");
  put_quoted(b, fn->domain, strlen(fn->domain));
  tb_puts(b, ",\n  ");
  put_opsets(b, fn->opsets, fn->n_opsets);
  tb_puts(b, "\n>\n");
  put_id(b, fn->name);
  if (fn->n_attr_names) {
    tb_puts(b, " <");
    for (int i = 0; i < fn->n_attr_names; i++) {
      if (i) tb_puts(b, ", ");
      put_id(b, fn->attr_names[i]);
    }
    tb_puts(b, ">");
  }
  tb_puts(b, " (");
  for (int i = 0; i < fn->n_inputs; i++) {
    if (i) tb_puts(b, ", ");
    put_id(b, fn->inputs[i]);
  }
  tb_puts(b, ") => (");
  for (int i = 0; i < fn->n_outputs; i++) {
    if (i) tb_puts(b, ", ");
    put_id(b, fn->outputs[i]);
  }
  tb_puts(b, ")\n");
  put_nodes(b, fn->body, 0);
  tb_puts(b, "\n");
}

static void put_kv_str(tbuf *b, const char *key, const char *v) {
  if (!v || !*v) return;
  tb_printf(b, ",\n   %s: ", key);
  put_quoted(b, v, strlen(v));
}

/* `raw` (may be NULL): the serialized model `m` was read from, for the external data entries. */
static oxrt_status *text_print(const oxrt_model *m, const void *raw, size_t raw_size, char **out) {
  ext_table T;
  tbuf b = {0};
  if (raw) {
    scan_model(&T, raw, raw_size);
    b.ext = &T;
  }
  tb_printf(&b, "<\n   ir_version: %lld,\n   ", (long long)m->ir_version);
  put_opsets(&b, m->opsets, m->n_opsets);
  put_kv_str(&b, "producer_name", m->producer_name);
  put_kv_str(&b, "producer_version", m->producer_version);
  put_kv_str(&b, "domain", m->domain);
  if (m->model_version) tb_printf(&b, ",\n   model_version: %lld", (long long)m->model_version);
  put_kv_str(&b, "doc_string", m->doc);
  if (m->n_meta) {
    tb_puts(&b, ",\n   metadata_props: [");
    for (int i = 0; i < m->n_meta; i++) {
      if (i) tb_puts(&b, ", ");
      put_quoted(&b, m->meta_keys[i], strlen(m->meta_keys[i]));
      tb_puts(&b, ": ");
      put_quoted(&b, m->meta_values[i], strlen(m->meta_values[i]));
    }
    tb_puts(&b, "]");
  }
  tb_puts(&b, "\n>\n");
  put_graph(&b, m->graph, 0);
  tb_puts(&b, "\n");
  for (int i = 0; i < m->n_functions; i++) put_function(&b, &m->functions[i]);
  if (raw) free(T.refs);
  if (b.oom) {
    free(b.p);
    return OXRT_OOM();
  }
  *out = b.p;
  return NULL;
}

oxrt_status *oxrt_text_print(const oxrt_model *m, char **out) { return text_print(m, NULL, 0, out); }

oxrt_status *oxrt_print_model_bytes(const void *data, size_t size, char **text) {
  if (!data || !text) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "data and text must not be NULL");
  oxrt_tensor_src src = {.borrow = true, .base_dir = "."};
  oxrt_model *m;
  OXRT_TRY(oxrt_read_model(data, size, &src, &m));
  oxrt_status *st = text_print(m, data, size, text);
  oxrt_model_free(m);
  return st;
}

oxrt_status *oxrt_print_model_file(const char *model_path, char **text) {
  if (!model_path || !text) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "model_path and text must not be NULL");
  oxrt_model *m;
  OXRT_TRY(oxrt_load_model_file(model_path, &m));
  oxrt_status *st = text_print(m, m->map_base, m->map_size, text);
  oxrt_model_free(m);
  return st;
}
