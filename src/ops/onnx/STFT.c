/* STFT.c - STFT (opset 17): frames of a [batch, length, 1|2] signal, optionally windowed, each DFT'd;
 * output [batch, frames, bins, 2] with bins = frame_length/2+1 when onesided. */
#include "../op_util.h"
#include "fft_util.h"

typedef struct {
  const oxrt_value *x, *win;
  oxrt_value *y;
  int64_t len, cin, step, flen, nframes, nbins;
} stft_args;

static void stft_frames(void *arg, size_t begin, size_t end) {
  stft_args *a = arg;
  size_t L = (size_t)a->flen;
  double *buf = malloc(sizeof(double) * 4 * (L + 1));
  if (!buf) return;
  double *in = buf, *out = buf + 2 * (L + 1);
  for (size_t fi = begin; fi < end; fi++) {
    int64_t b = (int64_t)fi / a->nframes, f = (int64_t)fi % a->nframes;
    for (int64_t t = 0; t < a->flen; t++) {
      size_t src = (size_t)((b * a->len + f * a->step + t) * a->cin);
      double w = a->win ? oxrt_load_f64(a->win->dtype, a->win->data, (size_t)t) : 1.0;
      in[2 * t] = w * oxrt_load_f64(a->x->dtype, a->x->data, src);
      in[2 * t + 1] = a->cin == 2 ? w * oxrt_load_f64(a->x->dtype, a->x->data, src + 1) : 0.0;
    }
    dft_any(in, out, L, -1);
    for (int64_t k = 0; k < a->nbins; k++) {
      size_t dst = (size_t)(((b * a->nframes + f) * a->nbins + k) * 2);
      oxrt_store_f64(a->y->dtype, a->y->data, dst, out[2 * k]);
      oxrt_store_f64(a->y->dtype, a->y->data, dst + 1, out[2 * k + 1]);
    }
  }
  free(buf);
}

static oxrt_status *stft_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *step = oxrt_input(ctx, 1), *win = oxrt_input(ctx, 2),
                   *fl = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(x, 0, "signal"));
  if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "signal must be [batch, length, 1 or 2], got rank %d", x->rank);
  stft_args a = {.x = x, .len = x->dims[1], .cin = x->dims[2]};
  OXRT_TRY(oxrt_read_scalar_i64(step, 1, &a.step));
  if (a.step < 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "frame_step must be positive, got %lld", (long long)a.step);
  a.flen = -1;
  if (fl) OXRT_TRY(oxrt_read_scalar_i64(fl, 3, &a.flen));
  if (win) {
    OXRT_TRY(oxrt_check_tensor(win, 2, "window"));
    if (win->rank != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "window must be 1-D, got rank %d", win->rank);
    if (a.flen >= 0 && a.flen != win->dims[0])
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "window length %lld differs from frame_length %lld",
                        (long long)win->dims[0], (long long)a.flen);
    a.flen = win->dims[0];
    a.win = win;
  }
  if (a.flen < 0) a.flen = a.len;
  if (a.flen < 1 || a.flen > a.len)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "frame_length %lld must be in [1, signal length %lld]",
                      (long long)a.flen, (long long)a.len);
  int onesided = (int)oxrt_attr_int(ctx->node, "onesided", 1);
  if (onesided && a.cin == 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "onesided output needs a real signal (last dimension 1)");
  a.nframes = 1 + (a.len - a.flen) / a.step;
  a.nbins = onesided ? a.flen / 2 + 1 : a.flen;
  int64_t dims[4] = {x->dims[0], a.nframes, a.nbins, 2};
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, 4, dims, &a.y));
  oxrt_parallel(ctx, (size_t)(x->dims[0] * a.nframes), 1, stft_frames, &a);
  return NULL;
}

static const oxrt_op_impl stft_impls[] = {{.since_version = 17, .type_mask = OXRT_TMASK_FLOATS, .run = stft_run}};
OXRT_REGISTER_OP(STFT) = {"", "STFT", OXRT_IMPLS(stft_impls)};
