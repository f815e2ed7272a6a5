/* RotaryEmbedding.c - RotaryEmbedding (opset 23): rotates the first rotary_embedding_dim features of each head by
 * per-position angles from cos/sin caches (indexed by position_ids, or given per batch and position), in
 * half-split or interleaved pairing. Input [B, H, S, D] or [B, S, H*D] with num_heads. Computed in float. */
#include "../op_util.h"
#include <stdlib.h>

static oxrt_status *rope_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0), *cc = oxrt_input(ctx, 1), *sc = oxrt_input(ctx, 2),
                   *pos = oxrt_input(ctx, 3);
  OXRT_TRY(oxrt_check_tensor(x, 0, "input"));
  OXRT_TRY(oxrt_check_tensor(cc, 1, "cos_cache"));
  OXRT_TRY(oxrt_check_tensor(sc, 2, "sin_cache"));
  if (x->rank != 3 && x->rank != 4) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input must be 3-D or 4-D, got rank %d", x->rank);
  int64_t B = x->dims[0], H, S, D;
  if (x->rank == 4) {
    H = x->dims[1], S = x->dims[2], D = x->dims[3];
  } else {
    H = oxrt_attr_int(ctx->node, "num_heads", 0);
    if (H <= 0 || x->dims[2] % H)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "3-D input needs num_heads dividing the hidden size %lld",
                        (long long)x->dims[2]);
    S = x->dims[1], D = x->dims[2] / H;
  }
  int64_t rd = oxrt_attr_int(ctx->node, "rotary_embedding_dim", 0);
  if (rd == 0) rd = D;
  if (rd < 0 || rd > D || rd % 2)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rotary_embedding_dim %lld must be even and at most the head size %lld",
                      (long long)rd, (long long)D);
  int64_t half = rd / 2;
  int interleaved = (int)oxrt_attr_int(ctx->node, "interleaved", 0);
  if (cc->rank != sc->rank || cc->count != sc->count || cc->dims[cc->rank - 1] != half)
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "cos/sin caches must match and end in rotary_embedding_dim/2 = %lld",
                      (long long)half);
  int64_t max_pos = 0;
  if (pos) {
    OXRT_TRY(oxrt_check_tensor(pos, 3, "position_ids"));
    if (pos->dtype != OXRT_INT64 || pos->rank != 2 || pos->dims[0] != B || pos->dims[1] != S)
      return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "position_ids must be int64 [batch, sequence]");
    if (cc->rank != 2) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "with position_ids the caches must be 2-D");
    max_pos = cc->dims[0];
    const int64_t *p = pos->data;
    for (size_t i = 0; i < pos->count; i++)
      if (p[i] < 0 || p[i] >= max_pos)
        return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "position id %lld is outside the cache of %lld positions",
                          (long long)p[i], (long long)max_pos);
  } else if (cc->rank != 3 || cc->dims[0] != B || cc->dims[1] != S) {
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "without position_ids the caches must be [batch, sequence, dim/2]");
  }
  oxrt_value *y;
  OXRT_TRY(oxrt_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
  float *xf = malloc(sizeof(float) * (x->count + 2 * (size_t)half + 1));
  if (!xf) return OXRT_OOM();
  float *row = xf + x->count;
  if (!oxrt_convert(OXRT_FLOAT, xf, x->dtype, x->data, x->count, false)) {
    free(xf);
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "unsupported input type %s", oxrt_elem_type_name(x->dtype));
  }
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++) {
      size_t crow = pos ? (size_t)((const int64_t *)pos->data)[b * S + s] : (size_t)(b * S + s);
      for (int64_t k = 0; k < half; k++) {
        row[k] = (float)oxrt_load_f64(cc->dtype, cc->data, crow * (size_t)half + (size_t)k);
        row[half + k] = (float)oxrt_load_f64(sc->dtype, sc->data, crow * (size_t)half + (size_t)k);
      }
      for (int64_t h = 0; h < H; h++) {
        size_t base = x->rank == 4 ? (size_t)(((b * H + h) * S + s) * D) : (size_t)(((b * S + s) * H + h) * D);
        float *v = xf + base;
        for (int64_t k = 0; k < half; k++) {
          int64_t i1 = interleaved ? 2 * k : k, i2 = interleaved ? 2 * k + 1 : k + half;
          float a = v[i1], c = v[i2], co = row[k], si = row[half + k];
          v[i1] = co * a - si * c;
          v[i2] = si * a + co * c;
        }
      }
    }
  oxrt_convert(x->dtype, y->data, OXRT_FLOAT, xf, x->count, false);
  free(xf);
  return NULL;
}

static const oxrt_op_impl rope_impls[] = {{.since_version = 23, .type_mask = OXRT_TMASK_FLOATS, .run = rope_run}};
OXRT_REGISTER_OP(RotaryEmbedding) = {"", "RotaryEmbedding", OXRT_IMPLS(rope_impls)};
