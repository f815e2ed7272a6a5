/* encoders.c - ai.onnx.ml LabelEncoder (1, 2, 4), CategoryMapper, OneHotEncoder, DictVectorizer, ZipMap.
 * Keys are sorted once at prepare and looked up by binary search. */
#include "ml_common.h"

/* ------------------------------------------------------------ sorted key sets */
enum { KS_STR, KS_INT, KS_DBL };
typedef struct {
  int kind;
  size_t n;
  const char **s; /* borrowed from attributes, or owned copies when from a tensor */
  int64_t *i;
  double *d;
  size_t *order; /* key positions sorted by key */
  bool own_s;
} keyset;

static void keyset_free(keyset *k) {
  if (k->own_s)
    for (size_t j = 0; j < k->n; j++) free((char *)k->s[j]);
  if (k->own_s) free((void *)k->s);
  free(k->i), free(k->d), free(k->order);
  memset(k, 0, sizeof *k);
}

static int ks_cmp(const keyset *k, size_t a, size_t b) {
  switch (k->kind) {
  case KS_STR: return strcmp(k->s[a], k->s[b]);
  case KS_INT: return k->i[a] < k->i[b] ? -1 : k->i[a] > k->i[b];
  default: {
    double x = k->d[a], y = k->d[b]; /* NaN sorts last and equals NaN */
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
  }
  }
}

static oxrt_status *keyset_sort(keyset *k) {
  k->order = malloc(sizeof(size_t) * (k->n + 1));
  if (!k->order) return OXRT_OOM();
  for (size_t j = 0; j < k->n; j++) k->order[j] = j;
  /* qsort has no context pointer in C11: insertion sort for small sets, heap sort otherwise */
  size_t n = k->n, *o = k->order;
  if (n < 32) {
    for (size_t a = 1; a < n; a++)
      for (size_t b = a; b > 0 && ks_cmp(k, o[b - 1], o[b]) > 0; b--) {
        size_t t = o[b];
        o[b] = o[b - 1], o[b - 1] = t;
      }
  } else {
    for (size_t start = n / 2; start-- > 0;) {
      for (size_t root = start;;) {
        size_t child = 2 * root + 1;
        if (child >= n) break;
        if (child + 1 < n && ks_cmp(k, o[child], o[child + 1]) < 0) child++;
        if (ks_cmp(k, o[root], o[child]) >= 0) break;
        size_t t = o[root];
        o[root] = o[child], o[child] = t, root = child;
      }
    }
    for (size_t end = n; end-- > 1;) {
      size_t t = o[0];
      o[0] = o[end], o[end] = t;
      for (size_t root = 0;;) {
        size_t child = 2 * root + 1;
        if (child >= end) break;
        if (child + 1 < end && ks_cmp(k, o[child], o[child + 1]) < 0) child++;
        if (ks_cmp(k, o[root], o[child]) >= 0) break;
        size_t t2 = o[root];
        o[root] = o[child], o[child] = t2, root = child;
      }
    }
  }
  return NULL;
}

/* Position of element `idx` of tensor `x` among the keys, or -1. */
static int64_t keyset_find(const keyset *k, const oxrt_value *x, size_t idx) {
  const char *s = NULL;
  int64_t iv = 0;
  double dv = 0;
  if (k->kind == KS_STR) {
    if (x->dtype != OXRT_STRING) return -1;
    s = ((char *const *)x->data)[idx];
  } else if (x->dtype == OXRT_STRING) {
    return -1;
  } else if (k->kind == KS_INT) {
    if (oxrt_dtype_is_float(x->dtype)) {
      double d = oxrt_load_f64(x->dtype, x->data, idx);
      if (d != floor(d) || isnan(d)) return -1;
      iv = (int64_t)d;
    } else {
      iv = oxrt_load_i64(x->dtype, x->data, idx);
    }
  } else {
    dv = oxrt_load_f64(x->dtype, x->data, idx);
    if (x->dtype == OXRT_FLOAT) dv = (float)dv;
  }
  size_t lo = 0, hi = k->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2, p = k->order[mid];
    int c;
    if (k->kind == KS_STR)
      c = strcmp(k->s[p], s);
    else if (k->kind == KS_INT)
      c = k->i[p] < iv ? -1 : k->i[p] > iv;
    else if (isnan(k->d[p]) || isnan(dv))
      c = isnan(k->d[p]) - isnan(dv);
    else
      c = k->d[p] < dv ? -1 : k->d[p] > dv;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo >= k->n) return -1;
  size_t p = k->order[lo];
  bool eq = k->kind == KS_STR   ? !strcmp(k->s[p], s)
            : k->kind == KS_INT ? k->i[p] == iv
                                : (k->d[p] == dv || (isnan(k->d[p]) && isnan(dv)));
  return eq ? (int64_t)p : -1;
}

