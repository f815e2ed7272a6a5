/* DFT.c - DFT (opset 17: axis attribute; opset 20: axis input): forward/inverse, real or complex input, onesided
 * (rfft / irfft), any dft_length (zero padding or truncation). Computed in double through fft_util.h. */
#include "../op_util.h"
#include "fft_util.h"

typedef struct {
  const oxrt_value *x;
  oxrt_value *y;
  int64_t outer, inner, n_in, n_fft, n_out, cin, cout;
  int inverse, onesided;
} dft_args;

static void dft_lines(void *arg, size_t begin, size_t end) {
  dft_args *a = arg;
  size_t L = (size_t)a->n_fft;
  double *buf = malloc(sizeof(double) * 4 * (L + 1));
  if (!buf) return; /* checked by the caller through a probe allocation */
  double *in = buf, *out = buf + 2 * (L + 1);
  for (size_t line = begin; line < end; line++) {
    int64_t o = (int64_t)line / a->inner, i = (int64_t)line % a->inner;
    memset(in, 0, sizeof(double) * 2 * L);
    if (a->inverse && a->onesided) {
      /* irfft: rebuild the Hermitian-symmetric spectrum from its first L/2+1 bins */
      int64_t half = a->n_fft / 2 + 1, m = a->n_in < half ? a->n_in : half;
      for (int64_t k = 0; k < m; k++) {
        size_t src = (size_t)(((o * a->n_in + k) * a->inner + i) * a->cin);
        double re = oxrt_load_f64(a->x->dtype, a->x->data, src);
        double im = a->cin == 2 ? oxrt_load_f64(a->x->dtype, a->x->data, src + 1) : 0.0;
        in[2 * k] = re, in[2 * k + 1] = im;
        if (k > 0 && (int64_t)L - k > k) in[2 * (L - k)] = re, in[2 * (L - k) + 1] = -im;
      }
    } else {
      int64_t m = a->n_in < a->n_fft ? a->n_in : a->n_fft;
      for (int64_t k = 0; k < m; k++) {
        size_t src = (size_t)(((o * a->n_in + k) * a->inner + i) * a->cin);
        in[2 * k] = oxrt_load_f64(a->x->dtype, a->x->data, src);
        in[2 * k + 1] = a->cin == 2 ? oxrt_load_f64(a->x->dtype, a->x->data, src + 1) : 0.0;
      }
    }
    dft_any(in, out, L, a->inverse ? 1 : -1);
    double norm = a->inverse ? 1.0 / (double)L : 1.0;
    for (int64_t k = 0; k < a->n_out; k++) {
      size_t dst = (size_t)(((o * a->n_out + k) * a->inner + i) * a->cout);
      oxrt_store_f64(a->y->dtype, a->y->data, dst, out[2 * k] * norm);
      if (a->cout == 2) oxrt_store_f64(a->y->dtype, a->y->data, dst + 1, out[2 * k + 1] * norm);
    }
  }
  free(buf);
}

static oxrt_status *dft_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  int r = x->rank;
  if (r < 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must have rank >= 2, got %d", r);
  int64_t cin = x->dims[r - 1];
  if (cin != 1 && cin != 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "last dimension must be 1 (real) or 2 (complex), got %lld",
                      (long long)cin);
  int64_t axis;
  if (ctx->opset >= 20) {
    axis = -2;
    const oxrt_value *ax = oxrt_input(ctx, 2);
    if (ax) OXRT_TRY(oxrt_read_scalar_i64(ax, 2, &axis));
  } else {
    axis = oxrt_attr_int(ctx->node, "axis", 1);
  }
  if (axis < -r || axis >= r)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d", (long long)axis, r);
  if (axis < 0) axis += r;
  if (axis == r - 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis must not be the last (real/imaginary) dimension");
  int inverse = (int)oxrt_attr_int(ctx->node, "inverse", 0), onesided = (int)oxrt_attr_int(ctx->node, "onesided", 0);
  int64_t n_in = x->dims[axis], n_fft = inverse && onesided ? 2 * (n_in - 1) : n_in;
  const oxrt_value *len = oxrt_input(ctx, 1);
  if (len) OXRT_TRY(oxrt_read_scalar_i64(len, 1, &n_fft));
  if (n_fft < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dft_length must be positive, got %lld", (long long)n_fft);
  if (!inverse && onesided && cin == 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "onesided output needs a real input (last dimension 1)");
  dft_args a = {.x = x, .n_in = n_in, .n_fft = n_fft, .cin = cin, .inverse = inverse, .onesided = onesided};
  a.n_out = (!inverse && onesided) ? n_fft / 2 + 1 : n_fft;
  a.cout = (inverse && onesided) ? 1 : 2;
  a.outer = a.inner = 1;
  for (int d = 0; d < axis; d++) a.outer *= x->dims[d];
  for (int d = (int)axis + 1; d < r - 1; d++) a.inner *= x->dims[d];
  int64_t dims[OXRT_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
  dims[axis] = a.n_out;
  dims[r - 1] = a.cout;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, r, dims, &a.y));
  void *probe = malloc(sizeof(double) * 4 * ((size_t)n_fft + 1));
  if (!probe) return OXRT_OOM();
  free(probe);
  oxrt_parallel(ctx, (size_t)(a.outer * a.inner), 1, dft_lines, &a);
  return NULL;
}

static const oxrt_op_impl dft_impls[] = {
    {.since_version = 17, .type_mask = OXRT_TMASK_FLOATS, .run = dft_run},
    {.since_version = 20, .type_mask = OXRT_TMASK_FLOATS, .run = dft_run},
};
OXRT_REGISTER_OP(DFT) = {"", "DFT", OXRT_IMPLS(dft_impls)};
