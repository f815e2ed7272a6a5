/* gemm_act_body.h - the piecewise-linear activations (Relu, Clip, LeakyRelu, HardSigmoid, HardSwish) over a run of
 * floats with explicit vectors, included by gemm_act_avx2.c and gemm_act_avx512.c with VEC_* set. The compiler
 * leaves the scalar forms branchy (it keeps their NaN behaviour), which made a fused HardSwish output pass slower
 * than a separate node. max(lo, v) / min(hi, v) take v's NaN (the instructions return the second operand then),
 * so NaN passes like in the scalar loops. */
static inline VEC_T act_vec(int kind, VEC_T v, VEC_T lo, VEC_T hi, VEC_T a, VEC_T b) {
  switch (kind) {
  case OXRT_ACT_RELU:
  case OXRT_ACT_CLIP: return VEC_MIN(hi, VEC_MAX(lo, v));
  case OXRT_ACT_LEAKY_RELU: return VEC_BLEND_NEG(v, VEC_MUL(a, v));
  case OXRT_ACT_HARD_SIGMOID: return VEC_MIN(VEC_SET1(1.0f), VEC_MAX(VEC_ZERO, VEC_FMA(a, v, b)));
  default: /* HARD_SWISH */
    return VEC_MUL(v, VEC_MIN(VEC_SET1(1.0f), VEC_MAX(VEC_ZERO, VEC_FMA(VEC_SET1(1.0f / 6.0f), v, VEC_SET1(0.5f)))));
  }
}

bool VEC_FN(oxrt_act_piecewise_)(oxrt_activation act, float *y, size_t n) {
  float lo = -INFINITY, hi = INFINITY;
  switch (act.kind) {
  case OXRT_ACT_RELU: lo = 0.0f; break;
  case OXRT_ACT_CLIP: lo = act.a, hi = act.b; break;
  case OXRT_ACT_LEAKY_RELU:
  case OXRT_ACT_HARD_SIGMOID:
  case OXRT_ACT_HARD_SWISH: break;
  default: return false;
  }
  const int kind = act.kind;
  const VEC_T vlo = VEC_SET1(lo), vhi = VEC_SET1(hi), va = VEC_SET1(act.a), vb = VEC_SET1(act.b);
  size_t i = 0;
  for (; i + VEC_W <= n; i += VEC_W) VEC_STORE(y + i, act_vec(kind, VEC_LOAD(y + i), vlo, vhi, va, vb));
  if (i < n) VEC_TAIL(y + i, n - i, act_vec(kind, VEC_TAIL_LOAD(y + i, n - i), vlo, vhi, va, vb));
  return true;
}
