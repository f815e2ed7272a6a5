/* Einsum.c - general Einstein summation: explicit ("ij,jk->ik") and implicit outputs, ellipsis with
 * broadcasting, repeated indices within a term (diagonals), sums over indices absent from the output.
 * Products shaped like a batched matrix multiply of two float operands are routed to oxrt_sgemm;
 * everything else runs a strided loop (double accumulation for floats, wrapping 64-bit for integers). */
#include "../../kernels/gemm.h"
#include "linalg_util.h"
#include <string.h>

#define EIN_MAX_IN 16
#define EIN_MAX_LABELS (52 + OXRT_MAX_RANK) /* letters, then one label per ellipsis dim */

typedef struct {
  int n_in;
  int n_terms[EIN_MAX_IN];
  int terms[EIN_MAX_IN][OXRT_MAX_RANK]; /* label per axis of each input */
  int n_out;
  int out[EIN_MAX_LABELS];
  int64_t size[EIN_MAX_LABELS]; /* -1 until seen */
  int n_labels_used;
} ein_spec;

static int letter_label(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a' + 26; /* numpy orders uppercase before lowercase */
  if (c >= 'A' && c <= 'Z') return c - 'A';
  return -1;
}

/* Parses one term into labels; an ellipsis becomes `ell` labels 52.. (right-aligned to max_ell). */
static oxrt_status *parse_term(const char *s, size_t len, int rank, int *labels, int *n, int *ell_out,
                               bool is_output, int max_ell) {
  int letters = 0;
  bool has_ell = false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (has_ell || i + 2 >= len + 0 || len - i < 3 || s[i + 1] != '.' || s[i + 2] != '.')
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "bad ellipsis in einsum term '%.*s'", (int)len, s);
      has_ell = true;
      i += 2;
    } else if (letter_label(s[i]) >= 0) {
      letters++;
    } else {
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "invalid character '%c' in einsum equation", s[i]);
    }
  }
  int ell = is_output ? (has_ell ? max_ell : 0) : rank - letters;
  if (!is_output && (ell < 0 || (!has_ell && ell != 0)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "einsum term '%.*s' has %d indices but its input has rank %d",
                      (int)len, s, letters, rank);
  if (letters + ell > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "einsum term too long");
  *n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      for (int e = 0; e < ell; e++) labels[(*n)++] = 52 + (max_ell - ell) + e;
      i += 2;
    } else {
      labels[(*n)++] = letter_label(s[i]);
    }
  }
  *ell_out = has_ell ? ell : 0;
  return NULL;
}

static oxrt_status *parse_equation(const char *eq, const oxrt_kernel_ctx *ctx, ein_spec *sp) {
  char buf[512];
  size_t n = 0;
  for (const char *p = eq; *p && n + 1 < sizeof buf; p++)
    if (*p != ' ' && *p != '\t') buf[n++] = *p;
  buf[n] = 0;
  const char *arrow = strstr(buf, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - buf) : n;
  memset(sp, 0, sizeof *sp);
  for (int l = 0; l < EIN_MAX_LABELS; l++) sp->size[l] = -1;
  /* Pass 1: split terms and find the widest ellipsis. */
  const char *starts[EIN_MAX_IN];
  size_t lens[EIN_MAX_IN];
  int nt = 0;
  size_t b = 0;
  for (size_t i = 0; i <= lhs_len; i++)
    if (i == lhs_len || buf[i] == ',') {
      if (nt >= EIN_MAX_IN) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "einsum with more than %d inputs", EIN_MAX_IN);
      starts[nt] = buf + b;
      lens[nt++] = i - b;
      b = i + 1;
    }
  if (nt != ctx->n_inputs)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "equation '%s' has %d terms but the node has %d inputs", eq, nt,
                      ctx->n_inputs);
  sp->n_in = nt;
  int max_ell = 0;
  for (int t = 0; t < nt; t++) {
    const oxrt_value *v = oxrt_input(ctx, t);
    OXRT_TRY(oxrt_check_tensor(v, t, "Inputs"));
    int dummy[OXRT_MAX_RANK], cnt, ell;
    OXRT_TRY(parse_term(starts[t], lens[t], v->rank, dummy, &cnt, &ell, false, 0));
    if (ell > max_ell) max_ell = ell;
  }
  for (int t = 0; t < nt; t++) {
    const oxrt_value *v = oxrt_input(ctx, t);
    int ell;
    OXRT_TRY(parse_term(starts[t], lens[t], v->rank, sp->terms[t], &sp->n_terms[t], &ell, false, max_ell));
    for (int a = 0; a < v->rank; a++) {
      int l = sp->terms[t][a];
      int64_t d = v->dims[a];
      if (sp->size[l] < 0 || sp->size[l] == 1) sp->size[l] = d;
      else if (d != sp->size[l] && !(l >= 52 && d == 1))
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "einsum index of input %d axis %d has size %lld, elsewhere %lld", t,
                          a, (long long)d, (long long)sp->size[l]);
    }
  }
  if (arrow) {
    int ell;
    OXRT_TRY(parse_term(arrow + 2, strlen(arrow + 2), 0, sp->out, &sp->n_out, &ell, true, max_ell));
    for (int i = 0; i < sp->n_out; i++) {
      if (sp->size[sp->out[i]] < 0)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output index %d of '%s' appears in no input", i, eq);
      for (int k = 0; k < i; k++)
        if (sp->out[k] == sp->out[i]) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output index repeated in '%s'", eq);
    }
  } else {
    /* Implicit: ellipsis dims, then indices used exactly once, in alphabetical order. */
    int count[EIN_MAX_LABELS] = {0};
    for (int t = 0; t < nt; t++)
      for (int a = 0; a < sp->n_terms[t]; a++) count[sp->terms[t][a]]++;
    for (int e = 0; e < max_ell; e++) sp->out[sp->n_out++] = 52 + e;
    for (int l = 0; l < 52; l++)
      if (count[l] == 1) sp->out[sp->n_out++] = l;
  }
  return NULL;
}

