/* layout_util.c - strided element movement for the shape and layout operators. */
#include "layout_util.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static bool str_set(char **slot, const char *s) {
  size_t len = strlen(s);
  char *c = malloc(len + 1);
  if (!c) return false;
  memcpy(c, s, len + 1);
  free(*slot);
  *slot = c;
  return true;
}

bool oxrt_lay_copy(oxrt_elem_type t, void *dst, size_t di, const void *src, size_t si, size_t n) {
  if (n == 0) return true;
  if (t == OXRT_STRING) {
    char **d = (char **)dst + di;
    char *const *s = (char *const *)src + si;
    for (size_t i = 0; i < n; i++)
      if (!str_set(&d[i], s[i])) return false;
    return true;
  }
  size_t es = oxrt_elem_type_size(t);
  memmove((char *)dst + di * es, (const char *)src + si * es, n * es);
  return true;
}

bool oxrt_lay_fill(oxrt_elem_type t, void *dst, size_t di, const void *val, size_t n) {
  if (t == OXRT_STRING) {
    char **d = (char **)dst + di;
    const char *s = *(char *const *)val;
    for (size_t i = 0; i < n; i++)
      if (!str_set(&d[i], s)) return false;
    return true;
  }
  size_t es = oxrt_elem_type_size(t);
  char *d = (char *)dst + di * es;
  switch (es) {
  case 1: memset(d, *(const uint8_t *)val, n); break;
  case 2: { uint16_t v; memcpy(&v, val, 2); for (size_t i = 0; i < n; i++) ((uint16_t *)d)[i] = v; } break;
  case 4: { uint32_t v; memcpy(&v, val, 4); for (size_t i = 0; i < n; i++) ((uint32_t *)d)[i] = v; } break;
  case 8: { uint64_t v; memcpy(&v, val, 8); for (size_t i = 0; i < n; i++) ((uint64_t *)d)[i] = v; } break;
  default:
    for (size_t i = 0; i < n; i++) memcpy(d + i * es, val, es);
  }
  return true;
}

/* Only an empty shape can have a product past INT64_MAX to the right of its zero dimension (a Tile of an empty input
 * by hostile repeats); its strides address nothing, so an overflowing product becomes 0 instead of UB. */
void oxrt_lay_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    if (__builtin_mul_overflow(s, dims[d], &s)) s = 0;
  }
}

/* One run of n elements: dst[doff + i*dstep] = src[soff + i*sstep]. */
static bool copy_run(oxrt_elem_type t, size_t es, char *dst, int64_t doff, int64_t dstep, const char *src,
                     int64_t soff, int64_t sstep, int64_t n) {
  if (t == OXRT_STRING) {
    char **d = (char **)dst;
    char *const *s = (char *const *)src;
    for (int64_t i = 0; i < n; i++)
      if (!str_set(&d[doff + i * dstep], s[soff + i * sstep])) return false;
    return true;
  }
  if (dstep == 1 && sstep == 1) {
    memcpy(dst + doff * (int64_t)es, src + soff * (int64_t)es, (size_t)n * es);
    return true;
  }
#define RUN_AS(T)                                                                                                      \
  {                                                                                                                    \
    T *d_ = (T *)dst + doff;                                                                                           \
    const T *s_ = (const T *)src + soff;                                                                               \
    if (dstep == 1)                                                                                                    \
      for (int64_t i = 0; i < n; i++) d_[i] = s_[i * sstep];                                                           \
    else                                                                                                               \
      for (int64_t i = 0; i < n; i++) d_[i * dstep] = s_[i * sstep];                                                   \
  }                                                                                                                    \
  break;
  switch (es) {
  case 1: RUN_AS(uint8_t)
  case 2: RUN_AS(uint16_t)
  case 4: RUN_AS(uint32_t)
  case 8: RUN_AS(uint64_t)
  default:
    for (int64_t i = 0; i < n; i++)
      memcpy(dst + (doff + i * dstep) * (int64_t)es, src + (soff + i * sstep) * (int64_t)es, es);
  }
#undef RUN_AS
  return true;
}

typedef struct gather_job {
  oxrt_elem_type t;
  size_t es;
  char *dst;
  const char *src;
  int64_t dbase, sbase;
  int rank;
  int64_t dims[OXRT_LAY_MAX_RANK], ss[OXRT_LAY_MAX_RANK], ds[OXRT_LAY_MAX_RANK];
  /* tiled transpose: axis `tk` has source stride 1, the last axis has destination stride 1 */
  int tk;
  int64_t ntile_k, tile;
  atomic_int failed;
} gather_job;