/* Keys from a strings/ints/floats attribute or a tensor attribute. */
static oxrt_status *keyset_from(const oxrt_node *node, const char *ss, const char *is, const char *fs, const char *ts,
                                keyset *k, bool *found) {
  memset(k, 0, sizeof *k);
  *found = true;
  size_t n = 0;
  if (ss && (k->s = ml_attr_strings(node, ss, &n)) && n) {
    k->kind = KS_STR, k->n = n;
    return keyset_sort(k);
  }
  const int64_t *iv = is ? oxrt_attr_ints(node, is, &n) : NULL;
  if (iv && n) {
    k->kind = KS_INT, k->n = n;
    k->i = malloc(sizeof(int64_t) * n);
    if (!k->i) return OXRT_OOM();
    memcpy(k->i, iv, sizeof(int64_t) * n);
    return keyset_sort(k);
  }
  const float *fv = fs ? oxrt_attr_floats(node, fs, &n) : NULL;
  if (fv && n) {
    k->kind = KS_DBL, k->n = n;
    k->d = malloc(sizeof(double) * n);
    if (!k->d) return OXRT_OOM();
    for (size_t j = 0; j < n; j++) k->d[j] = fv[j];
    return keyset_sort(k);
  }
  const oxrt_attr *ta = ts ? oxrt_node_attr(node, ts) : NULL;
  if (ta && ta->type == OXRT_ATTR_TENSOR && ta->t) {
    const oxrt_value *t = ta->t;
    k->n = t->count;
    if (t->dtype == OXRT_STRING) {
      k->kind = KS_STR;
      k->s = calloc(t->count + 1, sizeof(char *));
      if (!k->s) return OXRT_OOM();
      k->own_s = true;
      for (size_t j = 0; j < t->count; j++) {
        const char *src = ((char *const *)t->data)[j];
        char *c = malloc(strlen(src) + 1);
        if (!c) return OXRT_OOM();
        strcpy(c, src);
        k->s[j] = c;
      }
    } else if (oxrt_dtype_is_float(t->dtype)) {
      k->kind = KS_DBL;
      k->d = malloc(sizeof(double) * (t->count + 1));
      if (!k->d) return OXRT_OOM();
      for (size_t j = 0; j < t->count; j++) k->d[j] = oxrt_load_f64(t->dtype, t->data, j);
    } else {
      k->kind = KS_INT;
      k->i = malloc(sizeof(int64_t) * (t->count + 1));
      if (!k->i) return OXRT_OOM();
      for (size_t j = 0; j < t->count; j++) k->i[j] = oxrt_load_i64(t->dtype, t->data, j);
    }
    return keyset_sort(k);
  }
  *found = false;
  return NULL;
}

/* ------------------------------------------------------------ LabelEncoder */
typedef struct {
  keyset keys;
  oxrt_elem_type vtype;
  size_t nv;
  const char **vs; /* string values (borrowed) */
  const oxrt_value *vt; /* tensor values (borrowed) */
  const int64_t *vi;
  const float *vf;
  const char *def_s;
  double def_d;
  int64_t def_i;
  /* opset 1 */
  bool v1;
} labelenc;