/* dst (contiguous, row-major over sizes) = src read with element strides. */
static void strided_gather_f32(float *dst, const float *src, int rank, const int64_t *sizes, const int64_t *strides) {
  size_t total = 1;
  for (int d = 0; d < rank; d++) total *= (size_t)sizes[d];
  int64_t idx[EIN_MAX_LABELS] = {0}, off = 0;
  for (size_t i = 0; i < total; i++) {
    dst[i] = src[off];
    for (int d = rank - 1; d >= 0; d--) {
      off += strides[d];
      if (++idx[d] < sizes[d]) break;
      off -= strides[d] * sizes[d];
      idx[d] = 0;
    }
  }
}

/* Element strides of input t for every label (summed for repeated labels: the diagonal). */
static void label_strides(const ein_spec *sp, const oxrt_value *v, int t, int64_t *st) {
  for (int l = 0; l < EIN_MAX_LABELS; l++) st[l] = 0;
  int64_t s = 1;
  for (int a = v->rank - 1; a >= 0; a--) {
    if (v->dims[a] != 1 || sp->size[sp->terms[t][a]] == 1) st[sp->terms[t][a]] += s;
    s *= v->dims[a];
  }
}

/* Two float operands contracting like a batched matmul: [batch, M, K] x [batch, K, N]. */
static bool try_matmul(const ein_spec *sp, oxrt_kernel_ctx *ctx, const float *af, const float *bf, float *yf,
                       oxrt_status **st) {
  if (sp->n_in != 2) return false;
  bool in_a[EIN_MAX_LABELS] = {0}, in_b[EIN_MAX_LABELS] = {0}, in_o[EIN_MAX_LABELS] = {0};
  for (int a = 0; a < sp->n_terms[0]; a++) {
    if (in_a[sp->terms[0][a]]) return false; /* diagonal */
    in_a[sp->terms[0][a]] = true;
  }
  for (int a = 0; a < sp->n_terms[1]; a++) {
    if (in_b[sp->terms[1][a]]) return false;
    in_b[sp->terms[1][a]] = true;
  }
  for (int i = 0; i < sp->n_out; i++) in_o[sp->out[i]] = true;
  int lb[EIN_MAX_LABELS], lm[EIN_MAX_LABELS], ln[EIN_MAX_LABELS], lk[EIN_MAX_LABELS], nb = 0, nm = 0, nn = 0, nk = 0;
  size_t B = 1, M = 1, N = 1, K = 1;
  for (int l = 0; l < EIN_MAX_LABELS; l++) {
    if (!in_a[l] && !in_b[l]) continue;
    size_t z = (size_t)sp->size[l];
    if (in_a[l] && in_b[l] && in_o[l]) lb[nb++] = l, B *= z;
    else if (in_a[l] && in_o[l]) lm[nm++] = l, M *= z;
    else if (in_b[l] && in_o[l]) ln[nn++] = l, N *= z;
    else if (in_a[l] && in_b[l]) lk[nk++] = l, K *= z;
    else return false; /* summed within one operand only */
  }
  if (M * N * K < 4096) return false; /* tiny: the loop is as good */
  const oxrt_value *a = oxrt_input(ctx, 0), *b = oxrt_input(ctx, 1);
  int64_t sa[EIN_MAX_LABELS], sb[EIN_MAX_LABELS], sizes[EIN_MAX_LABELS], strides[EIN_MAX_LABELS];
  label_strides(sp, a, 0, sa);
  label_strides(sp, b, 1, sb);
  float *ap = malloc(sizeof(float) * (B * M * K + 1)), *bp = malloc(sizeof(float) * (B * K * N + 1)),
        *cp = malloc(sizeof(float) * (B * M * N + 1));
  if (!ap || !bp || !cp) {
    free(ap), free(bp), free(cp);
    *st = OXRT_OOM();
    return true;
  }
  int r = 0;
  for (int i = 0; i < nb; i++) sizes[r] = sp->size[lb[i]], strides[r++] = sa[lb[i]];
  for (int i = 0; i < nm; i++) sizes[r] = sp->size[lm[i]], strides[r++] = sa[lm[i]];
  for (int i = 0; i < nk; i++) sizes[r] = sp->size[lk[i]], strides[r++] = sa[lk[i]];
  strided_gather_f32(ap, af, r, sizes, strides);
  r = 0;
  for (int i = 0; i < nb; i++) sizes[r] = sp->size[lb[i]], strides[r++] = sb[lb[i]];
  for (int i = 0; i < nk; i++) sizes[r] = sp->size[lk[i]], strides[r++] = sb[lk[i]];
  for (int i = 0; i < nn; i++) sizes[r] = sp->size[ln[i]], strides[r++] = sb[ln[i]];
  strided_gather_f32(bp, bf, r, sizes, strides);
  for (size_t t = 0; t < B; t++)
    oxrt_sgemm(false, false, M, N, K, 1.0f, ap + t * M * K, K, bp + t * K * N, N, 0.0f, cp + t * M * N, N, ctx->pool);
  /* Output order from the [batch, M, N] product. */
  int64_t sc[EIN_MAX_LABELS] = {0}, s = 1;
  for (int i = nn - 1; i >= 0; i--) sc[ln[i]] = s, s *= sp->size[ln[i]];
  for (int i = nm - 1; i >= 0; i--) sc[lm[i]] = s, s *= sp->size[lm[i]];
  for (int i = nb - 1; i >= 0; i--) sc[lb[i]] = s, s *= sp->size[lb[i]];
  for (int i = 0; i < sp->n_out; i++) sizes[i] = sp->size[sp->out[i]], strides[i] = sc[sp->out[i]];
  strided_gather_f32(yf, cp, sp->n_out, sizes, strides);
  free(ap), free(bp), free(cp);
  return true;
}

