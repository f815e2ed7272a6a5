/* RegexFullMatch.c - RegexFullMatch (opset 20): true where the whole string matches `pattern`.
 *
 * A small backtracking matcher of our own over UTF-8 code points. Supported syntax (the common subset of RE2
 * and Python re): literals and escapes (\n \t \r \f \v \xHH \. ...), ., character classes [...] / [^...] with
 * ranges and \d \w \s \D \W \S inside or outside, groups (...) (?:...) (?P<name>...), alternation |,
 * quantifiers * + ? {m} {m,} {m,n} {,n} with lazy ? suffix, anchors ^ $ \A \z \Z, word boundaries \b \B.
 * A step budget turns catastrophic backtracking into an error instead of a hang. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

enum { RX_CHAR, RX_ANY, RX_CLASS, RX_GROUP, RX_BOL, RX_EOL, RX_WORDB, RX_NWORDB };
enum { RX_CL_DIGIT = 1, RX_CL_NDIGIT = 2, RX_CL_WORD = 4, RX_CL_NWORD = 8, RX_CL_SPACE = 16, RX_CL_NSPACE = 32 };

typedef struct rx_seq rx_seq;
typedef struct rx_node {
  int type;
  int min, max; /* max -1: unbounded */
  bool lazy;
  uint32_t ch;
  /* class */
  bool negated;
  int flags;
  uint32_t *ranges; /* pairs lo,hi */
  int n_ranges;
  /* group */
  rx_seq *alts;
  int n_alts;
} rx_node;

struct rx_seq {
  rx_node *nodes;
  int n, cap;
};

typedef struct {
  rx_seq top; /* alternatives of the whole pattern wrapped as one group node */
  rx_node root;
} rx_prog;

/* ---------------------------------------------------------------- parser */
typedef struct {
  const uint32_t *p;
  size_t i, n;
  const char *err;
  int depth;
} rx_parser;

static bool rx_is_digit(uint32_t c) { return c >= '0' && c <= '9'; }
static bool rx_is_space(uint32_t c) { return c == ' ' || (c >= 9 && c <= 13); }
static bool rx_is_word(uint32_t c) {
  if (c < 128) return rx_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  /* non-ASCII: letters of most scripts count as word characters; skip the common punctuation/space blocks */
  if ((c >= 0x80 && c <= 0xBF && c != 0xAA && c != 0xB5 && c != 0xBA) || c == 0xD7 || c == 0xF7) return false;
  if ((c >= 0x2000 && c <= 0x206F) || (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF00 && c <= 0xFF0F)) return false;
  return true;
}

static void rx_free_seq(rx_seq *s);
static void rx_free_node(rx_node *nd) {
  free(nd->ranges);
  for (int i = 0; i < nd->n_alts; i++) rx_free_seq(&nd->alts[i]);
  free(nd->alts);
}
static void rx_free_seq(rx_seq *s) {
  for (int i = 0; i < s->n; i++) rx_free_node(&s->nodes[i]);
  free(s->nodes);
}

static rx_node *rx_push(rx_seq *s) {
  if (s->n == s->cap) {
    int nc = s->cap ? s->cap * 2 : 8;
    rx_node *nn = realloc(s->nodes, sizeof(rx_node) * (size_t)nc);
    if (!nn) return NULL;
    s->nodes = nn;
    s->cap = nc;
  }
  rx_node *nd = &s->nodes[s->n++];
  memset(nd, 0, sizeof *nd);
  nd->min = nd->max = 1;
  return nd;
}

static bool rx_add_range(rx_node *nd, uint32_t lo, uint32_t hi) {
  uint32_t *r = realloc(nd->ranges, sizeof(uint32_t) * 2 * (size_t)(nd->n_ranges + 1));
  if (!r) return false;
  nd->ranges = r;
  r[2 * nd->n_ranges] = lo;
  r[2 * nd->n_ranges + 1] = hi;
  nd->n_ranges++;
  return true;
}

