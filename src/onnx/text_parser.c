/* text_parser.c - ONNX's textual syntax (what onnx.parser reads and onnx.printer writes) into the IR.
 *
 *   model    ::= ('<' key ':' value, ... '>')? graph function*
 *   graph    ::= id '(' type id, ... ')' '=>' '(' type id, ... ')' ('<' tensor-or-value-info, ... '>')? '{' node* '}'
 *   node     ::= ('[' id ']')? id, ... '=' (domain '.')? op ('<' attr, ... '>')? '(' id, ... ')' ('<' attr, ... '>')?
 *   attr     ::= id (':' attr-type)? '=' value | '@' id
 *   function ::= ('<' key ':' value, ... '>')? id ('<' id, ... '>')? '(' id, ... ')' '=>' '(' id, ... ')' '{' node* '}'
 * A type is `float[N,3,?]` (a shape), `float[]` (no shape), `float` (a scalar), seq(T), map(K, T), optional(T),
 * sparse_tensor(T). Names may be quoted. Every error gives the line and column.
 * An initializer kept in external data is written as its entries, as onnx.printer does:
 *   <float[4] w = ["location": "w.bin", "offset": "0", "length": "16"]>
 * Only oxrt_parse_model_text keeps them (the IR has no place for a reference): the location is then relative to
 * the folder the written model goes to.
 */
#include "../core/dtype.h"
#include "../core/status.h"
#include "onnx_writer.h"
#include "pb.h"
#include "text_format.h"
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An initializer written as external data entries: the IR holds a placeholder (below) that
 * oxrt_parse_model_text replaces with a TensorProto made from these. */
typedef struct ext_init {
  const char *name;
  const oxrt_type *type; /* a tensor type with fixed dims */
  int n_kv;
  const char **kv; /* key, value, key, value, ... */
} ext_init;

/* The placeholder: int64[2] {EXT_MAGIC, index into the parser's ext_init list}. */
#define EXT_MAGIC 0x7478652e7472786fULL /* "oxrt.ext" */

typedef struct parser {
  const char *s, *p;
  oxrt_model *m;
  oxrt_arena *a;
  oxrt_status *err;
  int depth; /* nesting of types and graphs, bounded against hostile input */
  /* the last `# doc_string: "..."` comment (its quote) and where the blanks after it end: a graph that starts
   * there takes it as its doc_string (onnx's syntax has no place for a graph's doc_string; onnx.parser skips it) */
  const char *doc_at, *doc_after;
  bool keep_ext; /* external data entries allowed (oxrt_parse_model_text) */
  ext_init *ext;
  int n_ext, cap_ext;
} parser;

static void where(const parser *P, int *line, int *col) {
  *line = 1, *col = 1;
  for (const char *q = P->s; q < P->p; q++) {
    if (*q == '\n') (*line)++, *col = 1;
    else (*col)++;
  }
}

static bool fail(parser *P, const char *what) {
  if (P->err) return false;
  int line, col;
  where(P, &line, &col);
  char got[24];
  size_t n = 0;
  while (P->p[n] && P->p[n] != '\n' && n < 20) n++;
  memcpy(got, P->p, n);
  got[n] = 0;
  P->err = oxrt_error(OXRT_ERR_INVALID_MODEL, "line %d, column %d: expected %s, found '%s'", line, col, what,
                      *P->p ? got : "end of text");
  return false;
}

static bool oom(parser *P) {
  if (!P->err) P->err = OXRT_OOM();
  return false;
}

static char *parse_string(parser *P, size_t *len);

static void skip_ws(parser *P) {
  if (P->p != P->doc_after) P->doc_at = NULL; /* a token came between: the comment was someone else's */
  for (;;) {
    while (isspace((unsigned char)*P->p)) P->p++;
    if (*P->p != '#') break;
    const char *q = P->p + 1;
    while (*q == ' ') q++;
    if (!strncmp(q, "doc_string:", 11)) {
      for (q += 11; *q == ' ';) q++;
      P->doc_at = *q == '"' ? q : NULL;
    }
    while (*P->p && *P->p != '\n') P->p++;
  }
  P->doc_after = P->p;
}

/* The doc_string comment right before the current position, or "" (never NULL). */
static const char *take_doc(parser *P) {
  skip_ws(P);
  if (!P->doc_at || P->doc_after != P->p) return "";
  const char *here = P->p;
  P->p = P->doc_at;
  P->doc_at = NULL;
  size_t len;
  char *doc = parse_string(P, &len);
  P->p = here;
  P->doc_after = NULL;
  return doc ? doc : "";
}

static bool peek(parser *P, const char *tok) {
  skip_ws(P);
  return strncmp(P->p, tok, strlen(tok)) == 0;
}

static bool accept(parser *P, const char *tok) {
  if (!peek(P, tok)) return false;
  P->p += strlen(tok);
  return true;
}

static bool expect(parser *P, const char *tok) {
  if (accept(P, tok)) return true;
  char what[32];
  snprintf(what, sizeof what, "'%s'", tok);
  return fail(P, what);
}

static bool is_id_char(char c, bool dots) { return isalnum((unsigned char)c) || c == '_' || (dots && c == '.'); }

/* A quoted string (escapes \" \\ \n \t); sets *len. */
static char *parse_string(parser *P, size_t *len) {
  skip_ws(P);
  if (*P->p != '"') return fail(P, "a quoted string"), NULL;
  const char *q = ++P->p;
  size_t n = 0;
  while (*q && *q != '"') {
    if (*q == '\\' && q[1]) q++;
    q++, n++;
  }
  if (*q != '"') return fail(P, "a closing '\"'"), NULL;
  char *out = oxrt_arena_alloc(P->a, n + 1);
  if (!out) return oom(P), NULL;
  size_t k = 0;
  while (*P->p != '"') {
    char c = *P->p++;
    if (c == '\\') {
      c = *P->p++;
      c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
    }
    out[k++] = c;
  }
  P->p++;
  out[k] = 0;
  if (len) *len = k;
  return out;
}

