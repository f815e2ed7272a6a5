/* StringNormalizer.c - StringNormalizer (opset 10): removes stop words (whole elements, optionally
 * case-insensitively) from a [C] or [1, C] string tensor and changes case (LOWER / UPPER / NONE).
 * Case mapping covers ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic through UTF-8. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

/* Decodes one UTF-8 sequence at s (length in *n); invalid bytes decode as themselves. */
static uint32_t utf8_get(const unsigned char *s, int *n) {
  if (s[0] < 0x80) return *n = 1, s[0];
  if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) return *n = 2, ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
  if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80)
    return *n = 3, ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80)
    return *n = 4, ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
                       (s[3] & 0x3F);
  return *n = 1, 0x80000000u | s[0]; /* raw byte */
}

static int utf8_put(uint32_t c, char *o) {
  if (c & 0x80000000u) return o[0] = (char)(c & 0xFF), 1;
  if (c < 0x80) return o[0] = (char)c, 1;
  if (c < 0x800) return o[0] = (char)(0xC0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3F)), 2;
  if (c < 0x10000)
    return o[0] = (char)(0xE0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3F)), o[2] = (char)(0x80 | (c & 0x3F)), 3;
  o[0] = (char)(0xF0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3F)), o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  o[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

static uint32_t cp_upper(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c & 1) == 0 : (c & 1) == 1) return c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

static uint32_t cp_lower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 && c != 0x17F) {
    bool odd_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower ? (c & 1) == 1 : (c & 1) == 0) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}

/* New string with case changed (mode 1 lower, 2 upper, 0 copy). */
static char *change_case(const char *s, int mode) {
  size_t n = strlen(s);
  char *o = malloc(n * 2 + 4); /* case pairs here never need more than one extra byte per character */
  if (!o) return NULL;
  size_t w = 0;
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    int k;
    uint32_t c = utf8_get(p, &k);
    p += k;
    if (mode == 1) c = cp_lower(c);
    if (mode == 2) c = cp_upper(c);
    w += (size_t)utf8_put(c, o + w);
  }
  o[w] = 0;
  return o;
}

typedef struct {
  int mode; /* 0 NONE, 1 LOWER, 2 UPPER */
  int case_sensitive;
  size_t n_stops;
  char **stops; /* lowered when case-insensitive */
} strnorm_state;

static void strnorm_release(void *p) {
  strnorm_state *s = p;
  if (!s) return;
  for (size_t i = 0; i < s->n_stops; i++) free(s->stops[i]);
  free(s->stops);
  free(s);
}

static oxrt_status *strnorm_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  strnorm_state *s = calloc(1, sizeof *s);
  if (!s) return OXRT_OOM();
  const char *act = oxrt_attr_string(node, "case_change_action", "NONE");
  if (!strcmp(act, "NONE"))
    s->mode = 0;
  else if (!strcmp(act, "LOWER"))
    s->mode = 1;
  else if (!strcmp(act, "UPPER"))
    s->mode = 2;
  else {
    free(s);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "case_change_action must be NONE, LOWER or UPPER, got '%s'", act);
  }
  s->case_sensitive = (int)oxrt_attr_int(node, "is_case_sensitive", 0);
  const oxrt_attr *sw = oxrt_node_attr(node, "stopwords");
  if (sw && sw->type == OXRT_ATTR_STRINGS && sw->n) {
    s->stops = calloc(sw->n, sizeof(char *));
    if (!s->stops) {
      strnorm_release(s);
      return OXRT_OOM();
    }
    s->n_stops = sw->n;
    for (size_t i = 0; i < sw->n; i++) {
      s->stops[i] = change_case(sw->strings[i], s->case_sensitive ? 0 : 1);
      if (!s->stops[i]) {
        strnorm_release(s);
        return OXRT_OOM();
      }
    }
  }
  *state = s;
  return NULL;
}

static bool is_stop(const strnorm_state *s, const char *w) {
  if (!s->n_stops) return false;
  char *l = s->case_sensitive ? NULL : change_case(w, 1);
  const char *k = l ? l : w;
  bool hit = false;
  for (size_t i = 0; i < s->n_stops && !hit; i++) hit = !strcmp(s->stops[i], k);
  free(l);
  return hit;
}

static oxrt_status *strnorm_run(oxrt_kernel_ctx *ctx) {
  const strnorm_state *s = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be a string tensor, got %s", oxrt_elem_type_name(x->dtype));
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must have shape [C] or [1, C], got rank %d", x->rank);
  char *const *xs = x->data;
  size_t keep = 0;
  bool *kept = malloc(x->count + 1);
  if (!kept) return OXRT_OOM();
  for (size_t i = 0; i < x->count; i++) keep += (kept[i] = !is_stop(s, xs[i]));
  int64_t dims[2] = {1, (int64_t)(keep ? keep : 1)};
  oxrt_value *y;
  oxrt_status *st = x->rank == 1 ? oxrt_output_tensor(ctx, 0, OXRT_STRING, 1, dims + 1, &y)
                                 : oxrt_output_tensor(ctx, 0, OXRT_STRING, 2, dims, &y);
  if (st) {
    free(kept);
    return st;
  }
  char **ys = y->data;
  for (size_t i = 0, w = 0; i < x->count; i++) {
    if (!kept[i]) continue;
    char *c = change_case(xs[i], s->mode);
    if (!c) {
      free(kept);
      return OXRT_OOM();
    }
    free(ys[w]);
    ys[w++] = c;
  }
  free(kept);
  return NULL;
}

static const oxrt_op_impl strnorm_impls[] = {{.since_version = 10,
                                              .type_mask = OXRT_TBIT(OXRT_STRING),
                                              .prepare = strnorm_prepare,
                                              .run = strnorm_run,
                                              .release = strnorm_release}};
OXRT_REGISTER_OP(StringNormalizer) = {"", "StringNormalizer", OXRT_IMPLS(strnorm_impls)};