/* Rows: every index over axes [0, rank-1) is one run along the last axis. */
static void gather_rows(void *arg, size_t begin, size_t end) {
  gather_job *j = arg;
  int r = j->rank;
  int64_t idx[OXRT_LAY_MAX_RANK];
  int64_t so = j->sbase, dof = j->dbase;
  size_t rem = begin;
  for (int d = r - 2; d >= 0; d--) {
    idx[d] = (int64_t)(rem % (size_t)j->dims[d]);
    rem /= (size_t)j->dims[d];
    so += idx[d] * j->ss[d];
    dof += idx[d] * j->ds[d];
  }
  for (size_t row = begin; row < end; row++) {
    if (!copy_run(j->t, j->es, j->dst, dof, j->ds[r - 1], j->src, so, j->ss[r - 1], j->dims[r - 1])) {
      atomic_store(&j->failed, 1);
      return;
    }
    for (int d = r - 2; d >= 0; d--) {
      so += j->ss[d];
      dof += j->ds[d];
      if (++idx[d] < j->dims[d]) break;
      so -= j->ss[d] * j->dims[d];
      dof -= j->ds[d] * j->dims[d];
      idx[d] = 0;
    }
  }
}


/* Units: (index over the other axes) x (tile band along axis tk). Each unit moves a band of the 2-D
 * sub-problem formed by axis tk (source-contiguous) and the last axis (destination-contiguous) in
 * square tiles, so both sides stay in cache while one of them is walked with a stride. */
static void gather_tiles(void *arg, size_t begin, size_t end) {
  gather_job *j = arg;
  int r = j->rank, k = j->tk;
  int64_t T = j->tile;
  for (size_t u = begin; u < end; u++) {
    size_t rem = u / (size_t)j->ntile_k;
    int64_t kb = (int64_t)(u % (size_t)j->ntile_k) * T;
    int64_t so = j->sbase, dof = j->dbase;
    for (int d = r - 2; d >= 0; d--) {
      if (d == k) continue;
      int64_t i = (int64_t)(rem % (size_t)j->dims[d]);
      rem /= (size_t)j->dims[d];
      so += i * j->ss[d];
      dof += i * j->ds[d];
    }
    int64_t kn = j->dims[k] - kb < T ? j->dims[k] - kb : T;
    int64_t n = j->dims[r - 1], sl = j->ss[r - 1], dk = j->ds[k];
    so += kb;
    dof += kb * dk;
    for (int64_t ab = 0; ab < n; ab += T) {
      int64_t an = n - ab < T ? n - ab : T;
#define TILE_AS(TY)                                                                                                    \
  {                                                                                                                    \
    const TY *s_ = (const TY *)j->src + so + ab * sl;                                                                  \
    TY *d_ = (TY *)j->dst + dof + ab;                                                                                  \
    for (int64_t b = 0; b < kn; b++)                                                                                   \
      for (int64_t a = 0; a < an; a++) d_[b * dk + a] = s_[b + a * sl];                                                \
  }                                                                                                                    \
  break;
      switch (j->es) {
      case 1: TILE_AS(uint8_t)
      case 2: TILE_AS(uint16_t)
      case 4: TILE_AS(uint32_t)
      case 8: TILE_AS(uint64_t)
      default:
        for (int64_t b = 0; b < kn; b++)
          for (int64_t a = 0; a < an; a++)
            memcpy(j->dst + (dof + ab + b * dk + a) * (int64_t)j->es, j->src + (so + (ab + a) * sl + b) * (int64_t)j->es,
                   j->es);
      }
#undef TILE_AS
    }
  }
}