/* An identifier (letters, digits, '_'; with `dots` also '.'), or a quoted name. */
static char *parse_id(parser *P, bool dots) {
  skip_ws(P);
  if (*P->p == '"') return parse_string(P, NULL);
  const char *q = P->p;
  if (!(isalpha((unsigned char)*q) || *q == '_')) return fail(P, "a name"), NULL;
  while (is_id_char(*q, dots)) q++;
  char *out = oxrt_arena_strndup(P->a, P->p, (size_t)(q - P->p));
  if (!out) return oom(P), NULL;
  P->p = q;
  return out;
}

static bool at_id(parser *P) {
  skip_ws(P);
  return isalpha((unsigned char)*P->p) || *P->p == '_' || *P->p == '"';
}

static bool parse_int(parser *P, int64_t *v) {
  skip_ws(P);
  char *end;
  errno = 0;
  long long x = strtoll(P->p, &end, 10);
  if (end == P->p || errno) return fail(P, "an integer");
  if (*end == '.' || *end == 'e' || *end == 'E') return fail(P, "an integer");
  *v = x;
  P->p = end;
  return true;
}

/* Length of the word inf, infinity or nan (any case) at q when no identifier character follows it; else 0. */
static size_t special_float_len(const char *q) {
  static const char *const words[] = {"infinity", "inf", "nan"};
  for (int w = 0; w < 3; w++) {
    size_t n = strlen(words[w]);
    size_t k = 0;
    while (k < n && tolower((unsigned char)q[k]) == words[w][k]) k++;
    if (k == n && !isalnum((unsigned char)q[n]) && q[n] != '_') return n;
  }
  return 0;
}

static bool parse_number(parser *P, double *v, bool *is_int) {
  skip_ws(P);
  const char *q = P->p;
  bool neg = *q == '-';
  if (*q == '-' || *q == '+') q++;
  size_t special = special_float_len(q);
  if (special) { /* inf, nan, and onnx.parser's Infinity / NaN */
    *v = (q[0] | 0x20) == 'i' ? (neg ? -INFINITY : INFINITY) : NAN;
    if (is_int) *is_int = false;
    P->p = q + special;
    return true;
  }
  char *end;
  double x = strtod(P->p, &end);
  if (end == P->p) return fail(P, "a number");
  if (is_int) {
    *is_int = true;
    for (const char *c = P->p; c < end; c++)
      if (*c == '.' || *c == 'e' || *c == 'E') *is_int = false;
  }
  *v = x;
  P->p = end;
  return true;
}

/* ------------------------------------------------------------------ types */
static int elem_from_name(const char *s) {
  for (int t = 1; t < OXRT_ELEM_TYPE_COUNT; t++)
    if (!strcmp(s, oxrt_elem_type_name((oxrt_elem_type)t))) return t;
  return 0;
}

static bool is_type_start(parser *P) {
  skip_ws(P);
  const char *q = P->p;
  size_t n = 0;
  while (is_id_char(q[n], false)) n++;
  char w[32];
  if (!n || n >= sizeof w) return false;
  memcpy(w, q, n);
  w[n] = 0;
  return elem_from_name(w) || !strcmp(w, "seq") || !strcmp(w, "map") || !strcmp(w, "optional") ||
         !strcmp(w, "sparse_tensor");
}

/* The shape part after an element type: `[d, ...]`, `[]` (no shape) or nothing (a scalar). */
static bool parse_dims(parser *P, oxrt_type *t) {
  t->rank = 0;
  if (!accept(P, "[")) return true;
  if (accept(P, "]")) {
    t->rank = -1;
    return true;
  }
  int cap = 8;
  t->dims = oxrt_arena_alloc(P->a, sizeof(int64_t) * (size_t)cap);
  t->dim_params = oxrt_arena_alloc(P->a, sizeof(char *) * (size_t)cap);
  if (!t->dims || !t->dim_params) return oom(P);
  do {
    if (t->rank == cap) {
      int64_t *nd = oxrt_arena_alloc(P->a, sizeof(int64_t) * (size_t)cap * 2);
      char **np = oxrt_arena_alloc(P->a, sizeof(char *) * (size_t)cap * 2);
      if (!nd || !np) return oom(P);
      memcpy(nd, t->dims, sizeof(int64_t) * (size_t)cap);
      memcpy(np, t->dim_params, sizeof(char *) * (size_t)cap);
      t->dims = nd, t->dim_params = np, cap *= 2;
    }
    skip_ws(P);
    t->dims[t->rank] = -1;
    t->dim_params[t->rank] = NULL;
    if (accept(P, "?")) {
    } else if (isdigit((unsigned char)*P->p)) {
      if (!parse_int(P, &t->dims[t->rank])) return false;
    } else {
      if (!(t->dim_params[t->rank] = parse_id(P, false))) return false;
    }
    t->rank++;
  } while (accept(P, ","));
  return expect(P, "]");
}

static oxrt_type *parse_type_in(parser *P);

static oxrt_type *parse_type(parser *P) {
  if (P->depth >= 64) return fail(P, "types nested at most 64 levels deep"), NULL;
  P->depth++;
  oxrt_type *t = parse_type_in(P);
  P->depth--;
  return t;
}

static oxrt_type *parse_type_in(parser *P) {
  oxrt_type *t = oxrt_arena_alloc(P->a, sizeof *t);
  if (!t) return oom(P), NULL;
  char *w = parse_id(P, false);
  if (!w) return NULL;
  if (!strcmp(w, "seq") || !strcmp(w, "optional")) {
    t->kind = w[0] == 's' ? OXRT_KIND_SEQUENCE : OXRT_KIND_OPTIONAL;
    t->rank = -1;
    if (!expect(P, "(") || !(t->elem = parse_type(P)) || !expect(P, ")")) return NULL;
  } else if (!strcmp(w, "map")) {
    t->kind = OXRT_KIND_MAP;
    t->rank = -1;
    if (!expect(P, "(")) return NULL;
    char *k = parse_id(P, false);
    if (!k) return NULL;
    if (!(t->elem_type = (oxrt_elem_type)elem_from_name(k))) return fail(P, "a map key type"), NULL;
    if (!expect(P, ",") || !(t->elem = parse_type(P)) || !expect(P, ")")) return NULL;
  } else if (!strcmp(w, "sparse_tensor")) {
    if (!expect(P, "(")) return NULL;
    oxrt_type *in = parse_type(P);
    if (!in || !expect(P, ")")) return NULL;
    *t = *in;
    t->kind = OXRT_KIND_SPARSE_TENSOR;
  } else {
    t->kind = OXRT_KIND_TENSOR;
    if (!(t->elem_type = (oxrt_elem_type)elem_from_name(w))) return fail(P, "an element type (float, int64, ...)"), NULL;
    if (!parse_dims(P, t)) return NULL;
  }
  return t;
}

