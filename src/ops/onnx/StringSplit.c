/* StringSplit.c - StringSplit (opset 20): splits each string by a delimiter (or by runs of whitespace when the
 * delimiter is empty/absent, like Python's str.split()), at most maxsplit times; Y pads rows with "" to the
 * longest split, Z holds the number of pieces per string. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Calls emit(begin, len) for each piece; returns the piece count. emit may be NULL (count only). */
typedef struct {
  char **dst;
  size_t n;
  bool oom;
} split_sink;

static int64_t split_one(const char *s, const char *delim, int64_t maxsplit, split_sink *sink) {
  int64_t count = 0, splits = 0;
  size_t dl = delim ? strlen(delim) : 0;
#define EMIT(b, l)                                                                                                     \
  do {                                                                                                                 \
    if (sink && !sink->oom) {                                                                                          \
      char *c_ = malloc((l) + 1);                                                                                      \
      if (!c_) {                                                                                                       \
        sink->oom = true;                                                                                              \
      } else {                                                                                                         \
        memcpy(c_, (b), (l));                                                                                          \
        c_[l] = 0;                                                                                                     \
        free(sink->dst[count]);                                                                                        \
        sink->dst[count] = c_;                                                                                         \
      }                                                                                                                \
    }                                                                                                                  \
    count++;                                                                                                           \
  } while (0)
  if (dl) {
    const char *p = s;
    for (;;) {
      const char *q = (maxsplit < 0 || splits < maxsplit) ? strstr(p, delim) : NULL;
      if (!q) {
        EMIT(p, strlen(p));
        break;
      }
      EMIT(p, (size_t)(q - p));
      splits++;
      p = q + dl;
    }
  } else {
    const char *p = s;
    for (;;) {
      while (*p && is_space(*p)) p++;
      if (!*p) break;
      if (maxsplit >= 0 && splits >= maxsplit) { /* the remainder keeps its inner and trailing whitespace */
        EMIT(p, strlen(p));
        break;
      }
      const char *q = p;
      while (*q && !is_space(*q)) q++;
      EMIT(p, (size_t)(q - p));
      splits++;
      p = q;
    }
  }
#undef EMIT
  return count;
}

static oxrt_status *string_split_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be a string tensor, got %s", oxrt_elem_type_name(x->dtype));
  if (x->rank >= OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input rank %d is too large", x->rank);
  const char *delim = oxrt_attr_string(ctx->node, "delimiter", NULL);
  if (delim && !*delim) delim = NULL;
  int64_t maxsplit = oxrt_attr_int(ctx->node, "maxsplit", -1);
  if (maxsplit < 0) maxsplit = -1;
  char *const *xs = x->data;
  oxrt_value *z;
  OXRT_TRY(oxrt_output_tensor(ctx, 1, OXRT_INT64, x->rank, x->dims, &z));
  int64_t *zc = z->data, longest = 0;
  for (size_t i = 0; i < x->count; i++) {
    zc[i] = split_one(xs[i], delim, maxsplit, NULL);
    if (zc[i] > longest) longest = zc[i];
  }
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[x->rank] = longest;
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_STRING, x->rank + 1, dims, &y));
  for (size_t i = 0; i < x->count; i++) {
    split_sink sink = {.dst = (char **)y->data + i * (size_t)longest};
    split_one(xs[i], delim, maxsplit, &sink);
    if (sink.oom) return OXRT_OOM();
  }
  return NULL;
}

static const oxrt_op_impl string_split_impls[] = {
    {.since_version = 20, .type_mask = OXRT_TBIT(OXRT_STRING), .run = string_split_run}};
OXRT_REGISTER_OP(StringSplit) = {"", "StringSplit", OXRT_IMPLS(string_split_impls)};