static void labelenc_release(void *p) {
  labelenc *l = p;
  if (!l) return;
  keyset_free(&l->keys);
  free(l);
}

static oxrt_status *labelenc_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  labelenc *l = calloc(1, sizeof *l);
  if (!l) return OXRT_OOM();
  oxrt_status *st = NULL;
  bool found;
  if (opset < 2) {
    l->v1 = true;
    st = keyset_from(node, "classes_strings", NULL, NULL, NULL, &l->keys, &found);
    l->def_i = oxrt_attr_int(node, "default_int64", -1);
    l->def_s = oxrt_attr_string(node, "default_string", "_Unused");
    if (!st && !found) l->keys.kind = KS_STR; /* no classes: everything maps to the default */
    goto done;
  }
  st = keyset_from(node, "keys_strings", "keys_int64s", "keys_floats", opset >= 4 ? "keys_tensor" : NULL, &l->keys,
                   &found);
  if (!st && !found) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "one of keys_strings, keys_int64s, keys_floats%s is required",
                                     opset >= 4 ? ", keys_tensor" : "");
  if (st) goto done;
  size_t n = 0;
  const oxrt_attr *vt = opset >= 4 ? oxrt_node_attr(node, "values_tensor") : NULL;
  if ((l->vs = ml_attr_strings(node, "values_strings", &n)) && n) {
    l->vtype = OXRT_STRING;
  } else if ((l->vi = oxrt_attr_ints(node, "values_int64s", &n)) && n) {
    l->vtype = OXRT_INT64;
  } else if ((l->vf = oxrt_attr_floats(node, "values_floats", &n)) && n) {
    l->vtype = OXRT_FLOAT;
  } else if (vt && vt->type == OXRT_ATTR_TENSOR && vt->t) {
    l->vt = vt->t;
    l->vtype = vt->t->dtype;
    n = vt->t->count;
  } else {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "one of values_strings, values_int64s, values_floats%s is required",
                    opset >= 4 ? ", values_tensor" : "");
    goto done;
  }
  l->nv = n;
  if (n != l->keys.n) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "%zu keys but %zu values", l->keys.n, n);
    goto done;
  }
  l->def_s = "_Unused";
  l->def_i = -1;
  l->def_d = -0.0;
  const oxrt_attr *dt = oxrt_node_attr(node, "default_tensor");
  if (l->vt && dt && dt->type == OXRT_ATTR_TENSOR && dt->t && dt->t->count >= 1) {
    if (dt->t->dtype != l->vtype) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "default_tensor type %s differs from values_tensor type %s",
                      oxrt_elem_type_name(dt->t->dtype), oxrt_elem_type_name(l->vtype));
      goto done;
    }
    if (l->vtype == OXRT_STRING)
      l->def_s = ((char *const *)dt->t->data)[0];
    else if (oxrt_dtype_is_float(l->vtype))
      l->def_d = oxrt_load_f64(l->vtype, dt->t->data, 0);
    else
      l->def_i = oxrt_load_i64(l->vtype, dt->t->data, 0);
  } else {
    l->def_s = oxrt_attr_string(node, "default_string", "_Unused");
    l->def_i = oxrt_attr_int(node, "default_int64", -1);
    const oxrt_attr *df = oxrt_node_attr(node, "default_float");
    l->def_d = df ? df->f : -0.0;
  }
done:
  return ml_prepared(st, l, labelenc_release, state);
}

