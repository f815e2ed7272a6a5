/* TfIdfVectorizer.c - TfIdfVectorizer (opset 9): counts n-grams (with skips) of a [C] or [B, C] int32/int64/string
 * input against a pool of n-grams, output [C'] or [B, C'] float weighted by TF, IDF or TFIDF.
 * The pool is hashed once at prepare; each n-gram maps to its output column. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t min_n, max_n, max_skip, out_size;
  int mode; /* 0 TF, 1 IDF, 2 TFIDF */
  bool strings;
  size_t n_grams;
  int *gram_len;       /* per n-gram */
  size_t *gram_off;    /* offset into the pool */
  int64_t *gram_col;   /* output column */
  const int64_t *ints; /* pool (borrowed from the node's attributes) */
  const char **strs;
  const float *weights;
  size_t n_weights;
  size_t hcap;
  int64_t *htab; /* n-gram index + 1, 0 empty */
} tfidf_state;

static uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* Token accessors: input tokens are read as int64 or strings; the pool likewise. */
typedef struct {
  const oxrt_value *x;
  size_t base;
  int64_t stride;
} tok_view;

static uint64_t tok_hash(const tfidf_state *s, const tok_view *v, size_t pos) {
  if (s->strings) return hash_str(((char *const *)v->x->data)[v->base + pos]);
  return (uint64_t)oxrt_load_i64(v->x->dtype, v->x->data, v->base + pos);
}
static bool tok_eq(const tfidf_state *s, const tok_view *v, size_t pos, size_t pool_i) {
  if (s->strings) return !strcmp(((char *const *)v->x->data)[v->base + pos], s->strs[pool_i]);
  return oxrt_load_i64(v->x->dtype, v->x->data, v->base + pos) == s->ints[pool_i];
}
static uint64_t pool_hash(const tfidf_state *s, size_t i) {
  return s->strings ? hash_str(s->strs[i]) : (uint64_t)s->ints[i];
}

static void tfidf_release(void *p) {
  tfidf_state *s = p;
  if (!s) return;
  free(s->gram_len), free(s->gram_off), free(s->gram_col), free(s->htab);
  free(s);
}

static oxrt_status *tfidf_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  tfidf_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  oxrt_status *st = NULL;
  s->min_n = oxrt_attr_int(node, "min_gram_length", 0);
  s->max_n = oxrt_attr_int(node, "max_gram_length", 0);
  s->max_skip = oxrt_attr_int(node, "max_skip_count", 0);
  const char *mode = oxrt_attr_string(node, "mode", "");
  size_t n_counts = 0, n_idx = 0, pool_n = 0;
  const int64_t *counts = oxrt_attr_ints(node, "ngram_counts", &n_counts);
  const int64_t *idx = oxrt_attr_ints(node, "ngram_indexes", &n_idx);
  s->weights = oxrt_attr_floats(node, "weights", &s->n_weights);
  s->ints = oxrt_attr_ints(node, "pool_int64s", &pool_n);
  const oxrt_attr *ps = oxrt_node_attr(node, "pool_strings");
  if (!strcmp(mode, "TF"))
    s->mode = 0;
  else if (!strcmp(mode, "IDF"))
    s->mode = 1;
  else if (!strcmp(mode, "TFIDF"))
    s->mode = 2;
  else {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mode must be TF, IDF or TFIDF, got '%s'", mode);
    goto fail;
  }
  if (s->min_n < 1 || s->max_n < s->min_n || s->max_skip < 0) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0");
    goto fail;
  }
  if (ps && ps->type == OXRT_ATTR_STRINGS && ps->n) {
    if (s->ints) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pool_int64s and pool_strings are exclusive");
      goto fail;
    }
    s->strings = true;
    s->strs = ps->strings;
    pool_n = ps->n;
  }
  if (!counts || !idx) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "ngram_counts and ngram_indexes are required");
    goto fail;
  }
  /* enumerate n-grams of the pool: ngram_counts[i] is where the (i+1)-grams start */
  size_t total = 0;
  for (size_t i = 0; i < n_counts; i++) {
    int64_t b = counts[i], e = i + 1 < n_counts ? counts[i + 1] : (int64_t)pool_n;
    if (b < 0 || e < b || e > (int64_t)pool_n || (e - b) % (int64_t)(i + 1)) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "ngram_counts[%zu] does not split the pool into %zu-grams", i, i + 1);
      goto fail;
    }
    total += (size_t)((e - b) / (int64_t)(i + 1));
  }
  if (total != n_idx) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "ngram_indexes has %zu entries but the pool holds %zu n-grams", n_idx, total);
    goto fail;
  }
  s->out_size = 0;
  for (size_t i = 0; i < n_idx; i++) {
    if (idx[i] < 0) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "ngram_indexes[%zu] is negative", i);
      goto fail;
    }
    if (idx[i] + 1 > s->out_size) s->out_size = idx[i] + 1;
  }
  if (s->weights && s->n_weights && s->n_weights < (size_t)s->out_size) {
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "weights has %zu entries, need %lld", s->n_weights, (long long)s->out_size);
    goto fail;
  }
  s->n_grams = total;
  s->gram_len = malloc(sizeof(int) * (total + 1));
  s->gram_off = malloc(sizeof(size_t) * (total + 1));
  s->gram_col = malloc(sizeof(int64_t) * (total + 1));
  s->hcap = 16;
  while (s->hcap < 2 * total) s->hcap <<= 1;
  s->htab = calloc(s->hcap, sizeof(int64_t));
  if (!s->gram_len || !s->gram_off || !s->gram_col || !s->htab) {
    st = OXRT_OOM();
    goto fail;
  }
  size_t g = 0;
  for (size_t i = 0; i < n_counts; i++) {
    int64_t b = counts[i], e = i + 1 < n_counts ? counts[i + 1] : (int64_t)pool_n;
    for (int64_t o = b; o < e; o += (int64_t)(i + 1), g++) {
      s->gram_len[g] = (int)(i + 1);
      s->gram_off[g] = (size_t)o;
      s->gram_col[g] = idx[g];
      uint64_t h = (uint64_t)(i + 1);
      for (size_t t = 0; t < i + 1; t++) h = mix(h, pool_hash(s, (size_t)o + t));
      size_t slot = (size_t)h & (s->hcap - 1);
      while (s->htab[slot]) slot = (slot + 1) & (s->hcap - 1);
      s->htab[slot] = (int64_t)g + 1;
    }
  }
  *state = s;
  return NULL;