/* ---------------------------------------------------------------- tensors */
/* `float[2,3] name = {1, 2, ...}` (name and '=' optional); the type has been read into `t`. */
static oxrt_value *parse_tensor_body(parser *P, const oxrt_type *t) {
  if (t->kind != OXRT_KIND_TENSOR || t->rank < 0)
    return fail(P, "a tensor type with a shape (float[2,3] or float for a scalar)"), NULL;
  size_t count = 1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] < 0) return fail(P, "fixed dimensions in a tensor constant"), NULL;
    if (__builtin_mul_overflow(count, (size_t)t->dims[i], &count)) count = SIZE_MAX;
  }
  /* every element is written out (at least a digit and a comma each): a shape the rest of the text cannot fill is
   * refused before its memory is taken (a hostile float[100000,100000] would ask for 40 GB) */
  if (count > 4096 && count > strlen(P->p) / 2 + 1)
    return fail(P, "no more elements than the text has values for (the shape is larger than the rest of the text)"),
           NULL;
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(t->elem_type, t->dims, (size_t)t->rank, &v);
  if (st) {
    P->err = st;
    return NULL;
  }
  if (!expect(P, "{")) goto bad;
  /* complex tensors are written as real, imaginary pairs (as onnx.parser reads them) */
  bool complex = t->elem_type == OXRT_COMPLEX64 || t->elem_type == OXRT_COMPLEX128;
  size_t n_scalars = complex ? 2 * v->count : v->count;
  size_t i = 0;
  if (!peek(P, "}")) do {
      if (i >= n_scalars) {
        fail(P, "'}' (more values than the shape holds)");
        goto bad;
      }
      if (t->elem_type == OXRT_STRING) {
        size_t len;
        char *s = parse_string(P, &len);
        if (!s) goto bad;
        if ((st = oxrt_value_set_string(v, i, s, len))) {
          P->err = st;
          goto bad;
        }
      } else {
        double d;
        bool is_int;
        const char *at = P->p;
        if (!parse_number(P, &d, &is_int)) goto bad;
        /* integer conversions only of values in range: a cast of any other double is undefined */
        bool bits16 = t->elem_type == OXRT_FLOAT16 || t->elem_type == OXRT_BFLOAT16;
        bool bits8 = t->elem_type == OXRT_FLOAT8E4M3FN || t->elem_type == OXRT_FLOAT8E4M3FNUZ ||
                     t->elem_type == OXRT_FLOAT8E5M2 || t->elem_type == OXRT_FLOAT8E5M2FNUZ ||
                     t->elem_type == OXRT_FLOAT8E8M0 || t->elem_type == OXRT_FLOAT4E2M1;
        if ((bits16 || bits8) && (!is_int || d < 0 || d > (bits16 ? 65535 : 255))) {
          fail(P, bits16 ? "a 16-bit pattern 0..65535" : "an 8-bit pattern 0..255");
          goto bad;
        }
        switch (t->elem_type) {
        case OXRT_FLOAT:
        case OXRT_COMPLEX64:
          ((float *)v->data)[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
          break;
        case OXRT_DOUBLE:
        case OXRT_COMPLEX128: ((double *)v->data)[i] = d; break;
        case OXRT_FLOAT16:
        case OXRT_BFLOAT16: ((uint16_t *)v->data)[i] = (uint16_t)d; break; /* bit patterns, as the printer writes */
        case OXRT_FLOAT8E4M3FN:
        case OXRT_FLOAT8E4M3FNUZ:
        case OXRT_FLOAT8E5M2:
        case OXRT_FLOAT8E5M2FNUZ:
        case OXRT_FLOAT8E8M0:
        case OXRT_FLOAT4E2M1: ((uint8_t *)v->data)[i] = (uint8_t)d; break;
        case OXRT_UINT64: ((uint64_t *)v->data)[i] = strtoull(at, NULL, 10); break;
        case OXRT_INT64: ((int64_t *)v->data)[i] = strtoll(at, NULL, 10); break;
        default:
          if (!is_int || !(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) {
            fail(P, "an integer value");
            goto bad;
          }
          oxrt_store_i64(t->elem_type, v->data, i, (int64_t)d);
        }
      }
      i++;
    } while (accept(P, ","));
  if (!expect(P, "}")) goto bad;
  if (i != n_scalars) {
    fail(P, complex ? "a real and an imaginary part for each element the shape holds" : "as many values as the shape holds");
    goto bad;
  }
  return v;
bad:
  oxrt_value_free(v);
  return NULL;
}

/* `["location": "w.bin", "offset": "0", ...]` after `type name =` in a graph's initializer list: a placeholder
 * tensor, the entries recorded in P->ext. */
static oxrt_value *parse_external(parser *P, oxrt_type *t, const char *name) {
  if (t->kind != OXRT_KIND_TENSOR || t->rank < 0)
    return fail(P, "a tensor type with a shape (float[2,3] or float for a scalar)"), NULL;
  for (int i = 0; i < t->rank; i++)
    if (t->dims[i] < 0) return fail(P, "fixed dimensions in a tensor constant"), NULL;
  if (!P->keep_ext) {
    int line, col;
    where(P, &line, &col);
    P->err = oxrt_error(OXRT_ERR_INVALID_MODEL, "line %d, column %d: initializer '%s' is in external data: such "
                        "entries are kept only when the text is written as a model file (oxrt parse)", line, col, name);
    return NULL;
  }
  if (!expect(P, "[")) return NULL;
  int n = 0, cap = 0;
  const char **kv = NULL;
  do {
    if (n == cap) {
      int nc = cap ? cap * 2 : 8;
      const char **na = oxrt_arena_alloc(P->a, sizeof *na * 2 * (size_t)nc);
      if (!na) return oom(P), NULL;
      if (n) memcpy(na, kv, sizeof *na * 2 * (size_t)n);
      kv = na, cap = nc;
    }
    if (!(kv[2 * n] = parse_string(P, NULL)) || !expect(P, ":") || !(kv[2 * n + 1] = parse_string(P, NULL)))
      return NULL;
    n++;
  } while (accept(P, ","));
  if (!expect(P, "]")) return NULL;
  if (P->n_ext == P->cap_ext) {
    int nc = P->cap_ext ? P->cap_ext * 2 : 8;
    ext_init *na = oxrt_arena_alloc(P->a, sizeof *na * (size_t)nc);
    if (!na) return oom(P), NULL;
    if (P->n_ext) memcpy(na, P->ext, sizeof *na * (size_t)P->n_ext);
    P->ext = na, P->cap_ext = nc;
  }
  oxrt_value *v = NULL;
  const int64_t two = 2;
  oxrt_status *st = oxrt_tensor_new(OXRT_INT64, 1, &two, &v);
  if (st) {
    P->err = st;
    return NULL;
  }
  ((int64_t *)v->data)[0] = (int64_t)EXT_MAGIC;
  ((int64_t *)v->data)[1] = P->n_ext;
  P->ext[P->n_ext++] = (ext_init){name, t, n, kv};
  return v;
}

/* A tensor constant as an attribute value: type, optional name, optional '=', values. */
static oxrt_value *parse_tensor_const(parser *P) {
  oxrt_type *t = parse_type(P);
  if (!t) return NULL;
  if (!peek(P, "=") && !peek(P, "{") && at_id(P) && !parse_id(P, false)) return NULL;
  accept(P, "=");
  return parse_tensor_body(P, t);
}

/* ------------------------------------------------------------------ graph */
static oxrt_graph *parse_graph(parser *P, oxrt_graph *parent);

static bool push_int(parser *P, int **arr, int *n, int *cap, int v) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 8;
    int *na = oxrt_arena_alloc(P->a, sizeof(int) * (size_t)nc);
    if (!na) return oom(P);
    if (*n) memcpy(na, *arr, sizeof(int) * (size_t)*n);
    *arr = na, *cap = nc;
  }
  (*arr)[(*n)++] = v;
  return true;
}