static oxrt_status *labelenc_run(oxrt_kernel_ctx *ctx) {
  const labelenc *l = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  oxrt_value *y;
  if (l->v1) {
    if (x->dtype == OXRT_STRING) {
      OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, x->rank, x->dims, &y));
      for (size_t i = 0; i < x->count; i++) {
        int64_t p = l->keys.n ? keyset_find(&l->keys, x, i) : -1;
        ((int64_t *)y->data)[i] = p >= 0 ? p : l->def_i;
      }
    } else {
      OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, x->rank, x->dims, &y));
      for (size_t i = 0; i < x->count; i++) {
        int64_t v = oxrt_load_i64(x->dtype, x->data, i);
        OXRT_TRY(ml_set_str(y, i, v >= 0 && (size_t)v < l->keys.n ? l->keys.s[v] : l->def_s));
      }
    }
    return NULL;
  }
  if ((l->keys.kind == KS_STR) != (x->dtype == OXRT_STRING))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input type %s does not match the keys", oxrt_elem_type_name(x->dtype));
  OXRT_TRY(oxrt_output_tensor(ctx, 0, l->vtype, x->rank, x->dims, &y));
  for (size_t i = 0; i < x->count; i++) {
    int64_t p = keyset_find(&l->keys, x, i);
    if (l->vtype == OXRT_STRING) {
      const char *s = p < 0 ? l->def_s : l->vt ? ((char *const *)l->vt->data)[p] : l->vs[p];
      OXRT_TRY(ml_set_str(y, i, s));
    } else if (oxrt_dtype_is_float(l->vtype)) {
      double v = p < 0 ? l->def_d : l->vt ? oxrt_load_f64(l->vtype, l->vt->data, (size_t)p) : l->vf[p];
      oxrt_store_f64(l->vtype, y->data, i, v);
    } else {
      int64_t v = p < 0 ? l->def_i : l->vt ? oxrt_load_i64(l->vtype, l->vt->data, (size_t)p) : l->vi[p];
      oxrt_store_i64(l->vtype, y->data, i, v);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ CategoryMapper: strings <-> int64 by position */
typedef struct {
  keyset by_str, by_int;
  const char **strs;
  const int64_t *ints;
  int64_t def_i;
  const char *def_s;
} catmap;

static void catmap_release(void *p) {
  catmap *c = p;
  if (!c) return;
  keyset_free(&c->by_str), keyset_free(&c->by_int);
  free(c);
}

static oxrt_status *catmap_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  catmap *c = calloc(1, sizeof *c);
  if (!c) return OXRT_OOM();
  bool f1, f2;
  oxrt_status *st = keyset_from(node, "cats_strings", NULL, NULL, NULL, &c->by_str, &f1);
  if (!st) st = keyset_from(node, NULL, "cats_int64s", NULL, NULL, &c->by_int, &f2);
  if (!st && (!f1 || !f2 || c->by_str.n != c->by_int.n))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cats_strings and cats_int64s must be present with equal lengths");
  if (st) {
    catmap_release(c);
    return st;
  }
  c->strs = c->by_str.s;
  c->ints = c->by_int.i;
  c->def_i = oxrt_attr_int(node, "default_int64", -1);
  c->def_s = oxrt_attr_string(node, "default_string", "_Unused");
  *state = c;
  return NULL;
}

static oxrt_status *catmap_run(oxrt_kernel_ctx *ctx) {
  const catmap *c = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  oxrt_value *y;
  if (x->dtype == OXRT_STRING) {
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_INT64, x->rank, x->dims, &y));
    for (size_t i = 0; i < x->count; i++) {
      int64_t p = keyset_find(&c->by_str, x, i);
      ((int64_t *)y->data)[i] = p >= 0 ? c->ints[p] : c->def_i;
    }
  } else {
    if (x->dtype != OXRT_INT64) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be string or int64");
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, x->rank, x->dims, &y));
    for (size_t i = 0; i < x->count; i++) {
      int64_t p = keyset_find(&c->by_int, x, i);
      OXRT_TRY(ml_set_str(y, i, p >= 0 ? c->strs[p] : c->def_s));
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ OneHotEncoder */
typedef struct {
  keyset cats;
  bool zeros;
} onehot;

static void onehot_release(void *p) {
  onehot *o = p;
  if (!o) return;
  keyset_free(&o->cats);
  free(o);
}

static oxrt_status *onehot_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  onehot *o = calloc(1, sizeof *o);
  if (!o) return OXRT_OOM();
  bool found;
  oxrt_status *st = keyset_from(node, "cats_strings", "cats_int64s", NULL, NULL, &o->cats, &found);
  if (!st && !found) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cats_int64s or cats_strings is required");
  if (st) {
    onehot_release(o);
    return st;
  }
  o->zeros = oxrt_attr_int(node, "zeros", 1) != 0;
  *state = o;
  return NULL;
}

