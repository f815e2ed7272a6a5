/* MelWeightMatrix.c - MelWeightMatrix (opset 17): triangular mel filterbank of shape
 * [dft_length/2+1, num_mel_bins], following the ONNX reference's bin placement. */
#include "../op_util.h"
#include <math.h>
#include <stdlib.h>

static oxrt_status *mel_run(oxrt_kernel_ctx *ctx) {
  int64_t nmel, dftlen, rate;
  double lo, hi;
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 0), 0, &nmel));
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 1), 1, &dftlen));
  OXRT_TRY(oxrt_read_scalar_i64(oxrt_input(ctx, 2), 2, &rate));
  OXRT_TRY(oxrt_read_scalar_f64(oxrt_input(ctx, 3), 3, &lo));
  OXRT_TRY(oxrt_read_scalar_f64(oxrt_input(ctx, 4), 4, &hi));
  if (nmel < 1 || dftlen < 1 || rate < 1)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "num_mel_bins, dft_length and sample_rate must be positive");
  if (!(lo >= 0 && hi >= lo && hi <= rate / 2.0 + 1e-9)) /* NaN fails too */
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT,
                      "need 0 <= lower_edge_hertz (%g) <= upper_edge_hertz (%g) <= sample_rate/2", lo, hi);
  int64_t dt = oxrt_attr_int(ctx->node, "output_datatype", OXRT_FLOAT);
  if (!oxrt_dtype_is_valid((int)dt) || !((OXRT_TMASK_FLOATS | OXRT_TMASK_INTS) & OXRT_TBIT(dt)))
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "output_datatype %lld is not a supported numeric type", (long long)dt);
  int64_t nspec = dftlen / 2 + 1;
  int64_t dims[2] = {nspec, nmel};
  int64_t *bins = malloc(sizeof(int64_t) * (size_t)(nmel + 2));
  double *w = calloc((size_t)(nspec * nmel), sizeof(double));
  if (!bins || !w) {
    free(bins), free(w);
    return OXRT_OOM();
  }
  double mlo = 2595.0 * log10(1.0 + lo / 700.0), mhi = 2595.0 * log10(1.0 + hi / 700.0);
  double step = (mhi - mlo) / (double)(nmel + 2);
  for (int64_t i = 0; i < nmel + 2; i++) {
    double hz = 700.0 * (pow(10.0, ((double)i * step + mlo) / 2595.0) - 1.0);
    bins[i] = (int64_t)floor((double)(dftlen + 1) * hz / (double)rate);
  }
  oxrt_status *st = NULL;
  for (int64_t i = 0; i < nmel && !st; i++) {
    int64_t l = bins[i], c = bins[i + 1], r = bins[i + 2];
    if (l < 0 || r >= nspec + 1 || c >= nspec) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "mel bin edges fall outside the %lld spectrogram bins", (long long)nspec);
      break;
    }
    if (c == l) {
      w[c * nmel + i] = 1.0;
    } else {
      for (int64_t j = l; j <= c; j++) w[j * nmel + i] = (double)(j - l) / (double)(c - l);
    }
    for (int64_t j = c; j < r; j++) w[j * nmel + i] = (double)(r - j) / (double)(r - c);
  }
  oxrt_value *y;
  if (!st) st = oxrt_output_tensor(ctx, 0, (oxrt_elem_type)dt, 2, dims, &y);
  if (!st)
    for (size_t i = 0; i < (size_t)(nspec * nmel); i++) oxrt_store_f64((oxrt_elem_type)dt, y->data, i, w[i]);
  free(bins), free(w);
  return st;
}

static const oxrt_op_impl mel_impls[] = {{.since_version = 17, .run = mel_run}};
OXRT_REGISTER_OP(MelWeightMatrix) = {"", "MelWeightMatrix", OXRT_IMPLS(mel_impls)};