static const struct {
  const char *name;
  oxrt_attr_type type;
} attr_types[] = {{"float", OXRT_ATTR_FLOAT},       {"int", OXRT_ATTR_INT},         {"string", OXRT_ATTR_STRING},
                  {"tensor", OXRT_ATTR_TENSOR},     {"graph", OXRT_ATTR_GRAPH},     {"floats", OXRT_ATTR_FLOATS},
                  {"ints", OXRT_ATTR_INTS},         {"strings", OXRT_ATTR_STRINGS}, {"tensors", OXRT_ATTR_TENSORS},
                  {"graphs", OXRT_ATTR_GRAPHS},     {"type_proto", OXRT_ATTR_TYPE_PROTO},
                  {"type_protos", OXRT_ATTR_TYPE_PROTOS}, {"sparse_tensor", OXRT_ATTR_SPARSE_TENSOR}};

/* The type of an attribute written without one, from how its value starts. */
static oxrt_attr_type guess_attr_type(parser *P, bool list) {
  skip_ws(P);
  const char *q = P->p;
  if (*q == '"') return list ? OXRT_ATTR_STRINGS : OXRT_ATTR_STRING;
  if (special_float_len(q + (*q == '-' || *q == '+'))) return list ? OXRT_ATTR_FLOATS : OXRT_ATTR_FLOAT;
  if (*q == '-' || *q == '+' || *q == '.' || isdigit((unsigned char)*q)) {
    char *end;
    strtod(q, &end);
    bool is_int = true;
    for (const char *c = q; c < end; c++)
      if (*c == '.' || *c == 'e' || *c == 'E') is_int = false;
    if (list) { /* a list is floats when any item is */
      for (const char *c = q; *c && *c != ']'; c++)
        if (*c == '.' || *c == 'e' || *c == 'E' || special_float_len(c)) is_int = false;
      return is_int ? OXRT_ATTR_INTS : OXRT_ATTR_FLOATS;
    }
    return is_int ? OXRT_ATTR_INT : OXRT_ATTR_FLOAT;
  }
  if (is_type_start(P)) return list ? OXRT_ATTR_TENSORS : OXRT_ATTR_TENSOR;
  return list ? OXRT_ATTR_GRAPHS : OXRT_ATTR_GRAPH;
}

#define GROW_ARR(P, arr, n, cap)                                                                                       \
  do {                                                                                                                 \
    if ((n) == (cap)) {                                                                                                \
      size_t nc_ = (cap) ? (cap) * 2 : 4;                                                                              \
      void *na_ = oxrt_arena_alloc((P)->a, nc_ * sizeof(*(arr)));                                                      \
      if (!na_) return oom(P);                                                                                         \
      if (n) memcpy(na_, (arr), (n) * sizeof(*(arr)));                                                                 \
      (arr) = na_;                                                                                                     \
      (cap) = nc_;                                                                                                     \
    }                                                                                                                  \
  } while (0)

/* Frees what an attribute that is not kept holds outside the arena (tensors, graphs' values). */
static void drop_attr(oxrt_attr *at) {
  oxrt_value_free(at->t);
  for (size_t k = 0; at->tensors && k < at->n; k++) oxrt_value_free(at->tensors[k]);
  if (at->g) oxrt_graph_release_values(at->g);
  for (size_t k = 0; at->graphs && k < at->n; k++) oxrt_graph_release_values(at->graphs[k]);
}