static int rx_hex(uint32_t c) {
  if (c >= '0' && c <= '9') return (int)(c - '0');
  if (c >= 'a' && c <= 'f') return (int)(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return (int)(c - 'A' + 10);
  return -1;
}

/* Parses the escape after '\' into a literal (*lit) or a class flag (*flag) or an assertion type (*assert_t). */
static bool rx_escape(rx_parser *ps, uint32_t *lit, int *flag, int *assert_t, bool in_class) {
  *flag = 0;
  *assert_t = -1;
  if (ps->i >= ps->n) return ps->err = "trailing backslash", false;
  uint32_t c = ps->p[ps->i++];
  switch (c) {
  case 'd': *flag = RX_CL_DIGIT; return true;
  case 'D': *flag = RX_CL_NDIGIT; return true;
  case 'w': *flag = RX_CL_WORD; return true;
  case 'W': *flag = RX_CL_NWORD; return true;
  case 's': *flag = RX_CL_SPACE; return true;
  case 'S': *flag = RX_CL_NSPACE; return true;
  case 'n': *lit = '\n'; return true;
  case 't': *lit = '\t'; return true;
  case 'r': *lit = '\r'; return true;
  case 'f': *lit = '\f'; return true;
  case 'v': *lit = '\v'; return true;
  case 'a': *lit = 7; return true;
  case '0': *lit = 0; return true;
  case 'x': {
    uint32_t v = 0;
    if (ps->i < ps->n && ps->p[ps->i] == '{') {
      ps->i++;
      int k = 0;
      while (ps->i < ps->n && ps->p[ps->i] != '}' && rx_hex(ps->p[ps->i]) >= 0 && k < 8)
        v = v * 16 + (uint32_t)rx_hex(ps->p[ps->i++]), k++;
      if (ps->i >= ps->n || ps->p[ps->i] != '}' || !k) return ps->err = "bad \\x{...} escape", false;
      ps->i++;
    } else {
      for (int k = 0; k < 2; k++) {
        if (ps->i >= ps->n || rx_hex(ps->p[ps->i]) < 0) return ps->err = "bad \\x escape", false;
        v = v * 16 + (uint32_t)rx_hex(ps->p[ps->i++]);
      }
    }
    *lit = v;
    return true;
  }
  case 'b':
    if (in_class) return *lit = 8, true;
    *assert_t = RX_WORDB;
    return true;
  case 'B': *assert_t = RX_NWORDB; return !in_class || (ps->err = "\\B in a class", false);
  case 'A': *assert_t = RX_BOL; return !in_class || (ps->err = "\\A in a class", false);
  case 'z':
  case 'Z': *assert_t = RX_EOL; return !in_class || (ps->err = "\\z in a class", false);
  default:
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '1' && c <= '9'))
      return ps->err = "unsupported escape (backreferences and \\p classes are not supported)", false;
    *lit = c; /* escaped punctuation stands for itself */
    return true;
  }
}

static bool rx_parse_alts(rx_parser *ps, rx_node *group);

static bool rx_parse_class(rx_parser *ps, rx_node *nd) {
  nd->type = RX_CLASS;
  if (ps->i < ps->n && ps->p[ps->i] == '^') nd->negated = true, ps->i++;
  bool first = true;
  for (;;) {
    if (ps->i >= ps->n) return ps->err = "missing ]", false;
    uint32_t c = ps->p[ps->i];
    if (c == ']' && !first) {
      ps->i++;
      return true;
    }
    first = false;
    ps->i++;
    uint32_t lo = c;
    if (c == '\\') {
      int flag, at;
      if (!rx_escape(ps, &lo, &flag, &at, true)) return false;
      if (flag) {
        nd->flags |= flag;
        continue;
      }
    } else if (c == '[' && ps->i < ps->n && ps->p[ps->i] == ':') {
      return ps->err = "POSIX classes [:...:] are not supported", false;
    }
    uint32_t hi = lo;
    if (ps->i + 1 < ps->n && ps->p[ps->i] == '-' && ps->p[ps->i + 1] != ']') {
      ps->i++;
      hi = ps->p[ps->i++];
      if (hi == '\\') {
        int flag, at;
        if (!rx_escape(ps, &hi, &flag, &at, true)) return false;
        if (flag) return ps->err = "bad class range", false;
      }
      if (hi < lo) return ps->err = "bad class range", false;
    }
    if (!rx_add_range(nd, lo, hi)) return ps->err = "out of memory", false;
  }
}