/* Generic loop: all labels, output labels outermost. */
static void einsum_loop(const ein_spec *sp, oxrt_kernel_ctx *ctx, oxrt_value *y, const double *const *fin, double *yf) {
  bool is_int = !oxrt_dtype_is_float(y->dtype);
  int order[EIN_MAX_LABELS], n = 0;
  bool used[EIN_MAX_LABELS] = {0};
  for (int i = 0; i < sp->n_out; i++) order[n++] = sp->out[i], used[sp->out[i]] = true;
  int n_out = n;
  for (int t = 0; t < sp->n_in; t++)
    for (int a = 0; a < sp->n_terms[t]; a++)
      if (!used[sp->terms[t][a]]) used[sp->terms[t][a]] = true, order[n++] = sp->terms[t][a];
  int64_t st[EIN_MAX_IN][EIN_MAX_LABELS];
  for (int t = 0; t < sp->n_in; t++) {
    int64_t full[EIN_MAX_LABELS];
    label_strides(sp, oxrt_input(ctx, t), t, full);
    for (int i = 0; i < n; i++) st[t][i] = full[order[i]];
  }
  size_t n_o = 1, n_s = 1;
  for (int i = 0; i < n_out; i++) n_o *= (size_t)sp->size[order[i]];
  for (int i = n_out; i < n; i++) n_s *= (size_t)sp->size[order[i]];
  int64_t idx[EIN_MAX_LABELS] = {0}, off[EIN_MAX_IN] = {0};
  for (size_t o = 0; o < n_o; o++) {
    double accd = 0;
    uint64_t acci = 0;
    int64_t sidx[EIN_MAX_LABELS] = {0}, soff[EIN_MAX_IN];
    for (int t = 0; t < sp->n_in; t++) soff[t] = off[t];
    for (size_t q = 0; q < n_s; q++) {
      if (is_int) {
        uint64_t p = 1;
        for (int t = 0; t < sp->n_in; t++) {
          const oxrt_value *v = oxrt_input(ctx, t);
          p *= (uint64_t)oxrt_load_i64(v->dtype, v->data, (size_t)soff[t]);
        }
        acci += p;
      } else {
        double p = 1;
        for (int t = 0; t < sp->n_in; t++) p *= fin[t][soff[t]];
        accd += p;
      }
      for (int d = n - 1; d >= n_out; d--) {
        for (int t = 0; t < sp->n_in; t++) soff[t] += st[t][d];
        if (++sidx[d] < sp->size[order[d]]) break;
        for (int t = 0; t < sp->n_in; t++) soff[t] -= st[t][d] * sp->size[order[d]];
        sidx[d] = 0;
      }
    }
    if (is_int) oxrt_store_i64(y->dtype, y->data, o, (int64_t)acci);
    else yf[o] = accd;
    for (int d = n_out - 1; d >= 0; d--) {
      for (int t = 0; t < sp->n_in; t++) off[t] += st[t][d];
      if (++idx[d] < sp->size[order[d]]) break;
      for (int t = 0; t < sp->n_in; t++) off[t] -= st[t][d] * sp->size[order[d]];
      idx[d] = 0;
    }
  }
}