static bool parse_attr_value(parser *P, oxrt_graph *g, oxrt_attr *at) {
  if (accept(P, "@")) {
    return (at->ref_attr_name = parse_id(P, false)) != NULL;
  }
  bool list = peek(P, "[");
  if (at->type == OXRT_ATTR_UNDEFINED) {
    if (list) accept(P, "[");
    at->type = guess_attr_type(P, list);
    if (list) P->p--; /* back to '[' */
  }
  size_t cap = 0;
  switch (at->type) {
  case OXRT_ATTR_FLOAT: {
    double d;
    if (!parse_number(P, &d, NULL)) return false;
    at->f = (float)d;
    return true;
  }
  case OXRT_ATTR_INT: return parse_int(P, &at->i);
  case OXRT_ATTR_STRING: return (at->s = parse_string(P, &at->s_len)) != NULL;
  case OXRT_ATTR_TENSOR:
  case OXRT_ATTR_SPARSE_TENSOR: return (at->t = parse_tensor_const(P)) != NULL;
  case OXRT_ATTR_GRAPH: return (at->g = parse_graph(P, g)) != NULL;
  case OXRT_ATTR_TYPE_PROTO: return (at->tp = parse_type(P)) != NULL;
  default: break;
  }
  if (!expect(P, "[")) return false;
  if (accept(P, "]")) return true;
  do {
    switch (at->type) {
    case OXRT_ATTR_FLOATS: {
      GROW_ARR(P, at->floats, at->n, cap);
      double d;
      if (!parse_number(P, &d, NULL)) return false;
      at->floats[at->n++] = (float)d;
      break;
    }
    case OXRT_ATTR_INTS:
      GROW_ARR(P, at->ints, at->n, cap);
      if (!parse_int(P, &at->ints[at->n++])) return false;
      break;
    case OXRT_ATTR_STRINGS: {
      size_t c2 = cap;
      GROW_ARR(P, at->string_lens, at->n, c2);
      GROW_ARR(P, at->strings, at->n, cap);
      if (!(at->strings[at->n] = parse_string(P, &at->string_lens[at->n]))) return false;
      at->n++;
      break;
    }
    case OXRT_ATTR_TENSORS:
      GROW_ARR(P, at->tensors, at->n, cap);
      if (!(at->tensors[at->n] = parse_tensor_const(P))) return false;
      at->n++;
      break;
    case OXRT_ATTR_GRAPHS:
      GROW_ARR(P, at->graphs, at->n, cap);
      if (!(at->graphs[at->n] = parse_graph(P, g))) return false;
      at->n++;
      break;
    case OXRT_ATTR_TYPE_PROTOS:
      GROW_ARR(P, at->tps, at->n, cap);
      if (!(at->tps[at->n] = parse_type(P))) return false;
      at->n++;
      break;
    default: return fail(P, "an attribute value of a known type");
    }
  } while (accept(P, ","));
  return expect(P, "]");
}

static bool parse_attrs(parser *P, oxrt_graph *g, int node_id) {
  int cap = 0;
  do {
    oxrt_node *n = &g->nodes[node_id];
    if (n->n_attrs == cap) {
      int nc = cap ? cap * 2 : 4;
      oxrt_attr *na = oxrt_arena_alloc(P->a, sizeof(oxrt_attr) * (size_t)nc);
      if (!na) return oom(P);
      if (n->n_attrs) memcpy(na, n->attrs, sizeof(oxrt_attr) * (size_t)n->n_attrs);
      n->attrs = na, cap = nc;
    }
    oxrt_attr at;
    memset(&at, 0, sizeof at);
    if (!(at.name = parse_id(P, false))) return false;
    if (accept(P, ":")) {
      char *tn = parse_id(P, false);
      if (!tn) return false;
      for (size_t k = 0; k < sizeof attr_types / sizeof attr_types[0]; k++)
        if (!strcmp(tn, attr_types[k].name)) at.type = attr_types[k].type;
      if (!at.type) return fail(P, "an attribute type (int, float, string, tensor, graph, ints, ...)");
    }
    if (!expect(P, "=")) return false;
    if (!parse_attr_value(P, g, &at)) { /* the attribute is dropped: free what it had parsed so far */
      drop_attr(&at);
      return false;
    }
    n = &g->nodes[node_id];
    n->attrs[n->n_attrs++] = at;
  } while (accept(P, ","));
  return expect(P, ">");
}

/* A list of (possibly empty, quoted) value names; ids into `g` (-1 for ""). */
static bool parse_name_list(parser *P, oxrt_graph *g, int **ids, int *n, const char *close) {
  int cap = 0;
  *n = 0;
  *ids = NULL;
  if (peek(P, close)) return true;
  do {
    char *nm = parse_id(P, false);
    if (!nm) return false;
    int id = *nm ? oxrt_graph_intern(g, nm) : -1;
    if (*nm && id < 0) return oom(P);
    if (!push_int(P, ids, n, &cap, id)) return false;
  } while (accept(P, ","));
  return true;
}

static bool parse_node(parser *P, oxrt_graph *g) {
  int id = oxrt_graph_add_node(g);
  if (id < 0) return oom(P);
  oxrt_node *n = &g->nodes[id];
  n->name = "";
  n->domain = "";
  if (accept(P, "[")) {
    char *nm = parse_id(P, false);
    if (!nm || !expect(P, "]")) return false;
    g->nodes[id].name = nm;
  }
  int *outs, no;
  if (!parse_name_list(P, g, &outs, &no, "=") || !expect(P, "=")) return false;
  char *q = parse_id(P, true);
  if (!q) return false;
  n = &g->nodes[id];
  n->outputs = outs, n->n_outputs = no;
  char *dot = strrchr(q, '.');
  if (dot) {
    *dot = 0;
    n->domain = strcmp(q, "ai.onnx") ? q : "";
    n->op_type = dot + 1;
  } else {
    n->op_type = q;
  }
  if (accept(P, "<") && !parse_attrs(P, g, id)) return false;
  int *ins, ni;
  if (!expect(P, "(") || !parse_name_list(P, g, &ins, &ni, ")") || !expect(P, ")")) return false;
  n = &g->nodes[id];
  n->inputs = ins, n->n_inputs = ni;
  if (!n->inputs) n->inputs = oxrt_arena_alloc(P->a, sizeof(int));
  if (!n->outputs) n->outputs = oxrt_arena_alloc(P->a, sizeof(int));
  if (!n->attrs) n->attrs = oxrt_arena_alloc(P->a, sizeof(oxrt_attr));
  if (!n->inputs || !n->outputs || !n->attrs) return oom(P);
  if (accept(P, "<") && !parse_attrs(P, g, id)) return false;
  return true;
}