/* {m}, {m,}, {m,n}, {,n}: returns false (and leaves i) when not a valid quantifier, so '{' is a literal. */
static bool rx_brace(rx_parser *ps, int *mn, int *mx) {
  size_t j = ps->i + 1;
  long a = -1, b = -1;
  while (j < ps->n && rx_is_digit(ps->p[j]) && a < 100000) a = (a < 0 ? 0 : a * 10) + (long)(ps->p[j++] - '0');
  bool comma = false;
  if (j < ps->n && ps->p[j] == ',') {
    comma = true;
    j++;
    while (j < ps->n && rx_is_digit(ps->p[j]) && b < 100000) b = (b < 0 ? 0 : b * 10) + (long)(ps->p[j++] - '0');
  }
  if (j >= ps->n || ps->p[j] != '}' || (a < 0 && b < 0)) return false;
  *mn = a < 0 ? 0 : (int)a;
  *mx = comma ? (b < 0 ? -1 : (int)b) : *mn;
  ps->i = j + 1;
  return true;
}

static bool rx_parse_seq(rx_parser *ps, rx_seq *seq) {
  while (ps->i < ps->n && ps->p[ps->i] != '|' && ps->p[ps->i] != ')') {
    uint32_t c = ps->p[ps->i++];
    rx_node *nd = rx_push(seq);
    if (!nd) return ps->err = "out of memory", false;
    bool quantifiable = true;
    switch (c) {
    case '.': nd->type = RX_ANY; break;
    case '^': nd->type = RX_BOL, quantifiable = false; break;
    case '$': nd->type = RX_EOL, quantifiable = false; break;
    case '[':
      if (!rx_parse_class(ps, nd)) return false;
      break;
    case '(':
      if (++ps->depth > 200) return ps->err = "groups nested too deeply", false;
      if (ps->i < ps->n && ps->p[ps->i] == '?') {
        if (ps->i + 1 < ps->n && ps->p[ps->i + 1] == ':') {
          ps->i += 2;
        } else if (ps->i + 2 < ps->n && ps->p[ps->i + 1] == 'P' && ps->p[ps->i + 2] == '<') {
          ps->i += 3;
          while (ps->i < ps->n && ps->p[ps->i] != '>') ps->i++;
          if (ps->i >= ps->n) return ps->err = "bad named group", false;
          ps->i++;
        } else {
          return ps->err = "unsupported group syntax (?...)", false;
        }
      }
      nd->type = RX_GROUP;
      if (!rx_parse_alts(ps, nd)) return false;
      if (ps->i >= ps->n || ps->p[ps->i] != ')') return ps->err = "missing )", false;
      ps->i++;
      ps->depth--;
      break;
    case '*':
    case '+':
    case '?': return ps->err = "quantifier without a preceding item", false;
    case '\\': {
      int flag, at;
      uint32_t lit = 0;
      if (!rx_escape(ps, &lit, &flag, &at, false)) return false;
      if (at >= 0) {
        nd->type = at;
        quantifiable = false;
      } else if (flag) {
        nd->type = RX_CLASS;
        nd->flags = flag;
      } else {
        nd->type = RX_CHAR;
        nd->ch = lit;
      }
      break;
    }
    default: nd->type = RX_CHAR, nd->ch = c; break;
    }
    if (ps->i >= ps->n) continue;
    uint32_t q = ps->p[ps->i];
    int mn = 1, mx = 1;
    bool has = true;
    if (q == '*')
      mn = 0, mx = -1, ps->i++;
    else if (q == '+')
      mn = 1, mx = -1, ps->i++;
    else if (q == '?')
      mn = 0, mx = 1, ps->i++;
    else if (q == '{')
      has = rx_brace(ps, &mn, &mx);
    else
      has = false;
    if (!has) continue;
    if (!quantifiable) return ps->err = "quantifier after an anchor", false;
    if (mx >= 0 && mx < mn) return ps->err = "bad repetition bounds", false;
    nd->min = mn;
    nd->max = mx;
    if (ps->i < ps->n && ps->p[ps->i] == '?') nd->lazy = true, ps->i++;
    if (ps->i < ps->n && (ps->p[ps->i] == '*' || ps->p[ps->i] == '+' || ps->p[ps->i] == '?'))
      return ps->err = "multiple repeat", false;
  }
  return true;
}