static oxrt_status *einsum_run(oxrt_kernel_ctx *ctx) {
  const char *eq = oxrt_attr_string(ctx->node, "equation", NULL);
  if (!eq) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "attribute equation is required");
  if (ctx->n_inputs < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "Einsum needs at least one input");
  ein_spec sp;
  OXRT_TRY(parse_equation(eq, ctx, &sp));
  oxrt_elem_type t = oxrt_input(ctx, 0)->dtype;
  for (int i = 1; i < sp.n_in; i++)
    if (oxrt_input(ctx, i)->dtype != t)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input %d is %s, input 0 is %s", i,
                        oxrt_elem_type_name(oxrt_input(ctx, i)->dtype), oxrt_elem_type_name(t));
  int64_t yd[OXRT_MAX_RANK];
  if (sp.n_out > OXRT_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "einsum output rank too large");
  for (int i = 0; i < sp.n_out; i++) yd[i] = sp.size[sp.out[i]];
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, t, sp.n_out, yd, &y));
  oxrt_status *st = NULL;
  if (la_is_f32_family(t) && sp.n_in == 2 && y->count) {
    const float *af = NULL, *bf = NULL;
    float *at = NULL, *bt = NULL, *yf = NULL, *yt = NULL;
    bool done = false;
    if (!(st = oxrt_f32_view(oxrt_input(ctx, 0), &af, &at)) && !(st = oxrt_f32_view(oxrt_input(ctx, 1), &bf, &bt)) &&
        !(st = la_f32_out(y, &yf, &yt)))
      done = try_matmul(&sp, ctx, af, bf, yf, &st);
    free(at);
    free(bt);
    if (yt) {
      if (!st && done) la_f32_commit(y, yt);
      else free(yt);
    }
    if (st || done) return st;
  }
  if (!oxrt_dtype_is_float(t)) {
    einsum_loop(&sp, ctx, y, NULL, NULL);
    return NULL;
  }
  /* Floats: accumulate in double over double copies of the inputs. */
  double *din[EIN_MAX_IN] = {0}, *yd64 = malloc(sizeof(double) * (y->count + 1));
  if (!yd64) return OXRT_OOM();
  for (int i = 0; i < sp.n_in && !st; i++) {
    const oxrt_value *v = oxrt_input(ctx, i);
    din[i] = malloc(sizeof(double) * (v->count + 1));
    if (!din[i]) st = OXRT_OOM();
    else oxrt_convert(OXRT_DOUBLE, din[i], v->dtype, v->data, v->count, false);
  }
  if (!st) {
    einsum_loop(&sp, ctx, y, (const double *const *)din, yd64);
    oxrt_convert(t, y->data, OXRT_DOUBLE, yd64, y->count, false);
  }
  for (int i = 0; i < sp.n_in; i++) free(din[i]);
  free(yd64);
  return st;
}

static const oxrt_op_impl einsum_impls[] = {{.since_version = 12, .type_mask = OXRT_TMASK_NUMERIC, .run = einsum_run}};
OXRT_REGISTER_OP(Einsum) = {"", "Einsum", OXRT_IMPLS(einsum_impls)};