static oxrt_status *onehot_run(oxrt_kernel_ctx *ctx) {
  const onehot *o = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if ((o->cats.kind == KS_STR) != (x->dtype == OXRT_STRING))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input type %s does not match the categories",
                      oxrt_elem_type_name(x->dtype));
  if (x->rank >= OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input rank too large");
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[x->rank] = (int64_t)o->cats.n;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, x->rank + 1, dims, &y));
  float *out = y->data;
  memset(out, 0, sizeof(float) * y->count);
  for (size_t i = 0; i < x->count; i++) {
    int64_t p = keyset_find(&o->cats, x, i);
    if (p >= 0)
      out[i * o->cats.n + (size_t)p] = 1.f;
    else if (!o->zeros)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "element %zu is not a known category and zeros = 0", i);
  }
  return NULL;
}

/* ------------------------------------------------------------ DictVectorizer: map(s) -> dense rows over a vocabulary */
typedef struct {
  keyset vocab;
} dictvec;

static void dictvec_release(void *p) {
  dictvec *d = p;
  if (!d) return;
  keyset_free(&d->vocab);
  free(d);
}

static oxrt_status *dictvec_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  dictvec *d = calloc(1, sizeof *d);
  if (!d) return OXRT_OOM();
  bool found;
  oxrt_status *st = keyset_from(node, "string_vocabulary", "int64_vocabulary", NULL, NULL, &d->vocab, &found);
  if (!st && !found) st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "string_vocabulary or int64_vocabulary is required");
  return ml_prepared(st, d, dictvec_release, state);
}