oxrt_status *oxrt_lay_gather2(oxrt_kernel_ctx *ctx, oxrt_elem_type t, void *dst, int64_t dst_base,
                              const int64_t *dst_strides, const void *src, int64_t base, int rank, const int64_t *dims,
                              const int64_t *strides) {
  if (rank < 0 || rank > OXRT_LAY_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rank %d is not supported", rank);
  gather_job *j = calloc(1, sizeof *j);
  if (!j) return OXRT_OOM();
  j->t = t;
  j->es = oxrt_elem_type_size(t);
  j->dst = dst;
  j->src = src;
  j->dbase = dst_base;
  j->sbase = base;
  atomic_init(&j->failed, 0);
  /* Drop unit axes and merge neighbours that are contiguous in both source and destination. */
  int r = 0;
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0) { /* nothing to copy; the strides of an empty tensor's other axes may be anything */
      free(j);
      return NULL;
    }
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    int64_t sm, dm; /* hostile sizes must not overflow the contiguity test (UB): an overflow is no merge */
    if (r > 0 && !__builtin_mul_overflow(strides[d], dims[d], &sm) && !__builtin_mul_overflow(dst_strides[d], dims[d], &dm) &&
        j->ss[r - 1] == sm && j->ds[r - 1] == dm) {
      j->dims[r - 1] *= dims[d];
      j->ss[r - 1] = strides[d];
      j->ds[r - 1] = dst_strides[d];
      continue;
    }
    j->dims[r] = dims[d];
    j->ss[r] = strides[d];
    j->ds[r] = dst_strides[d];
    r++;
  }
  if (r == 0) {
    j->dims[0] = 1;
    j->ss[0] = j->ds[0] = 1;
    r = 1;
  }
  j->rank = r;
  size_t total = 1;
  for (int d = 0; d < r; d++) total *= (size_t)j->dims[d];
  j->tk = -1;
  if (t != OXRT_STRING && r >= 2 && j->ss[r - 1] != 1 && j->ds[r - 1] == 1 && j->dims[r - 1] >= 8 && j->es <= 8) {
    for (int d = r - 2; d >= 0; d--)
      if (j->ss[d] == 1 && j->dims[d] >= 8) {
        j->tk = d;
        break;
      }
  }
  if (j->tk < 0 && r >= 2 && j->dims[r - 1] < 32) {
    /* Short runs along the last axis: iterate along a longer source-contiguous axis instead
     * (e.g. NCHW -> NHWC with C = 3). Axis order is free since every axis has its own strides. */
    int best = -1;
    for (int d = 0; d < r - 1; d++)
      if (j->ss[d] == 1 && j->dims[d] > j->dims[r - 1] && (best < 0 || j->dims[d] > j->dims[best])) best = d;
    if (best >= 0) {
      int64_t a = j->dims[best], b = j->ss[best], c = j->ds[best];
      for (int d = best; d < r - 1; d++) {
        j->dims[d] = j->dims[d + 1];
        j->ss[d] = j->ss[d + 1];
        j->ds[d] = j->ds[d + 1];
      }
      j->dims[r - 1] = a;
      j->ss[r - 1] = b;
      j->ds[r - 1] = c;
    }
  }
  if (j->tk >= 0) {
    j->tile = j->es == 1 ? 64 : 32; /* at least a cache line of source per row */
    j->ntile_k = (j->dims[j->tk] + j->tile - 1) / j->tile;
    size_t units = total / (size_t)j->dims[r - 1] / (size_t)j->dims[j->tk] * (size_t)j->ntile_k;
    size_t per = (size_t)j->dims[r - 1] * (size_t)j->tile;
    size_t grain = per >= 65536 ? 1 : 65536 / per;
    if (ctx) oxrt_parallel(ctx, units, grain, gather_tiles, j);
    else gather_tiles(j, 0, units);
  } else {
    size_t rows = total / (size_t)j->dims[r - 1];
    size_t per = (size_t)j->dims[r - 1];
    size_t grain = per >= 65536 ? 1 : 65536 / per;
    if (ctx && t != OXRT_STRING) oxrt_parallel(ctx, rows, grain, gather_rows, j);
    else gather_rows(j, 0, rows);
  }
  int failed = atomic_load(&j->failed);
  free(j);
  return failed ? OXRT_OOM() : NULL;
}

oxrt_status *oxrt_lay_gather(oxrt_kernel_ctx *ctx, oxrt_elem_type t, void *dst, const void *src, int64_t base, int rank,
                             const int64_t *dims, const int64_t *strides) {
  int64_t ds[OXRT_LAY_MAX_RANK];
  if (rank < 0 || rank > OXRT_LAY_MAX_RANK) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "rank %d is not supported", rank);
  oxrt_lay_strides(rank, dims, ds);
  return oxrt_lay_gather2(ctx, t, dst, 0, ds, src, base, rank, dims, strides);
}

oxrt_status *oxrt_lay_transpose(oxrt_kernel_ctx *ctx, const oxrt_value *x, const int64_t *perm, oxrt_value *out) {
  int64_t xs[OXRT_MAX_RANK], ss[OXRT_MAX_RANK];
  oxrt_lay_strides(x->rank, x->dims, xs);
  for (int d = 0; d < x->rank; d++) ss[d] = xs[perm[d]];
  return oxrt_lay_gather(ctx, x->dtype, out->data, x->data, 0, out->rank, out->dims, ss);
}
