/* Col2Im.c - Col2Im: sums the columns of [N, C * prod(block_shape), L] back into images [N, C, *image_shape],
 * the inverse of im2col with dilations, pads and strides (any number of spatial dims). Floats accumulate
 * in double, integers in int64, complex types per component. */
#include "../op_util.h"
#include <stdlib.h>
#include <string.h>

static oxrt_status *col2im_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  if (x->rank != 3) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be 3-D [N, C*prod(block), L], got rank %d", x->rank);
  oxrt_elem_type t = x->dtype;
  if (t == OXRT_STRING) return oxrt_error(OXRT_ERR_NOT_IMPLEMENTED, "Col2Im cannot sum strings");
  int64_t *img = NULL, *blk = NULL;
  size_t ni, nb;
  OXRT_TRY(oxrt_read_int_list(oxrt_input(ctx, 1), 1, &img, &ni));
  oxrt_status *st = oxrt_read_int_list(oxrt_input(ctx, 2), 2, &blk, &nb);
  size_t nd = ni, n_dil, n_pad, n_str;
  const int64_t *dil = oxrt_attr_ints(ctx->node, "dilations", &n_dil);
  const int64_t *pads = oxrt_attr_ints(ctx->node, "pads", &n_pad);
  const int64_t *str = oxrt_attr_ints(ctx->node, "strides", &n_str);
  int64_t D[OXRT_MAX_RANK], P0[OXRT_MAX_RANK], P1[OXRT_MAX_RANK], S[OXRT_MAX_RANK], cols[OXRT_MAX_RANK];
  int64_t K = 1, L = 1, plane = 1;
  if (!st && (nd == 0 || nd + 2 > OXRT_MAX_RANK || nb != nd))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "image_shape (%zu) and block_shape (%zu) need the same number of dims", ni, nb);
  if (!st && ((dil && n_dil != nd) || (pads && n_pad != 2 * nd) || (str && n_str != nd)))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "dilations/strides need %zu values and pads %zu", nd, 2 * nd);
  for (size_t i = 0; !st && i < nd; i++) {
    D[i] = dil ? dil[i] : 1;
    S[i] = str ? str[i] : 1;
    P0[i] = pads ? pads[i] : 0;
    P1[i] = pads ? pads[nd + i] : 0;
    const int64_t lim = (int64_t)1 << 24; /* keeps every product below int64 */
    if (img[i] <= 0 || blk[i] <= 0 || D[i] <= 0 || S[i] <= 0 || P0[i] < 0 || P1[i] < 0 || img[i] > lim || blk[i] > lim ||
        D[i] > lim || S[i] > lim || P0[i] > lim || P1[i] > lim) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "axis %zu: image, block, dilation and stride must be positive, pads >= 0", i);
      break;
    }
    int64_t span = D[i] * (blk[i] - 1) + 1;
    cols[i] = (img[i] + P0[i] + P1[i] - span) / S[i] + 1;
    if (img[i] + P0[i] + P1[i] < span) cols[i] = 0;
    K *= blk[i];
    L *= cols[i];
    plane *= img[i];
    if (K > x->dims[1] || L > x->dims[2] || plane > lim * lim) {
      st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "block or image shape too large for input dims [%lld, %lld]",
                      (long long)x->dims[1], (long long)x->dims[2]);
      break;
    }
  }
  if (!st && (x->dims[1] % K || x->dims[2] != L))
    st = oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input dims [%lld, %lld] do not match block size %lld and %lld sliding blocks",
                    (long long)x->dims[1], (long long)x->dims[2], (long long)K, (long long)L);
  if (st) {
    free(img);
    free(blk);
    return st;
  }
  int64_t N = x->dims[0], C = x->dims[1] / K;
  int64_t dims[OXRT_MAX_RANK] = {N, C};
  for (size_t i = 0; i < nd; i++) dims[2 + i] = img[i];
  oxrt_value *y;
  st = oxrt_output_tensor(ctx, 0, t, (int)nd + 2, dims, &y);
  /* For each (kernel offset, column) the flat image index, or -1 where it falls in the padding. */
  int64_t *map = st ? NULL : malloc(sizeof(int64_t) * (size_t)(K * L > 0 ? K * L : 1));
  if (!st && !map) st = OXRT_OOM();
  if (!st) {
    for (int64_t kc = 0; kc < K; kc++) {
      int64_t ko[OXRT_MAX_RANK], rem = kc;
      for (int i = (int)nd - 1; i >= 0; i--) {
        ko[i] = rem % blk[i];
        rem /= blk[i];
      }
      for (int64_t c = 0; c < L; c++) {
        int64_t r2 = c, idx = 0;
        bool in = true;
        int64_t scale = 1;
        for (int i = (int)nd - 1; i >= 0; i--) {
          int64_t pos = (r2 % cols[i]) * S[i] - P0[i] + ko[i] * D[i];
          r2 /= cols[i];
          if (pos < 0 || pos >= img[i]) in = false;
          idx += pos * scale;
          scale *= img[i];
        }
        map[kc * L + c] = in ? idx : -1;
      }
    }
  }
  free(img);
  free(blk);
  if (st) return st;
  bool cplx = t == OXRT_COMPLEX64 || t == OXRT_COMPLEX128;
  oxrt_elem_type bt = t == OXRT_COMPLEX64 ? OXRT_FLOAT : t == OXRT_COMPLEX128 ? OXRT_DOUBLE : t;
  int comps = cplx ? 2 : 1;
  bool integer = oxrt_dtype_is_signed_int(bt) || oxrt_dtype_is_unsigned_int(bt) || bt == OXRT_BOOL;
  size_t pn = (size_t)plane * (size_t)comps;
  double *accf = integer ? NULL : malloc(sizeof(double) * pn);
  int64_t *acci = integer ? malloc(sizeof(int64_t) * pn) : NULL;
  if (!accf && !acci) {
    free(map);
    return OXRT_OOM();
  }
  for (int64_t p = 0; p < N * C; p++) {
    if (accf) memset(accf, 0, sizeof(double) * pn);
    else memset(acci, 0, sizeof(int64_t) * pn);
    size_t src0 = (size_t)(p * K * L) * (size_t)comps;
    for (int64_t j = 0; j < K * L; j++) {
      if (map[j] < 0) continue;
      for (int q = 0; q < comps; q++) {
        size_t si = src0 + (size_t)j * (size_t)comps + (size_t)q, di = (size_t)map[j] * (size_t)comps + (size_t)q;
        if (accf) accf[di] += bt == OXRT_FLOAT ? (double)((const float *)x->data)[si] : oxrt_load_f64(bt, x->data, si);
        else acci[di] += oxrt_load_i64(bt, x->data, si);
      }
    }
    size_t dst0 = (size_t)p * pn;
    for (size_t i = 0; i < pn; i++) {
      if (bt == OXRT_FLOAT) ((float *)y->data)[dst0 + i] = (float)accf[i];
      else if (accf) oxrt_store_f64(bt, y->data, dst0 + i, accf[i]);
      else oxrt_store_i64(bt, y->data, dst0 + i, acci[i]);
    }
  }
  free(map);
  free(accf);
  free(acci);
  return NULL;
}

static const oxrt_op_impl col2im_impls[] = {{.since_version = 18, .run = col2im_run}};
OXRT_REGISTER_OP(Col2Im) = {"", "Col2Im", OXRT_IMPLS(col2im_impls)};