static bool rx_parse_alts(rx_parser *ps, rx_node *group) {
  for (;;) {
    rx_seq *na = realloc(group->alts, sizeof(rx_seq) * (size_t)(group->n_alts + 1));
    if (!na) return ps->err = "out of memory", false;
    group->alts = na;
    rx_seq *s = &group->alts[group->n_alts++];
    memset(s, 0, sizeof *s);
    if (!rx_parse_seq(ps, s)) return false;
    if (ps->i < ps->n && ps->p[ps->i] == '|') {
      ps->i++;
      continue;
    }
    return true;
  }
}

/* ---------------------------------------------------------------- matcher */
typedef struct rx_k {
  int kind; /* 0: continue a sequence; 1: a group iteration finished */
  const rx_seq *seq;
  int idx;
  const rx_node *node;
  int count;
  size_t start;
  const struct rx_k *next;
} rx_k;

typedef struct {
  const uint32_t *s;
  size_t n;
  long budget;
  int depth; /* recursion depth, bounded to protect the stack */
  bool overflow;
} rx_ctx;

static bool rx_seq_match(rx_ctx *m, const rx_seq *seq, int idx, size_t pos, const rx_k *k);
static bool rx_rep(rx_ctx *m, const rx_node *nd, int count, size_t pos, const rx_k *after);

static bool rx_run_k(rx_ctx *m, const rx_k *k, size_t pos) {
  if (!k) return pos == m->n;
  if (k->kind == 0) return rx_seq_match(m, k->seq, k->idx, pos, k->next);
  /* an empty iteration past the minimum would repeat forever */
  if (pos == k->start && k->count >= k->node->min) return false;
  return rx_rep(m, k->node, k->count + 1, pos, k->next);
}

static bool rx_class_has(const rx_node *nd, uint32_t c) {
  bool in = false;
  for (int i = 0; i < nd->n_ranges && !in; i++) in = c >= nd->ranges[2 * i] && c <= nd->ranges[2 * i + 1];
  int f = nd->flags;
  if (!in && f) {
    in = ((f & RX_CL_DIGIT) && rx_is_digit(c)) || ((f & RX_CL_NDIGIT) && !rx_is_digit(c)) ||
         ((f & RX_CL_WORD) && rx_is_word(c)) || ((f & RX_CL_NWORD) && !rx_is_word(c)) ||
         ((f & RX_CL_SPACE) && rx_is_space(c)) || ((f & RX_CL_NSPACE) && !rx_is_space(c));
  }
  return in != nd->negated;
}

static bool rx_at_boundary(const rx_ctx *m, size_t pos) {
  bool a = pos > 0 && rx_is_word(m->s[pos - 1]), b = pos < m->n && rx_is_word(m->s[pos]);
  return a != b;
}

/* One more iteration of `nd`, then continue with rx_rep(count+1). */
static bool rx_one_(rx_ctx *m, const rx_node *nd, int count, size_t pos, const rx_k *after);
static bool rx_one(rx_ctx *m, const rx_node *nd, int count, size_t pos, const rx_k *after) {
  if (--m->budget < 0 || m->depth >= 20000) {
    m->overflow = true;
    return false;
  }
  m->depth++;
  bool r = rx_one_(m, nd, count, pos, after);
  m->depth--;
  return r;
}

static bool rx_one_(rx_ctx *m, const rx_node *nd, int count, size_t pos, const rx_k *after) {
  switch (nd->type) {
  case RX_CHAR:
    return pos < m->n && m->s[pos] == nd->ch && rx_rep(m, nd, count + 1, pos + 1, after);
  case RX_ANY:
    return pos < m->n && m->s[pos] != '\n' && rx_rep(m, nd, count + 1, pos + 1, after);
  case RX_CLASS:
    return pos < m->n && rx_class_has(nd, m->s[pos]) && rx_rep(m, nd, count + 1, pos + 1, after);
  case RX_GROUP: {
    rx_k g = {.kind = 1, .node = nd, .count = count, .start = pos, .next = after};
    for (int i = 0; i < nd->n_alts && !m->overflow; i++)
      if (rx_seq_match(m, &nd->alts[i], 0, pos, &g)) return true;
    return false;
  }
  default: return false;
  }
}

static bool rx_rep(rx_ctx *m, const rx_node *nd, int count, size_t pos, const rx_k *after) {
  if (m->overflow) return false;
  bool more = nd->max < 0 || count < nd->max;
  if (nd->lazy) {
    if (count >= nd->min && rx_run_k(m, after, pos)) return true;
    return more && rx_one(m, nd, count, pos, after);
  }
  if (more && rx_one(m, nd, count, pos, after)) return true;
  return count >= nd->min && rx_run_k(m, after, pos);
}

