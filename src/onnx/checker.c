/* checker.c - the ONNX model checker: the verdict of onnx.checker.check_model, dependency-free.
 *
 * The structural checks walk the protobuf bytes directly rather than the IR, because the IR has
 * already merged what the checker must see twice (a name defined two times, an initializer listed
 * once as input and once as tensor, an attribute with two value fields). Names are tracked in lexical
 * scopes: a subgraph sees its enclosing graphs' names and may not redefine them (SSA).
 * With `full`, the model is then loaded into the IR and static inference (exec/infer.c) runs over the
 * main graph, which reports element types outside an operator's type constraints, type variables bound
 * to two types, and inferred types or shapes that contradict the declared ones.
 */
#include "checker.h"
#include "../core/dtype.h"
#include "../exec/infer.h"
#include "../ir/ir.h"
#include "onnx_reader.h"
#include "pb.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "schema_table.h"

#define N_SCHEMAS (sizeof sc_schemas / sizeof sc_schemas[0])
#define BAD(...) oxrt_error(OXRT_ERR_INVALID_MODEL, __VA_ARGS__)

/* ------------------------------------------------------------- schemas */
static int cmp_key(const char *d1, const char *n1, const sc_schema *s) {
  int c = strcmp(d1, s->domain);
  return c ? c : strcmp(n1, s->name);
}

const sc_schema *oxrt_schema_find(const char *domain, const char *name, int64_t version) {
  if (strcmp(domain, "ai.onnx") == 0) domain = "";
  size_t lo = 0, hi = N_SCHEMAS; /* first entry with key >= (domain, name) */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (cmp_key(domain, name, &sc_schemas[mid]) > 0) lo = mid + 1;
    else hi = mid;
  }
  const sc_schema *best = NULL;
  for (size_t i = lo; i < N_SCHEMAS && cmp_key(domain, name, &sc_schemas[i]) == 0; i++)
    if (sc_schemas[i].since <= version) best = &sc_schemas[i];
  return best;
}

const sc_param *oxrt_schema_param(const sc_schema *s, int index) { return &sc_params[s->params + index]; }
const sc_attr *oxrt_schema_attr(const sc_schema *s, int index) { return &sc_attrs[s->attrs + index]; }

bool oxrt_schema_domain_known(const char *d) {
  return !*d || !strcmp(d, "ai.onnx") || !strcmp(d, "ai.onnx.ml") || !strcmp(d, "ai.onnx.preview.training") ||
         !strcmp(d, "ai.onnx.preview");
}

int64_t oxrt_schema_max_version(const char *domain) {
  if (strcmp(domain, "ai.onnx") == 0) domain = "";
  int64_t v = -1;
  for (size_t i = 0; i < N_SCHEMAS; i++)
    if (!strcmp(sc_schemas[i].domain, domain) && sc_schemas[i].since > v) v = sc_schemas[i].since;
  return v;
}

/* -------------------------------------------------------------- scopes */
typedef struct scope {
  struct scope *parent;
  size_t n, cap; /* open addressing over `cap` slots */
  char **slots;
} scope;

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
  return h;
}

static bool scope_has_local(const scope *sc, const char *name) {
  if (!sc->cap) return false;
  for (size_t i = hash_str(name) & (sc->cap - 1);; i = (i + 1) & (sc->cap - 1)) {
    if (!sc->slots[i]) return false;
    if (!strcmp(sc->slots[i], name)) return true;
  }
}

static bool scope_has(const scope *sc, const char *name) {
  for (; sc; sc = sc->parent)
    if (scope_has_local(sc, name)) return true;
  return false;
}

static bool scope_add(scope *sc, char *name) {
  if (2 * (sc->n + 1) > sc->cap) {
    size_t nc = sc->cap ? sc->cap * 2 : 64;
    char **ns = calloc(nc, sizeof *ns);
    if (!ns) return false;
    for (size_t i = 0; i < sc->cap; i++) {
      if (!sc->slots[i]) continue;
      size_t j = hash_str(sc->slots[i]) & (nc - 1);
      while (ns[j]) j = (j + 1) & (nc - 1);
      ns[j] = sc->slots[i];
    }
    free(sc->slots);
    sc->slots = ns;
    sc->cap = nc;
  }
  size_t j = hash_str(name) & (sc->cap - 1);
  while (sc->slots[j]) j = (j + 1) & (sc->cap - 1);
  sc->slots[j] = name;
  sc->n++;
  return true;
}

static void scope_free(scope *sc) { free(sc->slots); }

/* ------------------------------------------------------------- context */
typedef struct opset_entry {
  char *domain;
  int64_t version;
} opset_entry;

typedef struct ck {
  oxrt_arena *a;
  const char *base_dir;
  int64_t ir_version;
  int n_opsets;
  opset_entry opsets[64];
  int n_funcs;
  char *func_keys[256]; /* "domain:name" of the model-local functions */
  int depth;            /* subgraph nesting, bounded so that hostile input cannot exhaust the stack */
} ck;

static char *dup_b(ck *c, pb_bytes b) {
  char *s = oxrt_arena_strndup(c->a, (const char *)b.data, b.len);
  return s;
}

/* Reads a length-delimited string field into the arena; NULL on a corrupt message or OOM. */
static char *read_str(ck *c, pb_reader *r) {
  pb_bytes b;
  if (!pb_bytes_read(r, &b)) return NULL;
  return dup_b(c, b);
}

#define CORRUPT(what) BAD("truncated or corrupt %s", what)

/* Reads a repeated string field's items of `field` from a message (two passes: count, then copy). */
typedef struct strlist {
  int n;
  char **v;
} strlist;