static bool parse_nodes(parser *P, oxrt_graph *g) {
  if (!expect(P, "{")) return false;
  while (!accept(P, "}")) {
    if (!*P->p) return fail(P, "'}'");
    if (!parse_node(P, g)) return false;
  }
  return true;
}

/* `(type name, ...)`: graph inputs or outputs. */
static bool parse_value_infos(parser *P, oxrt_graph *g, bool inputs) {
  int cap = 0;
  if (!expect(P, "(")) return false;
  if (accept(P, ")")) return true;
  do {
    oxrt_type *t = NULL; /* a name alone declares a value of unknown type */
    if (is_type_start(P) && !(t = parse_type(P))) return false;
    char *nm = parse_id(P, false);
    if (!nm) return false;
    int id = oxrt_graph_intern(g, nm);
    if (id < 0) return oom(P);
    g->values[id].type = t;
    if (inputs) {
      g->values[id].is_input = true;
      if (!push_int(P, &g->inputs, &g->n_inputs, &cap, id)) return false;
    } else {
      g->values[id].is_output = true;
      if (!push_int(P, &g->outputs, &g->n_outputs, &cap, id)) return false;
    }
  } while (accept(P, ","));
  return expect(P, ")");
}

/* Producers of node outputs, and names taken from enclosing graphs. */
static bool link_graph(parser *P, oxrt_graph *g) {
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs; k++) {
      int v = g->nodes[i].outputs[k];
      if (v < 0) continue;
      if (g->values[v].producer >= 0 || g->values[v].init || g->values[v].is_input) {
        P->err = oxrt_error(OXRT_ERR_INVALID_MODEL, "graph '%s': '%s' is assigned twice (node '%s' %s)", g->name,
                            g->values[v].name, g->nodes[i].name, g->nodes[i].op_type);
        return false;
      }
      g->values[v].producer = i;
    }
  for (int v = 0; v < g->n_values; v++) {
    oxrt_value_def *d = &g->values[v];
    if (d->producer >= 0 || d->init || d->is_input) continue;
    for (oxrt_graph *p = g->parent; p; p = p->parent)
      if (oxrt_graph_find(p, d->name) >= 0) d->is_outer = true;
  }
  return true;
}

/* A new graph, recorded in the model so that its initializers are freed even if parsing stops inside it. */
static oxrt_graph *new_graph(parser *P, oxrt_graph *parent) {
  oxrt_model *m = P->m;
  if (m->n_all_graphs == m->cap_all_graphs) {
    int nc = m->cap_all_graphs ? m->cap_all_graphs * 2 : 8;
    oxrt_graph **na = realloc(m->all_graphs, sizeof *na * (size_t)nc);
    if (!na) return NULL;
    m->all_graphs = na, m->cap_all_graphs = nc;
  }
  oxrt_graph *g = oxrt_graph_new(P->a, parent);
  if (g) m->all_graphs[m->n_all_graphs++] = g;
  return g;
}

static oxrt_graph *parse_graph_in(parser *P, oxrt_graph *parent);

static oxrt_graph *parse_graph(parser *P, oxrt_graph *parent) {
  if (P->depth >= 64) return fail(P, "graphs nested at most 64 levels deep"), NULL;
  P->depth++;
  oxrt_graph *g = parse_graph_in(P, parent);
  P->depth--;
  return g;
}

static oxrt_graph *parse_graph_in(parser *P, oxrt_graph *parent) {
  oxrt_graph *g = new_graph(P, parent);
  if (!g) return oom(P), NULL;
  g->doc = take_doc(P);
  if (P->err) return NULL;
  if (!(g->name = parse_id(P, false))) return NULL;
  if (!parse_value_infos(P, g, true) || !expect(P, "=>") || !parse_value_infos(P, g, false)) return NULL;
  if (accept(P, "<") && !accept(P, ">")) {
    do {
      oxrt_type *t = parse_type(P);
      if (!t) return NULL;
      char *nm = parse_id(P, false);
      if (!nm) return NULL;
      int id = oxrt_graph_intern(g, nm);
      if (id < 0) return oom(P), NULL;
      if (accept(P, "=") || peek(P, "{")) {
        bool external = peek(P, "[");
        oxrt_value *v = external ? parse_external(P, t, nm) : parse_tensor_body(P, t);
        if (!v) return NULL;
        if (g->values[id].init) {
          oxrt_value_free(v);
          return fail(P, "a new initializer name"), NULL;
        }
        g->values[id].init = v;
        if (external && !g->values[id].type) g->values[id].type = t; /* the writer's type, not the placeholder's */
      } else {
        g->values[id].type = t;
      }
    } while (accept(P, ","));
    if (!expect(P, ">")) return NULL;
  }
  if (!parse_nodes(P, g) || !link_graph(P, g)) return NULL;
  return g;
}

/* ------------------------------------------------------------------ model */
static bool parse_opsets(parser *P, oxrt_opset **out, int *n) {
  int cap = 0;
  *n = 0;
  if (!expect(P, "[")) return false;
  if (accept(P, "]")) return true;
  do {
    if (*n == cap) {
      int nc = cap ? cap * 2 : 4;
      oxrt_opset *na = oxrt_arena_alloc(P->a, sizeof *na * (size_t)nc);
      if (!na) return oom(P);
      if (*n) memcpy(na, *out, sizeof *na * (size_t)*n);
      *out = na, cap = nc;
    }
    char *d = parse_string(P, NULL);
    if (!d || !expect(P, ":") || !parse_int(P, &(*out)[*n].version)) return false;
    (*out)[(*n)++].domain = strcmp(d, "ai.onnx") ? d : "";
  } while (accept(P, ","));
  return expect(P, "]");
}