static bool rx_seq_match(rx_ctx *m, const rx_seq *seq, int idx, size_t pos, const rx_k *k) {
  if (m->overflow) return false;
  if (idx == seq->n) return rx_run_k(m, k, pos);
  const rx_node *nd = &seq->nodes[idx];
  rx_k after = {.kind = 0, .seq = seq, .idx = idx + 1, .next = k};
  switch (nd->type) { /* zero-width assertions */
  case RX_BOL: return pos == 0 && rx_run_k(m, &after, pos);
  case RX_EOL: return pos == m->n && rx_run_k(m, &after, pos);
  case RX_WORDB: return rx_at_boundary(m, pos) && rx_run_k(m, &after, pos);
  case RX_NWORDB: return !rx_at_boundary(m, pos) && rx_run_k(m, &after, pos);
  default: return rx_rep(m, nd, 0, pos, &after);
  }
}

/* ---------------------------------------------------------------- UTF-8 */
static size_t rx_decode(const char *str, uint32_t *out) {
  const unsigned char *s = (const unsigned char *)str;
  size_t n = 0;
  while (*s) {
    uint32_t c = *s;
    int k = 1;
    if ((c & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80)
      c = ((c & 0x1F) << 6) | (s[1] & 0x3F), k = 2;
    else if ((c & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80)
      c = ((c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F), k = 3;
    else if ((c & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80)
      c = ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F), k = 4;
    out[n++] = c;
    s += k;
  }
  return n;
}

/* ---------------------------------------------------------------- operator */
static void regex_release(void *p) {
  rx_prog *g = p;
  if (!g) return;
  rx_free_node(&g->root);
  free(g);
}

static oxrt_status *regex_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  const char *pat = oxrt_attr_string(node, "pattern", NULL);
  if (!pat) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute 'pattern' is required");
  uint32_t *cps = malloc(sizeof(uint32_t) * (strlen(pat) + 1));
  rx_prog *g = calloc(1, sizeof *g);
  if (!cps || !g) {
    free(cps), free(g);
    return OXRT_OOM();
  }
  rx_parser ps = {.p = cps, .n = rx_decode(pat, cps)};
  g->root.type = RX_GROUP;
  g->root.min = g->root.max = 1;
  bool ok = rx_parse_alts(&ps, &g->root);
  if (ok && ps.i < ps.n) ok = false, ps.err = "unbalanced )";
  free(cps);
  if (!ok) {
    oxrt_status *st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid pattern '%s': %s at offset %zu", pat,
                                 ps.err ? ps.err : "syntax error", ps.i);
    regex_release(g);
    return st;
  }
  *state = g;
  return NULL;
}

static oxrt_status *regex_run(oxrt_kernel_ctx *ctx) {
  const rx_prog *g = ctx->state;
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "X"));
  if (x->dtype != OXRT_STRING)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be a string tensor, got %s", oxrt_elem_type_name(x->dtype));
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, OXRT_BOOL, x->rank, x->dims, &y));
  char *const *xs = x->data;
  uint8_t *out = y->data;
  for (size_t i = 0; i < x->count; i++) {
    uint32_t *cps = malloc(sizeof(uint32_t) * (strlen(xs[i]) + 1));
    if (!cps) return OXRT_OOM();
    rx_ctx m = {.s = cps, .n = rx_decode(xs[i], cps), .budget = 20000000};
    rx_seq top = {.nodes = (rx_node *)&g->root, .n = 1, .cap = 1};
    out[i] = rx_seq_match(&m, &top, 0, 0, NULL);
    free(cps);
    if (m.overflow)
      return oxrt_error(OXRT_ERR_RUNTIME, "pattern needs too much backtracking on element %zu", i);
  }
  return NULL;
}

static const oxrt_op_impl regex_impls[] = {{.since_version = 20,
                                            .type_mask = OXRT_TBIT(OXRT_STRING),
                                            .prepare = regex_prepare,
                                            .run = regex_run,
                                            .release = regex_release}};
OXRT_REGISTER_OP(RegexFullMatch) = {"", "RegexFullMatch", OXRT_IMPLS(regex_impls)};