static oxrt_status *collect_strings(ck *c, pb_reader msg, uint32_t want, strlist *out, const char *what) {
  int n = 0;
  uint32_t f, w;
  pb_reader r = msg;
  while (pb_next(&r, &f, &w)) {
    if (f == want && w == PB_BYTES) n++;
    if (!pb_skip(&r, w)) break;
  }
  if (r.error) return CORRUPT(what);
  out->n = 0;
  out->v = oxrt_arena_alloc(c->a, sizeof(char *) * (size_t)(n + 1));
  if (!out->v) return OXRT_OOM();
  r = msg;
  while (pb_next(&r, &f, &w)) {
    if (f == want && w == PB_BYTES) {
      if (!(out->v[out->n++] = read_str(c, &r))) return CORRUPT(what);
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  return NULL;
}

/* --------------------------------------------------------------- types */
/* TypeProto as the checker needs it: which case is set, and whether the required sub-fields are. */
static oxrt_status *check_type_proto(pb_reader r, const char *vname) {
  uint32_t f, w;
  int which = 0;
  pb_reader inner = {0};
  while (pb_next(&r, &f, &w)) {
    if ((f == 1 || f == 4 || f == 5 || f == 8 || f == 9 || f == 7) && w == PB_BYTES) {
      which = (int)f;
      if (!pb_sub(&r, &inner)) return CORRUPT("TypeProto");
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("TypeProto");
  bool has1 = false, has2 = false;
  while (which && pb_next(&inner, &f, &w)) {
    if (f == 1) has1 = true;
    if (f == 2) has2 = true;
    if (!pb_skip(&inner, w)) break;
  }
  switch (which) {
  case 1:
  case 8:
    if (!has1) return BAD("value '%s': field 'elem_type' of its %s type is missing", vname, which == 1 ? "tensor" : "sparse tensor");
    if (!has2)
      return BAD("value '%s': field 'shape' of its %s type is missing (graph inputs and outputs need a shape, "
                 "even an empty one for a scalar)", vname, which == 1 ? "tensor" : "sparse tensor");
    return NULL;
  case 4:
  case 9:
    if (!has1) return BAD("value '%s': field 'elem_type' of its %s type is missing", vname, which == 4 ? "sequence" : "optional");
    return NULL;
  case 5:
    if (!has1 || !has2) return BAD("value '%s': its map type needs both 'key_type' and 'value_type'", vname);
    return NULL;
  case 7: return NULL;
  default: return BAD("value '%s': field 'type' has no tensor, sequence, map, optional or sparse type set", vname);
  }
}

/* ValueInfoProto: a name, and in the main graph a complete type. */
static oxrt_status *check_value_info(ck *c, pb_reader r, bool main_graph, const char *where, char **name_out) {
  uint32_t f, w;
  char *name = NULL;
  bool has_type = false;
  pb_reader type = {0};
  while (pb_next(&r, &f, &w)) {
    if (f == 1 && w == PB_BYTES) {
      if (!(name = read_str(c, &r))) return CORRUPT("ValueInfoProto");
    } else if (f == 2 && w == PB_BYTES) {
      if (!pb_sub(&r, &type)) return CORRUPT("ValueInfoProto");
      has_type = true;
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("ValueInfoProto");
  if (!name || !*name) return BAD("%s: field 'name' is empty (every value needs a name)", where);
  *name_out = name;
  if (!main_graph) return NULL;
  if (!has_type) return BAD("%s '%s': field 'type' is missing", where, name);
  oxrt_status *st = check_type_proto(type, name);
  return st ? oxrt_error_prefix(st, "%s: ", where) : NULL;
}

/* ------------------------------------------------------------- tensors */
static size_t packed_bytes(int dt, uint64_t nelem) {
  switch (dt) {
  case OXRT_INT4:
  case OXRT_UINT4:
  case OXRT_FLOAT4E2M1: return (size_t)((nelem + 1) / 2);
  case OXRT_INT2:
  case OXRT_UINT2: return (size_t)((nelem + 3) / 4);
  default: return (size_t)nelem * oxrt_elem_type_size((oxrt_elem_type)dt);
  }
}

/* Whether `loc` stays inside the model's folder: relative, and no ".." climbs above it. */
static bool path_inside(const char *loc) {
  int depth = 0;
  const char *p = loc;
  while (*p) {
    const char *e = p;
    while (*e && *e != '/' && *e != '\\') e++;
    size_t n = (size_t)(e - p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) return false;
    } else if (n && !(n == 1 && p[0] == '.')) {
      depth++;
    }
    p = *e ? e + 1 : e;
  }
  return true;
}

static oxrt_status *check_tensor(ck *c, pb_reader r, const char *where) {
  uint32_t f, w;
  int64_t dt = 0;
  bool has_dt = false;
  char *name = "";
  uint64_t nelem = 1;
  int fields_seen[16] = {0};
  size_t raw_len = 0;
  int64_t location = 0;
  char *ext_loc = NULL;
  while (pb_next(&r, &f, &w)) {
    uint64_t v;
    pb_bytes b;
    if (f == 1) { /* dims: packed or not */
      if (w == PB_BYTES) {
        pb_reader d;
        if (!pb_sub(&r, &d)) return CORRUPT("TensorProto dims");
        while (d.p < d.end && pb_varint(&d, &v)) nelem *= v;
        if (d.error) return CORRUPT("TensorProto dims");
      } else {
        if (!pb_varint(&r, &v)) return CORRUPT("TensorProto dims");
        nelem *= v;
      }
    } else if (f == 2 && w == PB_VARINT) {
      if (!pb_varint(&r, &v)) return CORRUPT("TensorProto");
      dt = (int64_t)v, has_dt = true;
    } else if (f == 8 && w == PB_BYTES) {
      if (!(name = read_str(c, &r))) return CORRUPT("TensorProto");
    } else if (f == 9 && w == PB_BYTES) {
      if (!pb_bytes_read(&r, &b)) return CORRUPT("TensorProto raw_data");
      fields_seen[9] = 1, raw_len = b.len;
    } else if (f == 14 && w == PB_VARINT) {
      if (!pb_varint(&r, &v)) return CORRUPT("TensorProto");
      location = (int64_t)v;
    } else if (f == 13 && w == PB_BYTES) {
      pb_reader e;
      if (!pb_sub(&r, &e)) return CORRUPT("TensorProto external_data");
      char *key = NULL, *val = NULL;
      while (pb_next(&e, &f, &w)) {
        if (f == 1 && w == PB_BYTES) key = read_str(c, &e);
        else if (f == 2 && w == PB_BYTES) val = read_str(c, &e);
        else if (!pb_skip(&e, w)) break;
      }
      if (e.error) return CORRUPT("TensorProto external_data");
      if (key && val && !strcmp(key, "location")) ext_loc = val;
    } else if (f == 4 || f == 5 || f == 6 || f == 7 || f == 10 || f == 11) {
      /* a packed empty field still counts as set only when it holds values */
      if (w == PB_BYTES) {
        if (!pb_bytes_read(&r, &b)) return CORRUPT("TensorProto data");
        if (b.len || f == 6) fields_seen[f] = 1;
      } else {
        if (!pb_skip(&r, w)) return CORRUPT("TensorProto data");
        fields_seen[f] = 1;
      }
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("TensorProto");
  if (!has_dt || dt == 0)
    return BAD("%s tensor '%s': field 'data_type' is UNDEFINED (expected an element type)", where, name);
  if (!oxrt_dtype_is_valid((int)dt))
    return BAD("%s tensor '%s': field 'data_type' is %lld, not a known element type", where, name, (long long)dt);
  int n_fields = 0;
  for (int i = 0; i < 16; i++) n_fields += fields_seen[i];
  if (location == 1) {
    if (n_fields && !(n_fields == 1 && fields_seen[9] && raw_len == 0))
      return BAD("%s tensor '%s': stored externally but also holds data in the model", where, name);
    if (!ext_loc)
      return BAD("%s tensor '%s': stored externally (data_location EXTERNAL) but external_data has no 'location'",
                 where, name);
    if (ext_loc[0] == '/' || ext_loc[0] == '\\' || (ext_loc[0] && ext_loc[1] == ':'))
      return BAD("%s tensor '%s': external data location '%s' must be a path relative to the model's folder, "
                 "not an absolute path", where, name, ext_loc);
    if (!path_inside(ext_loc))
      return BAD("%s tensor '%s': external data location '%s' points outside the model's folder", where, name, ext_loc);
    char path[4096];
    snprintf(path, sizeof path, "%s%s%s", c->base_dir, *c->base_dir ? "/" : "", ext_loc);
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
      return BAD("%s tensor '%s': external data file '%s' does not exist or is not a regular file", where, name, path);
    return NULL;
  }
  if (n_fields > 1)
    return BAD("%s tensor '%s': more than one data field is set (expected exactly one of raw_data or a typed field)",
               where, name);
  if (n_fields == 0 && nelem != 0)
    return BAD("%s tensor '%s': no data field is set for %llu elements", where, name, (unsigned long long)nelem);
  if (fields_seen[9]) {
    if (dt == OXRT_STRING) return BAD("%s tensor '%s': STRING data must not be stored in raw_data", where, name);
    size_t need = packed_bytes((int)dt, nelem);
    if (raw_len < need)
      return BAD("%s tensor '%s': raw_data holds %zu bytes, the declared shape and type need %zu", where, name, raw_len,
                 need);
  }
  return NULL;
}

/* SparseTensorProto: values 1-D, indices int64 of shape [NNZ] or [NNZ, rank], in range. */
static oxrt_status *check_sparse(ck *c, pb_reader r, const char *where, char **name_out) {
  uint32_t f, w;
  /* oxrt_read_tensor wants each field with its length prefix: keep the reader as it was before the pb_sub */
  pb_reader values = {0}, indices = {0}, values_field = {0}, indices_field = {0};
  bool hv = false, hi = false;
  int64_t dims[OXRT_MAX_RANK];
  int rank = 0;
  while (pb_next(&r, &f, &w)) {
    uint64_t v;
    if (f == 1 && w == PB_BYTES) {
      values_field = r;
      if (!pb_sub(&r, &values)) return CORRUPT("SparseTensorProto");
      hv = true;
    } else if (f == 2 && w == PB_BYTES) {
      indices_field = r;
      if (!pb_sub(&r, &indices)) return CORRUPT("SparseTensorProto");
      hi = true;
    } else if (f == 3) {
      if (w == PB_BYTES) {
        pb_reader d;
        if (!pb_sub(&r, &d)) return CORRUPT("SparseTensorProto");
        while (d.p < d.end && pb_varint(&d, &v))
          if (rank < OXRT_MAX_RANK) dims[rank++] = (int64_t)v;
      } else {
        if (!pb_varint(&r, &v)) return CORRUPT("SparseTensorProto");
        if (rank < OXRT_MAX_RANK) dims[rank++] = (int64_t)v;
      }
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("SparseTensorProto");
  if (!hv) return BAD("%s sparse tensor: field 'values' is missing", where);
  OXRT_TRY(check_tensor(c, values, where));
  oxrt_tensor_src src = {.borrow = false, .base_dir = c->base_dir};
  oxrt_value *vt = NULL, *it = NULL;
  const char *vname = NULL, *iname = NULL;
  OXRT_TRY(oxrt_read_tensor(&values_field, &src, c->a, &vt, &vname));
  *name_out = (char *)(vname ? vname : "");
  oxrt_status *st = NULL;
  if (vt->rank != 1) {
    st = BAD("%s sparse tensor '%s': values must have rank 1, got rank %d", where, *name_out, vt->rank);
    goto done;
  }
  for (int i = 0; i < rank; i++)
    if (dims[i] <= 0) {
      st = BAD("%s sparse tensor '%s': dims[%d] is %lld (expected a positive size)", where, *name_out, i, (long long)dims[i]);
      goto done;
    }
  if (hi) {
    if ((st = check_tensor(c, indices, where))) goto done;
    if ((st = oxrt_read_tensor(&indices_field, &src, c->a, &it, &iname))) goto done;
    int64_t nnz = vt->dims[0];
    if (it->dtype != OXRT_INT64) {
      st = BAD("%s sparse tensor '%s': indices must be int64, got %s", where, *name_out, oxrt_elem_type_name(it->dtype));
      goto done;
    }
    const int64_t *ix = it->data;
    int64_t total = 1;
    for (int i = 0; i < rank; i++) total = total > INT64_MAX / dims[i] ? INT64_MAX : total * dims[i];
    if (it->rank == 1 && it->dims[0] == nnz) {
      for (int64_t k = 0; k < nnz; k++)
        if (ix[k] < 0 || ix[k] >= total || (k && ix[k] <= ix[k - 1])) {
          st = BAD("%s sparse tensor '%s': index %lld at position %lld is out of range or not in ascending order",
                   where, *name_out, (long long)ix[k], (long long)k);
          goto done;
        }
    } else if (it->rank == 2 && it->dims[0] == nnz && it->dims[1] == rank) {
      for (int64_t k = 0; k < nnz; k++)
        for (int d = 0; d < rank; d++)
          if (ix[k * rank + d] < 0 || ix[k * rank + d] >= dims[d]) {
            st = BAD("%s sparse tensor '%s': index [%lld, %d] = %lld is outside dimension %d of size %lld", where,
                     *name_out, (long long)k, d, (long long)ix[k * rank + d], d, (long long)dims[d]);
            goto done;
          }
    } else {
      st = BAD("%s sparse tensor '%s': indices must have shape [%lld] or [%lld, %d]", where, *name_out, (long long)nnz,
               (long long)nnz, rank);
    }
  }
done:
  oxrt_value_free(vt);
  oxrt_value_free(it);
  return st;
}

/* ---------------------------------------------------------------- graph */
static oxrt_status *check_graph(ck *c, pb_reader g, scope *parent, bool main_graph, const char *ctx);

static const char *attr_type_name(int t) {
  static const char *const names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
                                      "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO",
                                      "TYPE_PROTOS"};
  return t >= 0 && t < 15 ? names[t] : "?";
}

typedef struct node_attr {
  char *name;
  int type;
  bool ref; /* ref_attr_name set: refers to a function attribute */
} node_attr;

/* AttributeProto: one value field, matching `type`; subgraphs and tensors checked recursively. */
static oxrt_status *check_attribute(ck *c, pb_reader r, scope *sc, const char *nctx, node_attr *out) {
  /* field number -> attribute type of the value it carries */
  static const int field_type[24] = {[2] = 1, [3] = 2, [4] = 3, [5] = 4, [6] = 5, [7] = 6, [8] = 7, [9] = 8,
                                     [10] = 9, [11] = 10, [22] = 11, [23] = 12, [14] = 13, [15] = 14};
  uint32_t f, w;
  out->name = "";
  out->type = 0;
  out->ref = false;
  int used[24] = {0};
  pb_reader all = r;
  while (pb_next(&r, &f, &w)) {
    uint64_t v;
    if (f == 1 && w == PB_BYTES) {
      if (!(out->name = read_str(c, &r))) return CORRUPT("AttributeProto");
    } else if (f == 20 && w == PB_VARINT) {
      if (!pb_varint(&r, &v)) return CORRUPT("AttributeProto");
      out->type = (int)v;
    } else if (f == 21 && w == PB_BYTES) {
      if (!read_str(c, &r)) return CORRUPT("AttributeProto");
      out->ref = true;
    } else {
      if (f < 24 && field_type[f]) {
        pb_bytes b;
        /* an empty packed repeated field holds no value */
        if (w == PB_BYTES && (f == 7 || f == 8)) {
          if (!pb_bytes_read(&r, &b)) return CORRUPT("AttributeProto");
          if (b.len) used[f] = 1;
          continue;
        }
        used[f] = 1;
      }
      if (!pb_skip(&r, w)) break;
    }
  }
  if (r.error) return CORRUPT("AttributeProto");
  if (!*out->name) return BAD("%s: an attribute has an empty 'name'", nctx);
  int n_used = 0;
  for (int i = 0; i < 24; i++) {
    if (!used[i]) continue;
    n_used++;
    if (field_type[i] != out->type)
      return BAD("%s: attribute '%s' has type %s but holds a %s value (field 'type' and the value field disagree)",
                 nctx, out->name, attr_type_name(out->type), attr_type_name(field_type[i]));
  }
  if (n_used > 1) return BAD("%s: attribute '%s' holds more than one value field", nctx, out->name);
  if (!n_used && !out->ref && (out->type < 1 || out->type > 14))
    return BAD("%s: attribute '%s' has no type and no value", nctx, out->name);
  /* recurse into tensors and graphs */
  r = all;
  while (pb_next(&r, &f, &w)) {
    pb_reader sub;
    if ((f == 5 || f == 10) && w == PB_BYTES) {
      if (!pb_sub(&r, &sub)) return CORRUPT("AttributeProto");
      char where[600];
      snprintf(where, sizeof where, "%s: attribute '%s'", nctx, out->name);
      OXRT_TRY(check_tensor(c, sub, where));
    } else if ((f == 22 || f == 23) && w == PB_BYTES) {
      if (!pb_sub(&r, &sub)) return CORRUPT("AttributeProto");
      char where[600], *nm;
      snprintf(where, sizeof where, "%s: attribute '%s'", nctx, out->name);
      OXRT_TRY(check_sparse(c, sub, where, &nm));
    } else if ((f == 6 || f == 11) && w == PB_BYTES) {
      if (!pb_sub(&r, &sub)) return CORRUPT("AttributeProto");
      char where[600];
      snprintf(where, sizeof where, "%s: attribute '%s'", nctx, out->name);
      OXRT_TRY(check_graph(c, sub, sc, false, where));
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  return NULL;
}

static bool is_model_function(const ck *c, const char *domain, const char *op) {
  for (int i = 0; i < c->n_funcs; i++) {
    const char *k = c->func_keys[i];
    size_t dl = strlen(domain);
    if (!strncmp(k, domain, dl) && k[dl] == ':' && !strcmp(k + dl + 1, op)) return true;
  }
  return false;
}

static const opset_entry *find_opset(const ck *c, const char *domain) {
  for (int i = 0; i < c->n_opsets; i++)
    if (!strcmp(c->opsets[i].domain, domain)) return &c->opsets[i];
  return NULL;
}

/* NodeProto against its schema: arity, empty single inputs, attribute names, types and required ones. */
static oxrt_status *check_node(ck *c, pb_reader r, scope *sc, const char *op, const char *domain, const char *nctx,
                               const strlist *ins, const strlist *outs) {
  if (!*op) return BAD("%s: field 'op_type' is empty", nctx);
  if (ins->n == 0 && outs->n == 0) return BAD("%s: has no inputs and no outputs", nctx);
  int n_attr = 0, cap = 8;
  node_attr *attrs = oxrt_arena_alloc(c->a, sizeof *attrs * (size_t)cap);
  if (!attrs) return OXRT_OOM();
  uint32_t f, w;
  while (pb_next(&r, &f, &w)) {
    if (f == 5 && w == PB_BYTES) {
      pb_reader sub;
      if (!pb_sub(&r, &sub)) return CORRUPT("NodeProto attribute");
      if (n_attr == cap) {
        node_attr *na = oxrt_arena_alloc(c->a, sizeof *attrs * (size_t)cap * 2);
        if (!na) return OXRT_OOM();
        memcpy(na, attrs, sizeof *attrs * (size_t)cap);
        attrs = na, cap *= 2;
      }
      OXRT_TRY(check_attribute(c, sub, sc, nctx, &attrs[n_attr]));
      for (int k = 0; k < n_attr; k++)
        if (!strcmp(attrs[k].name, attrs[n_attr].name))
          return BAD("%s: attribute '%s' appears more than once", nctx, attrs[k].name);
      n_attr++;
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("NodeProto");
  const char *dom = strcmp(domain, "ai.onnx") ? domain : "";
  const opset_entry *os = find_opset(c, dom);
  if (!os) return BAD("%s: domain '%s' is not in the model's opset_import", nctx, dom);
  const sc_schema *s = oxrt_schema_find(dom, op, os->version);
  if (!s) {
    if (oxrt_schema_domain_known(dom) && !is_model_function(c, dom, op))
      return BAD("%s: no operator %s is registered in domain '%s' at opset %lld", nctx, op, *dom ? dom : "ai.onnx",
                 (long long)os->version);
    return NULL; /* a custom op or a model-local function: nothing to check it against */
  }
  if (s->deprecated)
    return BAD("%s: operator %s is deprecated at opset %lld (since opset %d)", nctx, op, (long long)os->version, s->since);
  if (ins->n < s->min_in || (s->max_in >= 0 && ins->n > s->max_in))
    return BAD("%s: has %d inputs, %s-%d expects %d to %d%s", nctx, ins->n, op, s->since, s->min_in,
               s->max_in < 0 ? s->min_in : s->max_in, s->max_in < 0 ? " or more" : "");
  if (outs->n < s->min_out || (s->max_out >= 0 && outs->n > s->max_out))
    return BAD("%s: has %d outputs, %s-%d expects %d to %d%s", nctx, outs->n, op, s->since, s->min_out,
               s->max_out < 0 ? s->min_out : s->max_out, s->max_out < 0 ? " or more" : "");
  for (int i = 0; i < ins->n && s->n_in; i++) {
    const sc_param *p = oxrt_schema_param(s, i < s->n_in ? i : s->n_in - 1);
    if (!*ins->v[i] && p->option == 0)
      return BAD("%s: input %d is empty, but %s requires it (it is not optional)", nctx, i, op);
  }
  for (int i = 0; i < outs->n && s->n_out; i++) {
    const sc_param *p = oxrt_schema_param(s, s->n_in + (i < s->n_out ? i : s->n_out - 1));
    if (!*outs->v[i] && p->option == 0)
      return BAD("%s: output %d is empty, but %s requires it (it is not optional)", nctx, i, op);
  }
  for (int k = 0; k < n_attr; k++) {
    const sc_attr *sa = NULL;
    for (int j = 0; j < s->n_attrs && !sa; j++)
      if (!strcmp(oxrt_schema_attr(s, j)->name, attrs[k].name)) sa = oxrt_schema_attr(s, j);
    if (!sa) return BAD("%s: attribute '%s' is not an attribute of %s-%d", nctx, attrs[k].name, op, s->since);
    if (!attrs[k].ref && sa->type != attrs[k].type)
      return BAD("%s: attribute '%s' has type %s, %s-%d expects %s", nctx, attrs[k].name, attr_type_name(attrs[k].type),
                 op, s->since, attr_type_name(sa->type));
  }
  for (int j = 0; j < s->n_attrs; j++) {
    const sc_attr *sa = oxrt_schema_attr(s, j);
    if (!sa->required) continue;
    bool found = false;
    for (int k = 0; k < n_attr && !found; k++) found = !strcmp(attrs[k].name, sa->name);
    if (!found) return BAD("%s: required attribute '%s' (%s) is missing", nctx, sa->name, attr_type_name(sa->type));
  }
  return NULL;
}

/* Calls fn for each length-delimited field `want` of a message. */
#define FOR_FIELD(msg, want, sub, ...)                                                                                \
  do {                                                                                                                 \
    pb_reader it_ = (msg);                                                                                             \
    uint32_t f_, w_;                                                                                                   \
    while (pb_next(&it_, &f_, &w_)) {                                                                                  \
      if (f_ == (want) && w_ == PB_BYTES) {                                                                            \
        pb_reader sub;                                                                                                 \
        if (!pb_sub(&it_, &sub)) return CORRUPT("GraphProto");                                                         \
        __VA_ARGS__                                                                                                    \
      } else if (!pb_skip(&it_, w_)) {                                                                                 \
        break;                                                                                                         \
      }                                                                                                                \
    }                                                                                                                  \
    if (it_.error) return CORRUPT("GraphProto");                                                                       \
  } while (0)

static oxrt_status *check_graph_in(ck *c, pb_reader g, scope *sc, bool main_graph, const char *gname);

static oxrt_status *check_graph(ck *c, pb_reader g, scope *parent, bool main_graph, const char *ctx) {
  char *gname = NULL;
  { /* name: field 2 */
    pb_reader r = g;
    uint32_t f, w;
    while (pb_next(&r, &f, &w)) {
      if (f == 2 && w == PB_BYTES) gname = read_str(c, &r);
      else if (!pb_skip(&r, w)) break;
    }
  }
  if (!gname || !*gname) return BAD("%s: graph field 'name' is empty", ctx);
  if (c->depth >= 64) return BAD("%s: graph '%s' is nested more than 64 levels deep", ctx, gname);
  scope sc = {parent, 0, 0, NULL};
  c->depth++;
  oxrt_status *st = check_graph_in(c, g, &sc, main_graph, gname);
  c->depth--;
  scope_free(&sc);
  return st ? oxrt_error_prefix(st, "%s%s", ctx, *ctx ? ": " : "") : NULL;
}

static oxrt_status *check_graph_in(ck *c, pb_reader g, scope *sc, bool main_graph, const char *gname) {
  char where[512];
  strlist inputs = {0, NULL};
  int n_in = 0;
  /* inputs */
  {
    int cnt = 0;
    FOR_FIELD(g, 11, sub, { (void)sub; cnt++; });
    inputs.v = oxrt_arena_alloc(c->a, sizeof(char *) * (size_t)(cnt + 1));
    if (!inputs.v) return OXRT_OOM();
  }
  FOR_FIELD(g, 11, sub, {
    char *nm;
    snprintf(where, sizeof where, "graph '%s' input %d", gname, n_in);
    OXRT_TRY(check_value_info(c, sub, main_graph, where, &nm));
    if (scope_has(sc, nm))
      return BAD("graph '%s': '%s' is defined more than once (as graph input); names must be unique (SSA)", gname, nm);
    if (!scope_add(sc, nm)) return OXRT_OOM();
    inputs.v[n_in++] = nm;
  });
  inputs.n = n_in;
  /* initializers */
  scope inits = {NULL, 0, 0, NULL};
  oxrt_status *st = NULL;
  {
    pb_reader it = g;
    uint32_t f, w;
    while (!st && pb_next(&it, &f, &w)) {
      if ((f == 5 || f == 15) && w == PB_BYTES) {
        pb_reader sub;
        if (!pb_sub(&it, &sub)) {
          st = CORRUPT("GraphProto initializer");
          break;
        }
        char *nm = NULL;
        snprintf(where, sizeof where, "graph '%s' initializer", gname);
        if (f == 5) {
          if ((st = check_tensor(c, sub, where))) break;
          pb_reader r2 = sub;
          uint32_t f2, w2;
          while (pb_next(&r2, &f2, &w2)) {
            if (f2 == 8 && w2 == PB_BYTES) nm = read_str(c, &r2);
            else if (!pb_skip(&r2, w2)) break;
          }
        } else if ((st = check_sparse(c, sub, where, &nm))) {
          break;
        }
        if (!nm || !*nm) {
          st = BAD("graph '%s': an initializer has an empty 'name'", gname);
          break;
        }
        if (scope_has_local(&inits, nm)) {
          st = BAD("graph '%s': two initializers are named '%s'", gname, nm);
          break;
        }
        if (!scope_add(&inits, nm)) {
          st = OXRT_OOM();
          break;
        }
        bool is_input = scope_has_local(sc, nm);
        if (c->ir_version < 4 && !is_input) {
          st = BAD("graph '%s': initializer '%s' is not a graph input (IR version %lld < 4 requires every initializer "
                   "to be listed as an input)", gname, nm, (long long)c->ir_version);
          break;
        }
        if (!is_input) {
          if (scope_has(sc, nm)) {
            st = BAD("graph '%s': initializer '%s' redefines a name of an enclosing graph (SSA)", gname, nm);
            break;
          }
          if (!scope_add(sc, nm)) st = OXRT_OOM();
        }
      } else if (!pb_skip(&it, w)) {
        break;
      }
    }
    if (!st && it.error) st = CORRUPT("GraphProto");
  }
  scope_free(&inits);
  if (st) return st;
  /* nodes, in order */
  int idx = 0;
  FOR_FIELD(g, 1, nsub, {
    char *op = "", *nname = "", *domain = "";
    pb_reader r = nsub;
    uint32_t f, w;
    while (pb_next(&r, &f, &w)) {
      if (f == 3 && w == PB_BYTES) nname = read_str(c, &r);
      else if (f == 4 && w == PB_BYTES) op = read_str(c, &r);
      else if (f == 7 && w == PB_BYTES) domain = read_str(c, &r);
      else if (!pb_skip(&r, w)) break;
      if (!nname || !op || !domain) return OXRT_OOM();
    }
    if (r.error) return CORRUPT("NodeProto");
    strlist ins, outs;
    OXRT_TRY(collect_strings(c, nsub, 1, &ins, "NodeProto inputs"));
    OXRT_TRY(collect_strings(c, nsub, 2, &outs, "NodeProto outputs"));
    char nctx[512];
    snprintf(nctx, sizeof nctx, "graph '%s' node #%d '%s' (%s%s%s)", gname, idx, nname, *domain ? domain : "",
             *domain ? ":" : "", op);
    for (int i = 0; i < ins.n; i++)
      if (*ins.v[i] && !scope_has(sc, ins.v[i]))
        return BAD("%s: input %d '%s' is not a graph input, an initializer or an output of an earlier node "
                   "(nodes must be topologically sorted)", nctx, i, ins.v[i]);
    OXRT_TRY(check_node(c, nsub, sc, op, domain, nctx, &ins, &outs));
    for (int i = 0; i < outs.n; i++) {
      if (!*outs.v[i]) continue;
      if (scope_has(sc, outs.v[i]))
        return BAD("%s: output %d '%s' is already defined; every name must be assigned once (SSA)", nctx, i, outs.v[i]);
      if (!scope_add(sc, outs.v[i])) return OXRT_OOM();
    }
    idx++;
  });
  /* outputs */
  int k = 0;
  FOR_FIELD(g, 12, sub, {
    char *nm;
    snprintf(where, sizeof where, "graph '%s' output %d", gname, k);
    OXRT_TRY(check_value_info(c, sub, main_graph, where, &nm));
    if (!scope_has(sc, nm)) return BAD("graph '%s': output '%s' is not produced by any node", gname, nm);
    k++;
  });
  k = 0;
  FOR_FIELD(g, 13, sub, {
    char *nm;
    snprintf(where, sizeof where, "graph '%s' value_info %d", gname, k);
    OXRT_TRY(check_value_info(c, sub, false, where, &nm));
    k++;
  });
  return NULL;
}

/* A model-local function: nodes in order over its inputs (SSA), each node against the schemas of the function's
 * own opset imports. */
static oxrt_status *check_function(ck *c, pb_reader fn) {
  char *name = "";
  opset_entry saved[64];
  int n_saved = c->n_opsets;
  memcpy(saved, c->opsets, sizeof saved);
  c->n_opsets = 0;
  uint32_t f, w;
  pb_reader r = fn;
  while (pb_next(&r, &f, &w)) {
    uint64_t v;
    if (f == 1 && w == PB_BYTES) {
      if (!(name = read_str(c, &r))) return CORRUPT("FunctionProto");
    } else if (f == 9 && w == PB_BYTES) {
      pb_reader o;
      if (!pb_sub(&r, &o)) return CORRUPT("FunctionProto opset_import");
      char *dom = "";
      int64_t ver = 0;
      while (pb_next(&o, &f, &w)) {
        if (f == 1 && w == PB_BYTES) dom = read_str(c, &o);
        else if (f == 2 && w == PB_VARINT && pb_varint(&o, &v)) ver = (int64_t)v;
        else if (!pb_skip(&o, w)) break;
      }
      if (o.error || !dom) return CORRUPT("FunctionProto opset_import");
      if (c->n_opsets < 64) c->opsets[c->n_opsets++] = (opset_entry){strcmp(dom, "ai.onnx") ? dom : "", ver};
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("FunctionProto");
  scope sc = {NULL, 0, 0, NULL};
  oxrt_status *st = NULL;
  strlist ins, outs;
  if (!(st = collect_strings(c, fn, 4, &ins, "FunctionProto inputs")))
    for (int i = 0; i < ins.n && !st; i++)
      if (!scope_add(&sc, ins.v[i])) st = OXRT_OOM();
  int idx = 0;
  r = fn;
  while (!st && pb_next(&r, &f, &w)) {
    if (f != 7 || w != PB_BYTES) {
      if (!pb_skip(&r, w)) break;
      continue;
    }
    pb_reader nsub, q;
    if (!pb_sub(&r, &nsub)) break;
    char *op = "", *nname = "", *domain = "";
    q = nsub;
    while (pb_next(&q, &f, &w)) {
      if (f == 3 && w == PB_BYTES) nname = read_str(c, &q);
      else if (f == 4 && w == PB_BYTES) op = read_str(c, &q);
      else if (f == 7 && w == PB_BYTES) domain = read_str(c, &q);
      else if (!pb_skip(&q, w)) break;
    }
    if (q.error || !op || !nname || !domain) {
      st = CORRUPT("NodeProto");
      break;
    }
    char nctx[600];
    snprintf(nctx, sizeof nctx, "function '%s' node #%d '%s' (%s%s%s)", name, idx++, nname, domain, *domain ? ":" : "",
             op);
    if ((st = collect_strings(c, nsub, 1, &ins, "NodeProto inputs")) ||
        (st = collect_strings(c, nsub, 2, &outs, "NodeProto outputs")))
      break;
    for (int i = 0; i < ins.n && !st; i++)
      if (*ins.v[i] && !scope_has(&sc, ins.v[i]))
        st = BAD("%s: input %d '%s' is not a function input or an output of an earlier node (nodes must be "
                 "topologically sorted)", nctx, i, ins.v[i]);
    if (!st) st = check_node(c, nsub, &sc, op, domain, nctx, &ins, &outs);
    for (int i = 0; i < outs.n && !st; i++) {
      if (!*outs.v[i]) continue;
      if (scope_has(&sc, outs.v[i]))
        st = BAD("%s: output %d '%s' is already defined; every name must be assigned once (SSA)", nctx, i, outs.v[i]);
      else if (!scope_add(&sc, outs.v[i]))
        st = OXRT_OOM();
    }
  }
  if (!st && r.error) st = CORRUPT("FunctionProto");
  scope_free(&sc);
  memcpy(c->opsets, saved, sizeof saved);
  c->n_opsets = n_saved;
  return st;
}

/* ---------------------------------------------------------------- model */
static oxrt_status *check_model_struct(ck *c, const void *data, size_t size) {
  pb_reader r = pb_init(data, size);
  uint32_t f, w;
  bool has_ir = false, has_graph = false;
  pb_reader graph = {0};
  while (pb_next(&r, &f, &w)) {
    uint64_t v;
    if (f == 1 && w == PB_VARINT) {
      if (!pb_varint(&r, &v)) break;
      c->ir_version = (int64_t)v, has_ir = true;
    } else if (f == 7 && w == PB_BYTES) {
      if (!pb_sub(&r, &graph)) break;
      has_graph = true;
    } else if (f == 8 && w == PB_BYTES) {
      pb_reader o;
      if (!pb_sub(&r, &o)) break;
      char *dom = "";
      int64_t ver = 0;
      while (pb_next(&o, &f, &w)) {
        if (f == 1 && w == PB_BYTES) dom = read_str(c, &o);
        else if (f == 2 && w == PB_VARINT && pb_varint(&o, &v)) ver = (int64_t)v;
        else if (!pb_skip(&o, w)) break;
      }
      if (o.error || !dom) return CORRUPT("OperatorSetIdProto");
      if (!strcmp(dom, "ai.onnx")) dom = "";
      if (find_opset(c, dom))
        return BAD("model: opset_import lists domain '%s' twice", *dom ? dom : "ai.onnx");
      if (c->n_opsets == 64) return BAD("model: more than 64 opset_import entries");
      c->opsets[c->n_opsets++] = (opset_entry){dom, ver};
    } else if (f == 25 && w == PB_BYTES) {
      pb_reader fn;
      if (!pb_sub(&r, &fn)) break;
      char *name = "", *dom = "";
      while (pb_next(&fn, &f, &w)) {
        if (f == 1 && w == PB_BYTES) name = read_str(c, &fn);
        else if (f == 10 && w == PB_BYTES) dom = read_str(c, &fn);
        else if (!pb_skip(&fn, w)) break;
      }
      if (fn.error || !name || !dom) return CORRUPT("FunctionProto");
      if (c->n_funcs < 256) {
        size_t n = strlen(dom) + strlen(name) + 2;
        char *k = oxrt_arena_alloc(c->a, n);
        if (!k) return OXRT_OOM();
        snprintf(k, n, "%s:%s", dom, name);
        c->func_keys[c->n_funcs++] = k;
      }
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  if (r.error) return CORRUPT("ModelProto (not an ONNX model?)");
  if (!has_ir || c->ir_version <= 0) return BAD("model: field 'ir_version' is missing (expected 1 to %d)", OXRT_SCHEMA_IR_VERSION);
  if (c->ir_version > OXRT_SCHEMA_IR_VERSION)
    return BAD("model: ir_version %lld is newer than this checker's %d", (long long)c->ir_version, OXRT_SCHEMA_IR_VERSION);
  if (c->ir_version >= 3 && c->n_opsets == 0)
    return BAD("model: field 'opset_import' is empty (IR version %lld >= 3 must import the ai.onnx opset)",
               (long long)c->ir_version);
  if (c->ir_version < 3) {
    if (c->n_opsets) return BAD("model: IR version %lld < 3 must not have opset_import", (long long)c->ir_version);
    c->opsets[c->n_opsets++] = (opset_entry){"", 1};
  }
  if (!has_graph) return BAD("model: field 'graph' is missing");
  OXRT_TRY(check_graph(c, graph, NULL, true, ""));
  r = pb_init(data, size);
  while (pb_next(&r, &f, &w)) {
    pb_reader fn;
    if (f == 25 && w == PB_BYTES) {
      if (!pb_sub(&r, &fn)) break;
      OXRT_TRY(check_function(c, fn));
    } else if (!pb_skip(&r, w)) {
      break;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ full check */
static bool type_in_mask(uint32_t mask, oxrt_elem_type t) { return (mask & SC_TYPES_OTHER) || (t < 31 && (mask >> t) & 1); }

/* Element type of a graph value if known (declared, inferred or an initializer). */
static oxrt_elem_type value_elem(const oxrt_graph *g, int id) {
  if (id < 0) return OXRT_UNDEFINED;
  const oxrt_value_def *d = &g->values[id];
  if (d->init) return d->init->dtype;
  if (d->type && d->type->kind == OXRT_KIND_TENSOR) return d->type->elem_type;
  return OXRT_UNDEFINED;
}

/* Input (or output, `out`) element types against the schema's type constraints and type variables. */
static oxrt_status *check_node_types(const oxrt_graph *g, const oxrt_node *n, const sc_schema *s, bool out) {
  oxrt_elem_type bound[32] = {0};
  int bound_at[32];
  for (int pass = 0; pass < 2; pass++) {
    int cnt = pass ? n->n_outputs : n->n_inputs;
    int nf = pass ? s->n_out : s->n_in;
    if (pass && !out) break;
    for (int i = 0; i < cnt && nf; i++) {
      const sc_param *p = oxrt_schema_param(s, (pass ? s->n_in : 0) + (i < nf ? i : nf - 1));
      int id = pass ? n->outputs[i] : n->inputs[i];
      if (id < 0) continue;
      const oxrt_value_def *d = &g->values[id];
      if (!d->init && d->type && d->type->kind != OXRT_KIND_TENSOR && d->type->kind != OXRT_KIND_UNKNOWN &&
          !(p->types & SC_TYPES_OTHER))
        return BAD("%s %d '%s': a %s, the operator takes tensors only", pass ? "output" : "input", i, d->name,
                   d->type->kind == OXRT_KIND_SEQUENCE ? "sequence" : "non-tensor value");
      oxrt_elem_type t = value_elem(g, id);
      if (t == OXRT_UNDEFINED) continue;
      if (!type_in_mask(p->types, t))
        return BAD("%s %d '%s': element type %s is not allowed by %s-%d's type constraint", pass ? "output" : "input",
                   i, d->name, oxrt_elem_type_name(t), s->name, s->since);
      if (!p->type_var || (i >= nf - 1 && p->option == 2 && !p->homogeneous)) continue;
      if (!bound[p->type_var]) {
        bound[p->type_var] = t;
        bound_at[p->type_var] = i;
      } else if (bound[p->type_var] != t) {
        return BAD("%s %d '%s' is %s but %s %d has %s; %s-%d requires them to have one type",
                   pass ? "output" : "input", i, d->name, oxrt_elem_type_name(t), "input", bound_at[p->type_var],
                   oxrt_elem_type_name(bound[p->type_var]), s->name, s->since);
      }
    }
  }
  return NULL;
}

oxrt_status *oxrt_check_node_input_types(const oxrt_model *m, const oxrt_graph *g, const oxrt_node *n) {
  int64_t ver = oxrt_model_opset(m, n->domain);
  const sc_schema *s = ver >= 0 ? oxrt_schema_find(n->domain, n->op_type, ver) : NULL;
  return s ? check_node_types(g, n, s, false) : NULL;
}

/* Declared type of an initializer's graph input must match the tensor. */
static oxrt_status *check_init_inputs(const oxrt_graph *g) {
  for (int k = 0; k < g->n_inputs; k++) {
    const oxrt_value_def *d = &g->values[g->inputs[k]];
    if (!d->init || !d->type || d->type->kind != OXRT_KIND_TENSOR) continue;
    const oxrt_type *t = d->type;
    if (t->elem_type != OXRT_UNDEFINED && t->elem_type != d->init->dtype)
      return BAD("graph input '%s' is declared %s but its initializer is %s", d->name, oxrt_elem_type_name(t->elem_type),
                 oxrt_elem_type_name(d->init->dtype));
    if (t->rank >= 0 && t->rank != d->init->rank)
      return BAD("graph input '%s' is declared with rank %d but its initializer has rank %d", d->name, t->rank,
                 d->init->rank);
    for (int i = 0; t->rank > 0 && i < t->rank; i++)
      if (t->dims[i] >= 0 && t->dims[i] != d->init->dims[i])
        return BAD("graph input '%s' dimension %d is declared %lld but its initializer has %lld", d->name, i,
                   (long long)t->dims[i], (long long)d->init->dims[i]);
  }
  return NULL;
}

static oxrt_status *check_full(const void *data, size_t size, const char *base_dir) {
  oxrt_tensor_src src = {.borrow = true, .base_dir = *base_dir ? base_dir : "."};
  oxrt_model *m;
  OXRT_TRY(oxrt_read_model(data, size, &src, &m));
  oxrt_graph *g = m->graph;
  oxrt_status *st = check_init_inputs(g);
  oxrt_infer *inf = NULL;
  if (!st) st = oxrt_infer_begin(m, g, OXRT_INFER_STRICT | OXRT_INFER_EXTENDED, &inf);
  for (int i = 0; !st && i < g->n_nodes; i++) {
    const oxrt_node *n = &g->nodes[i];
    int64_t ver = oxrt_model_opset(m, n->domain);
    const sc_schema *s = ver >= 0 ? oxrt_schema_find(n->domain, n->op_type, ver) : NULL;
    if (s) st = check_node_types(g, n, s, false);
    if (!st) st = oxrt_infer_node(inf, n);
    if (!st && s) st = check_node_types(g, n, s, true);
    if (st) st = oxrt_error_prefix(st, "node #%d '%s' (%s): ", i, n->name, n->op_type);
  }
  oxrt_infer_end(inf);
  oxrt_model_free(m);
  return st ? oxrt_error_prefix(st, "type and shape inference: ") : NULL;
}

oxrt_status *oxrt_check_model_data(const void *data, size_t size, const char *base_dir, bool full) {
  if (!data || !size) return BAD("model is empty");
  ck c;
  memset(&c, 0, sizeof c);
  c.base_dir = base_dir ? base_dir : "";
  c.a = oxrt_arena_create();
  if (!c.a) return OXRT_OOM();
  oxrt_status *st = check_model_struct(&c, data, size);
  oxrt_arena_free(c.a);
  if (!st && full) st = check_full(data, size, c.base_dir);
  return st;
}

/* ------------------------------------------------------------ public API */
oxrt_status *oxrt_check_model(const char *path, unsigned flags) {
  if (!path) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "path must not be NULL");
  void *base;
  size_t size;
  int kind;
  OXRT_TRY(oxrt_map_file(path, &base, &size, &kind));
  char dir[4096];
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  if (n >= sizeof dir) n = sizeof dir - 1;
  memcpy(dir, path, n);
  dir[n] = 0;
  if (slash && n == 0) strcpy(dir, "/");
  oxrt_status *st = oxrt_check_model_data(base, size, dir, (flags & OXRT_CHECK_FULL) != 0);
  oxrt_unmap_file(base, size, kind);
  return st;
}

oxrt_status *oxrt_check_model_bytes(const void *data, size_t size, unsigned flags) {
  return oxrt_check_model_data(data, size, "", (flags & OXRT_CHECK_FULL) != 0);
}