static bool parse_model_header(parser *P) {
  oxrt_model *m = P->m;
  do {
    char *key = parse_id(P, false);
    if (!key || !expect(P, ":")) return false;
    if (!strcmp(key, "ir_version")) {
      if (!parse_int(P, &m->ir_version)) return false;
    } else if (!strcmp(key, "model_version")) {
      if (!parse_int(P, &m->model_version)) return false;
    } else if (!strcmp(key, "opset_import")) {
      if (!parse_opsets(P, &m->opsets, &m->n_opsets)) return false;
    } else if (!strcmp(key, "producer_name")) {
      if (!(m->producer_name = parse_string(P, NULL))) return false;
    } else if (!strcmp(key, "producer_version")) {
      if (!(m->producer_version = parse_string(P, NULL))) return false;
    } else if (!strcmp(key, "domain")) {
      if (!(m->domain = parse_string(P, NULL))) return false;
    } else if (!strcmp(key, "doc_string")) {
      if (!(m->doc = parse_string(P, NULL))) return false;
    } else if (!strcmp(key, "metadata_props")) {
      size_t cap = 0, n = 0, cap2 = 0;
      if (!expect(P, "[")) return false;
      if (!accept(P, "]")) {
        do {
          GROW_ARR(P, m->meta_keys, n, cap);
          GROW_ARR(P, m->meta_values, n, cap2);
          if (!(m->meta_keys[n] = parse_string(P, NULL)) || !expect(P, ":") ||
              !(m->meta_values[n] = parse_string(P, NULL)))
            return false;
          n++;
        } while (accept(P, ","));
        if (!expect(P, "]")) return false;
      }
      m->n_meta = (int)n;
    } else {
      return fail(P, "a model field (ir_version, opset_import, producer_name, ...)");
    }
  } while (accept(P, ","));
  return expect(P, ">");
}

static bool parse_function(parser *P, oxrt_function *fn) {
  fn->name = fn->domain = fn->overload = "";
  if (accept(P, "<")) {
    do {
      char *key = parse_id(P, false);
      if (!key || !expect(P, ":")) return false;
      if (!strcmp(key, "domain")) {
        if (!(fn->domain = parse_string(P, NULL))) return false;
      } else if (!strcmp(key, "opset_import")) {
        if (!parse_opsets(P, &fn->opsets, &fn->n_opsets)) return false;
      } else if (!strcmp(key, "overload")) {
        if (!(fn->overload = parse_string(P, NULL))) return false;
      } else {
        return fail(P, "a function field (domain, opset_import, overload)");
      }
    } while (accept(P, ","));
    if (!expect(P, ">")) return false;
  }
  if (!(fn->name = parse_id(P, false))) return false;
  fn->body = new_graph(P, NULL);
  if (!fn->body) return oom(P);
  fn->body->name = fn->name;
  size_t cap = 0, n = 0;
  if (accept(P, "<")) {
    do {
      GROW_ARR(P, fn->attr_names, n, cap);
      if (!(fn->attr_names[n++] = parse_id(P, false))) return false;
      if (accept(P, "=")) { /* a default value: kept as the name only */
        oxrt_attr at;
        memset(&at, 0, sizeof at);
        bool ok = parse_attr_value(P, fn->body, &at);
        drop_attr(&at);
        if (!ok) return false;
      }
    } while (accept(P, ","));
    fn->n_attr_names = (int)n;
    if (!expect(P, ">")) return false;
  }
  for (int io = 0; io < 2; io++) {
    if (io && !expect(P, "=>")) return false;
    if (!expect(P, "(")) return false;
    const char **names = NULL;
    size_t c = 0, k = 0;
    if (!peek(P, ")")) do {
        GROW_ARR(P, names, k, c);
        char *nm = parse_id(P, false);
        if (!nm) return false;
        names[k++] = nm;
        int id = oxrt_graph_intern(fn->body, nm);
        if (id < 0) return oom(P);
        if (!io) fn->body->values[id].is_input = true;
      } while (accept(P, ","));
    if (!expect(P, ")")) return false;
    if (io) fn->outputs = names, fn->n_outputs = (int)k;
    else fn->inputs = names, fn->n_inputs = (int)k;
  }
  return parse_nodes(P, fn->body) && link_graph(P, fn->body);
}

static oxrt_status *text_parse(const char *text, bool keep_ext, oxrt_model **out, ext_init **ext, int *n_ext) {
  parser P = {.s = text, .p = text, .keep_ext = keep_ext};
  P.m = calloc(1, sizeof *P.m);
  if (!P.m) return OXRT_OOM();
  P.a = P.m->arena = oxrt_arena_create();
  if (!P.a) {
    free(P.m);
    return OXRT_OOM();
  }
  oxrt_model *m = P.m;
  m->producer_name = m->producer_version = m->domain = m->doc = "";
  m->ir_version = 10;
  if (accept(&P, "<")) parse_model_header(&P);
  if (!P.err) m->graph = parse_graph(&P, NULL);
  size_t cap = 0, nf = 0;
  while (!P.err && (skip_ws(&P), *P.p)) {
    if (nf == cap) {
      size_t nc = cap ? cap * 2 : 4;
      oxrt_function *na = oxrt_arena_alloc(P.a, sizeof *na * nc);
      if (!na) {
        oom(&P);
        break;
      }
      if (nf) memcpy(na, m->functions, sizeof *na * nf);
      m->functions = na, cap = nc;
    }
    memset(&m->functions[nf], 0, sizeof m->functions[nf]);
    if (parse_function(&P, &m->functions[nf])) nf++;
    m->n_functions = (int)nf;
  }
  if (!P.err && m->n_opsets == 0) P.err = oxrt_error(OXRT_ERR_INVALID_MODEL, "the model imports no opset (opset_import)");
  if (P.err) {
    oxrt_model_free(m);
    return P.err;
  }
  *out = m;
  if (ext) *ext = P.ext, *n_ext = P.n_ext;
  return NULL;
}

oxrt_status *oxrt_text_parse(const char *text, oxrt_model **out) { return text_parse(text, false, out, NULL, NULL); }

/* ------------------------------------------------------- external data */
/* The serialized model is copied with each placeholder initializer replaced by its external data TensorProto;
 * the messages around it (graph, attribute, node, model) get their new lengths. */
static void ob_str(pb_writer *b, uint32_t field, const char *s) { pb_put_bytes(b, field, s, strlen(s)); }