fail:
  tfidf_release(s);
  return st;
}

/* Column of the n-gram of length n at positions pos, pos+d, ...; -1 if not in the pool. */
static int64_t lookup(const tfidf_state *s, const tok_view *v, size_t pos, int n, size_t d) {
  uint64_t h = (uint64_t)n;
  for (int t = 0; t < n; t++) h = mix(h, tok_hash(s, v, pos + (size_t)t * d));
  for (size_t slot = (size_t)h & (s->hcap - 1); s->htab[slot]; slot = (slot + 1) & (s->hcap - 1)) {
    size_t g = (size_t)s->htab[slot] - 1;
    if (s->gram_len[g] != n) continue;
    bool eq = true;
    for (int t = 0; t < n && eq; t++) eq = tok_eq(s, v, pos + (size_t)t * d, s->gram_off[g] + (size_t)t);
    if (eq) return s->gram_col[g];
  }
  return -1;
}

static oxrt_status *tfidf_run(oxrt_kernel_ctx *ctx) {
  const tfidf_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (s->strings != (x->dtype == OXRT_STRING))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input type %s does not match the pool (%s)",
                      oxrt_elem_type_name(x->dtype), s->strings ? "pool_strings" : "pool_int64s");
  if (x->rank > 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be [C] or [B, C], got rank %d", x->rank);
  int64_t B = x->rank == 2 ? x->dims[0] : 1, C = x->rank == 0 ? 1 : x->dims[x->rank - 1];
  int64_t dims[2] = {B, s->out_size};
  oxrt_value *y;
  if (x->rank == 2)
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 2, dims, &y));
  else
    OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_FLOAT, 1, dims + 1, &y));
  float *out = y->data;
  memset(out, 0, sizeof(float) * y->count);
  for (int64_t b = 0; b < B; b++) {
    float *row = out + b * s->out_size;
    tok_view v = {.x = x, .base = (size_t)(b * C)};
    for (int64_t n = s->min_n; n <= s->max_n; n++) {
      /* unigrams are counted once: skips do not change them */
      int64_t max_d = n == 1 ? 1 : s->max_skip + 1;
      for (int64_t d = 1; d <= max_d; d++)
        for (int64_t p = 0; p + (n - 1) * d < C; p++) {
          int64_t col = lookup(s, &v, (size_t)p, (int)n, (size_t)d);
          if (col >= 0) row[col] += 1.f;
        }
    }
    for (int64_t c = 0; c < s->out_size; c++) {
      float w = s->n_weights ? s->weights[c] : 1.f;
      if (s->mode == 1)
        row[c] = row[c] > 0 ? w : 0.f;
      else if (s->mode == 2)
        row[c] *= w;
    }
  }
  return NULL;
}

static const oxrt_op_impl tfidf_impls[] = {{.since_version = 9,
                                            .type_mask = OXRT_TBIT(OXRT_STRING) | OXRT_TBIT(OXRT_INT32) |
                                                         OXRT_TBIT(OXRT_INT64),
                                            .prepare = tfidf_prepare,
                                            .run = tfidf_run,
                                            .release = tfidf_release}};
OXRT_REGISTER_OP(TfIdfVectorizer) = {"", "TfIdfVectorizer", OXRT_IMPLS(tfidf_impls)};