static oxrt_status *dictvec_run(oxrt_kernel_ctx *ctx) {
  const dictvec *d = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  if (!x) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0 is missing");
  const oxrt_value *const *maps = (const oxrt_value *const *)&x;
  size_t nm = 1;
  if (x->kind == OXRT_KIND_SEQUENCE) {
    maps = (const oxrt_value *const *)x->items;
    nm = x->n_items;
  } else if (x->kind != OXRT_KIND_MAP) {
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be a map or a sequence of maps");
  }
  oxrt_elem_type vt = OXRT_FLOAT;
  for (size_t m = 0; m < nm; m++) {
    if (!maps[m] || maps[m]->kind != OXRT_KIND_MAP || maps[m]->n_items < 2 || !maps[m]->items[0] || !maps[m]->items[1] ||
        maps[m]->items[0]->count != maps[m]->items[1]->count)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "item %zu is not a well-formed map", m);
    vt = maps[m]->items[1]->dtype;
  }
  int64_t dims[2] = {(int64_t)nm, (int64_t)d->vocab.n};
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, vt, 2, dims, &y));
  if (vt != OXRT_STRING) memset(y->data, 0, y->nbytes);
  for (size_t m = 0; m < nm; m++) {
    const oxrt_value *k = maps[m]->items[0], *v = maps[m]->items[1];
    if (v->dtype != vt) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "maps hold different value types");
    for (size_t i = 0; i < k->count; i++) {
      int64_t p = keyset_find(&d->vocab, k, i);
      if (p < 0) continue;
      size_t dst = m * d->vocab.n + (size_t)p;
      if (vt == OXRT_STRING)
        OXRT_TRY(ml_set_str(y, dst, ((char *const *)v->data)[i]));
      else
        memcpy((char *)y->data + dst * oxrt_elem_type_size(vt), (const char *)v->data + i * oxrt_elem_type_size(vt),
               oxrt_elem_type_size(vt));
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ ZipMap: [N, C] scores -> sequence of N maps label -> score */
static oxrt_status *zipmap_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_FLOAT) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be float");
  size_t ni = 0, ns = 0;
  const int64_t *li = oxrt_attr_ints(ctx->node, "classlabels_int64s", &ni);
  const char **ls = ml_attr_strings(ctx->node, "classlabels_strings", &ns);
  if ((ni == 0) == (ns == 0))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "exactly one of classlabels_int64s and classlabels_strings is needed");
  int64_t C = (int64_t)(ni ? ni : ns), N = x->rank == 2 ? x->dims[0] : 1;
  if (x->rank > 2 || (x->rank == 2 ? x->dims[1] : (int64_t)x->count) != C)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be [N, %lld] for %lld labels", (long long)C, (long long)C);
  oxrt_value *seq;
  OXRT_TRY(oxrt_value_new_container(OXRT_KIND_SEQUENCE, OXRT_FLOAT, (size_t)N, &seq));
  oxrt_status *st = NULL;
  for (int64_t r = 0; r < N && !st; r++) {
    oxrt_value *keys = NULL, *vals = NULL, *map = NULL;
    if ((st = oxrt_tensor_new(ni ? OXRT_INT64 : OXRT_STRING, 1, &C, &keys))) break;
    if ((st = oxrt_tensor_new(OXRT_FLOAT, 1, &C, &vals))) {
      oxrt_value_free(keys);
      break;
    }
    for (int64_t c = 0; c < C && !st; c++) {
      if (ni)
        ((int64_t *)keys->data)[c] = li[c];
      else
        st = ml_set_str(keys, (size_t)c, ls[c]);
      ((float *)vals->data)[c] = ((const float *)x->data)[r * C + c];
    }
    if (!st) st = oxrt_value_create_map(keys, vals, &map);
    if (st) {
      oxrt_value_free(keys), oxrt_value_free(vals);
      break;
    }
    seq->items[seq->n_items++] = map;
  }
  if (st) {
    oxrt_value_free(seq);
    return st;
  }
  return oxrt_set_output(ctx, 0, seq);
}

static const oxrt_op_impl labelenc_impls[] = {
    {.since_version = 1, .prepare = labelenc_prepare, .run = labelenc_run, .release = labelenc_release},
    {.since_version = 2, .prepare = labelenc_prepare, .run = labelenc_run, .release = labelenc_release},
    {.since_version = 4, .prepare = labelenc_prepare, .run = labelenc_run, .release = labelenc_release},
};
static const oxrt_op_impl catmap_impls[] = {
    {.since_version = 1, .prepare = catmap_prepare, .run = catmap_run, .release = catmap_release}};
static const oxrt_op_impl onehot_impls[] = {
    {.since_version = 1, .prepare = onehot_prepare, .run = onehot_run, .release = onehot_release}};
static const oxrt_op_impl dictvec_impls[] = {
    {.since_version = 1, .prepare = dictvec_prepare, .run = dictvec_run, .release = dictvec_release}};
static const oxrt_op_impl zipmap_impls[] = {{.since_version = 1, .run = zipmap_run}};
OXRT_REGISTER_OP(ml_LabelEncoder) = {"ai.onnx.ml", "LabelEncoder", OXRT_IMPLS(labelenc_impls)};
OXRT_REGISTER_OP(ml_CategoryMapper) = {"ai.onnx.ml", "CategoryMapper", OXRT_IMPLS(catmap_impls)};
OXRT_REGISTER_OP(ml_OneHotEncoder) = {"ai.onnx.ml", "OneHotEncoder", OXRT_IMPLS(onehot_impls)};
OXRT_REGISTER_OP(ml_DictVectorizer) = {"ai.onnx.ml", "DictVectorizer", OXRT_IMPLS(dictvec_impls)};
OXRT_REGISTER_OP(ml_ZipMap) = {"ai.onnx.ml", "ZipMap", OXRT_IMPLS(zipmap_impls)};