/* Index of the ext_init a TensorProto is the placeholder of, else -1. */
static int placeholder_index(pb_reader t, const ext_init *ext, int n_ext) {
  uint32_t f, w;
  uint64_t v, dt = 0;
  int rank = 0;
  int64_t dim0 = -1;
  pb_bytes name = {0}, raw = {0};
  while (pb_next(&t, &f, &w)) {
    if (f == 1 && w == PB_BYTES) {
      pb_reader d;
      if (!pb_sub(&t, &d)) return -1;
      while (d.p < d.end && pb_varint(&d, &v)) dim0 = rank++ ? dim0 : (int64_t)v;
    } else if (f == 1 && w == PB_VARINT) {
      if (!pb_varint(&t, &v)) return -1;
      dim0 = rank++ ? dim0 : (int64_t)v;
    } else if (f == 2 && w == PB_VARINT) {
      if (!pb_varint(&t, &dt)) return -1;
    } else if (f == 8 && w == PB_BYTES) {
      if (!pb_bytes_read(&t, &name)) return -1;
    } else if (f == 9 && w == PB_BYTES) {
      if (!pb_bytes_read(&t, &raw)) return -1;
    } else if (!pb_skip(&t, w)) {
      return -1;
    }
  }
  if (t.error || dt != OXRT_INT64 || rank != 1 || dim0 != 2 || raw.len != 16) return -1;
  uint64_t magic = 0, idx = 0;
  for (int i = 7; i >= 0; i--) magic = magic << 8 | raw.data[i], idx = idx << 8 | raw.data[8 + i];
  if (magic != EXT_MAGIC || idx >= (uint64_t)n_ext) return -1;
  const char *want = ext[idx].name;
  if (strlen(want) != name.len || memcmp(want, name.data, name.len)) return -1;
  return (int)idx;
}

static void put_external_tensor(pb_writer *b, const ext_init *e) {
  pb_writer d = {0};
  for (int i = 0; i < e->type->rank; i++) pb_put_varint(&d, (uint64_t)e->type->dims[i]);
  if (d.oom) b->oom = true;
  if (e->type->rank > 0) pb_put_bytes(b, 1, d.p, d.n);
  free(d.p);
  pb_put_varint(b, 2 << 3 | PB_VARINT);
  pb_put_varint(b, (uint64_t)e->type->elem_type);
  ob_str(b, 8, e->name);
  for (int i = 0; i < e->n_kv; i++) {
    pb_writer kv = {0};
    ob_str(&kv, 1, e->kv[2 * i]);
    ob_str(&kv, 2, e->kv[2 * i + 1]);
    if (kv.oom) b->oom = true;
    pb_put_bytes(b, 13, kv.p, kv.n);
    free(kv.p);
  }
  pb_put_varint(b, 14 << 3 | PB_VARINT);
  pb_put_varint(b, 1); /* data_location = EXTERNAL */
}

enum { RW_MODEL, RW_GRAPH, RW_NODE, RW_ATTR, RW_FUNC };

typedef struct rewriter {
  const ext_init *ext;
  int n_ext, n_done;
  bool *done;
} rewriter;

/* Copies message `r` of kind `kind` into `out`, descending into the fields that can hold a graph. */
static bool rewrite_msg(rewriter *R, int kind, pb_reader r, pb_writer *out) {
  uint32_t f, w;
  for (;;) {
    const uint8_t *start = r.p;
    if (!pb_next(&r, &f, &w)) break;
    int sub = -1;
    bool tensor = false;
    if (w == PB_BYTES) {
      if (kind == RW_MODEL) sub = f == 7 ? RW_GRAPH : f == 25 ? RW_FUNC : -1;
      else if (kind == RW_GRAPH) sub = f == 1 ? RW_NODE : -1, tensor = f == 5;
      else if (kind == RW_NODE) sub = f == 5 ? RW_ATTR : -1;
      else if (kind == RW_ATTR) sub = f == 6 || f == 11 ? RW_GRAPH : -1;
      else if (kind == RW_FUNC) sub = f == 7 ? RW_NODE : -1;
    }
    if (sub < 0 && !tensor) {
      if (!pb_skip(&r, w)) return false;
      pb_put(out, start, (size_t)(r.p - start));
      continue;
    }
    pb_reader s;
    if (!pb_sub(&r, &s)) return false;
    pb_writer tmp = {0};
    int idx = tensor ? placeholder_index(s, R->ext, R->n_ext) : -1;
    if (idx >= 0) {
      if (R->done[idx]) return false; /* two placeholders for one entry: refuse rather than guess */
      R->done[idx] = true, R->n_done++;
      put_external_tensor(&tmp, &R->ext[idx]);
    } else if (tensor) {
      pb_put(&tmp, s.p, (size_t)(s.end - s.p));
    } else if (!rewrite_msg(R, sub, s, &tmp)) {
      free(tmp.p);
      return false;
    }
    if (tmp.oom) out->oom = true;
    pb_put_bytes(out, f, tmp.p, tmp.n);
    free(tmp.p);
  }
  return !r.error;
}

static oxrt_status *place_external(const uint8_t *data, size_t size, const ext_init *ext, int n_ext, pb_writer *out) {
  rewriter R = {ext, n_ext, 0, calloc((size_t)n_ext, 1)};
  if (!R.done) return OXRT_OOM();
  bool ok = rewrite_msg(&R, RW_MODEL, pb_init(data, size), out);
  free(R.done);
  if (out->oom) return OXRT_OOM();
  if (!ok || R.n_done != n_ext)
    return oxrt_error(OXRT_ERR_INVALID_MODEL, "the external data initializers could not all be placed (%d of %d)",
                      R.n_done, n_ext);
  return NULL;
}

oxrt_status *oxrt_parse_model_text(const char *text, void **out, size_t *out_size) {
  if (!text || !out || !out_size) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "text and out must not be NULL");
  oxrt_model *m;
  ext_init *ext = NULL;
  int n_ext = 0;
  OXRT_TRY(text_parse(text, true, &m, &ext, &n_ext));
  uint8_t *data;
  size_t size;
  oxrt_status *st = oxrt_serialize_model(m, &data, &size);
  if (!st && n_ext) {
    pb_writer b = {0};
    st = place_external(data, size, ext, n_ext, &b);
    free(data);
    data = b.p, size = b.n;
    if (st) free(data);
  }
  oxrt_model_free(m); /* after the rewrite: the entries live in its arena */
  if (st) return st;
  *out = data;
  *out_size = size;
  return NULL;
}
