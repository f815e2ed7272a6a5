/* rnn_f32.c - the float path of RNN, GRU and LSTM: float, float16 and bfloat16 (the last two through float32).
 *
 * The input projections X*W^T of every step, direction and gate are one GEMM before the recurrence (W packed
 * once when it is a constant). Each step then computes H*R^T with R packed once into column blocks
 * (rnn_kernels.h), adding the step's input projection and the bias in the same pass, and applies the cell to
 * those columns while they are in cache. With two or more threads the directions of a bidirectional node run
 * in parallel, or else, when a step is big enough, each thread owns a fixed share of the hidden columns for the
 * whole sequence (split_run) and the threads meet once per step on atomic counters instead of a pool hand-off.
 * Nothing is allocated or zero-filled inside the time loop: the state lives in two buffers that swap each step. */
#include "rnn_common.h"
#include "../../kernels/gemm.h"
#include "linalg_util.h"
#include "rnn_kernels.h"
#include <sched.h>
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RNN_RELAX() _mm_pause()
#else
#define RNN_RELAX() ((void)0)
#endif

/* The input projections of all steps take one buffer; larger problems go to the generic path. */
#define RNN_F32_MAX_GX ((size_t)256 << 20)
/* Multiply-adds of one step per part of a one-direction recurrence split between threads. The split is
 * persistent (split_run): each thread keeps its share of R in its own L2 for the whole sequence and the threads
 * meet once per step on per-part counters (a cache line each way) instead of a pool job, so a part of 32768
 * multiply-adds (about a microsecond) is worth its hand-off. */
#define RNN_SPLIT_MIN ((size_t)1 << 15)
/* Most parts a step is split into (each owns at least one column block of RNN_KB columns). */
#define RNN_MAX_PARTS 8
/* Spins of a thread waiting for another part of a step before it starts yielding the core. */
#define RNN_SPIN_YIELD 4096
/* Multiply-adds of the input projections below which they stay on one thread (silero's one step: 65536, a few
 * microseconds, about what waking a worker costs). */
#define RNN_PROJ_SPLIT_MIN 262144.0
/* Rows of input projections (steps x batch) up to which they are matrix-vector products over the plain W. */
#define RNN_GEMV_ROWS 4

/* One node's weights in the form of this path. */
typedef struct f32_weights {
  const void *w_src, *r_src, *b_src; /* the tensors' data they were made from */
  bool consumed; /* made at session creation from constants the session then released: trusted without checks */
  bool packed_w;
  oxrt_sgemm_bpack wp; /* op(B) = W^T [I, D*G*H], when packed_w */
  const float *w;      /* else W [D*G*H, I] as float (w_own or the tensor's data) */
  float *w_own;
  float *rp;   /* packed R of each direction (rnn_packed_size(G, H, H) floats each) */
  float *bias; /* [D, G*H] Wb + Rb, except GRU linear_before_reset's h gate: Wbh only; NULL without B */
  float *rbh;  /* [D, H] Rbh of GRU with linear_before_reset; NULL otherwise */
} f32_weights;

struct rnn_f32_cache {
  la_once_cache once; /* f32_weights made on first use when W, R and B are constants */
};

static void weights_free(f32_weights *w) {
  if (!w) return;
  if (w->packed_w) oxrt_sgemm_bpack_free(&w->wp);
  free(w->w_own), free(w->rp), free(w->bias), free(w->rbh), free(w);
}

struct rnn_f32_cache *oxrt_rnn_f32_cache_new(void) {
  struct rnn_f32_cache *c = calloc(1, sizeof *c);
  if (c) la_once_init(&c->once);
  return c;
}

void oxrt_rnn_f32_cache_free(struct rnn_f32_cache *c) {
  if (!c) return;
  weights_free(atomic_load(&c->once.item));
  pthread_mutex_destroy(&c->once.mu);
  free(c);
}

/* v's data as float: its own, or a converted copy in *own; NULL when out of memory. */
static const float *as_f32(const oxrt_value *v, float **own) {
  *own = NULL;
  if (v->dtype == OXRT_FLOAT) return v->data;
  *own = malloc(sizeof(float) * (v->count ? v->count : 1));
  if (!*own || !oxrt_convert(OXRT_FLOAT, *own, v->dtype, v->data, v->count, false)) {
    free(*own);
    *own = NULL;
  }
  return *own;
}

typedef struct {
  const rnn_attrs *a;
  const rnn_io *io;
  bool pack_w;
} weights_arg;

static f32_weights *weights_make(const rnn_attrs *a, const rnn_io *io, bool pack_w) {
  f32_weights *wt = calloc(1, sizeof *wt);
  if (!wt) return NULL;
  const size_t D = io->D, G = io->G, H = io->H, I = io->I, GH = G * H, psz = rnn_packed_size(G, H, H);
  wt->w_src = io->W->data, wt->r_src = io->R->data, wt->b_src = io->B ? io->B->data : NULL;
  float *tmp = NULL;
  const float *f = as_f32(io->W, &wt->w_own);
  if (!f) goto fail;
  if (pack_w && D * GH * I != 0 && oxrt_sgemm_pack_b(true, I, D * GH, f, I, &wt->wp)) {
    wt->packed_w = true;
    free(wt->w_own);
    wt->w_own = NULL;
  } else {
    wt->w = f;
  }
  if (!(f = as_f32(io->R, &tmp)) || !(wt->rp = malloc(sizeof(float) * (D * psz + 1)))) goto fail;
  for (size_t d = 0; d < D; d++) oxrt_rnn_pack(f + d * GH * H, G, H, H, wt->rp + d * psz);
  free(tmp);
  tmp = NULL;
  if (io->B) {
    const bool lbr = a->cell == RNN_CELL_GRU && a->linear_before_reset;
    if (!(f = as_f32(io->B, &tmp)) || !(wt->bias = malloc(sizeof(float) * D * GH)) ||
        (lbr && !(wt->rbh = malloc(sizeof(float) * D * H))))
      goto fail;
    for (size_t d = 0; d < D; d++) {
      const float *wb = f + d * 2 * GH, *rb = wb + GH;
      for (size_t j = 0; j < GH; j++) wt->bias[d * GH + j] = lbr && j >= 2 * H ? wb[j] : wb[j] + rb[j];
      if (lbr) memcpy(wt->rbh + d * H, rb + 2 * H, sizeof(float) * H);
    }
    free(tmp);
  }
  return wt;
fail:
  free(tmp);
  weights_free(wt);
  return NULL;
}

/* At session creation: constant float-family W, R and B (when given) become the cached weights now instead of on
 * the first run, and the session may release the originals: every run of the node then takes this path (the
 * projections buffer limit is lifted for it) and reads only the packed copies. Shapes that do not match the
 * attributes are left to the run. */
oxrt_status *oxrt_rnn_f32_prepare(const rnn_attrs *a, const oxrt_prepare_ctx *pc) {
  const oxrt_value *W = oxrt_prepare_constant(pc, 1), *R = oxrt_prepare_constant(pc, 2);
  const oxrt_value *B = oxrt_prepare_constant(pc, 3);
  bool has_b = pc->n_inputs > 3 && pc->node->inputs[3] >= 0;
  if (!a->f32 || !W || !R || (has_b && !B) || !la_is_f32_family(W->dtype) || R->dtype != W->dtype ||
      (B && B->dtype != W->dtype) || W->rank != 3 || R->rank != 3 || !W->data || !R->data || (B && !B->data))
    return NULL;
  size_t D = (size_t)a->ndir, G = (size_t)a->gates, H = (size_t)R->dims[2], I = (size_t)W->dims[2];
  if ((a->hidden > 0 && (size_t)a->hidden != H) || (size_t)W->dims[0] != D || (size_t)R->dims[0] != D ||
      (size_t)W->dims[1] != G * H || (size_t)R->dims[1] != G * H ||
      (B && (B->rank != 2 || (size_t)B->dims[0] != D || (size_t)B->dims[1] != 2 * G * H)))
    return NULL;
  rnn_io io = {.W = W, .R = R, .B = B, .T = W->dtype, .I = I, .H = H, .D = D, .G = G};
  /* X's steps x batch when static: a few rows take the matrix-vector products over a plain W, so W stays plain */
  const oxrt_type *xt = oxrt_prepare_input_type(pc, 0);
  const bool few_rows = xt && xt->rank == 3 && xt->dims[0] >= 0 && xt->dims[1] >= 0 &&
                        xt->dims[0] * xt->dims[1] <= RNN_GEMV_ROWS;
  f32_weights *wt = weights_make(a, &io, !few_rows);
  if (!wt) return OXRT_OOM();
  wt->consumed = true;
  if (!wt->packed_w && !wt->w_own) { /* a plain float W read in place: keep a copy instead */
    const size_t n = (size_t)W->count;
    if (!(wt->w_own = malloc(sizeof(float) * (n + 1)))) {
      weights_free(wt);
      return OXRT_OOM();
    }
    memcpy(wt->w_own, W->data, sizeof(float) * n);
    wt->w = wt->w_own;
  }
  atomic_store(&a->f32->once.item, wt);
  for (int i = 1; i <= 3; i++) oxrt_prepare_consume(pc, i);
  return NULL;
}

static void *weights_make_cached(void *varg) {
  const weights_arg *w = varg;
  return weights_make(w->a, w->io, w->pack_w);
}

/* ------------------------------------------------------------------ the recurrence */

typedef struct f32_job {
  const rnn_attrs *a;
  const rnn_io *io;
  oxrt_rnn_block_fn kern;
  const f32_weights *wt;
  const float *P; /* [D, 3H] peepholes or NULL */
  float *gx;      /* [S*Bt rows, D*G*H] input projections; row of (t, b): t*Bt + b (b*S + t with layout 1) */
  float *y;       /* [S, D, Bt, H] or NULL when Y is not wanted */
  float *hbuf;    /* [D, 2, Bt, H] the state before / after a step, swapping roles each step */
  float *cbuf;    /* [D, Bt, H] LSTM cell state */
  float *sbuf;    /* [D, Bt, H] GRU scratch: r (.) Ht-1, or Ht-1*Rh^T + Rbh with linear_before_reset */
  size_t *rows;   /* [D, RNN_MAX_PARTS runners, 2, Bt]: active batch rows of the current step, their time index */
  float **gxr;    /* [D, RNN_MAX_PARTS, Bt] their input projection rows (this direction's part) */
} f32_job;

typedef struct step_ctx {
  const f32_job *j;
  size_t d, nact;
  const size_t *rows;
  float *const *gxr;
  const float *hp; /* state before the step [Bt, H] */
  float *hn;       /* after */
  float *c, *sc;   /* this direction's cell state and scratch [Bt, H] */
  size_t ngr;      /* groups of 4 active rows */
  int phase;       /* GRU without linear_before_reset: 0 = z, r gates; 1 = h gate */
  bool backward;   /* walk the tasks last to first (every other step) */
  bool cells_inline; /* each task applies the cell to its columns (else the caller does, on whole rows) */
} step_ctx;

static inline void vact(const rnn_attrs *a, const rnn_act *f, bool clip, float *x, size_t n) {
  oxrt_rnn_vact(a, f, clip, false, x, n);
}

/* The cell on columns [c0, c1) of active row i, whose gate pre-activations are complete there. */
static void cell(const step_ctx *s, size_t i, size_t c0, size_t c1) {
  const f32_job *j = s->j;
  const rnn_attrs *a = j->a;
  const rnn_act *act = a->act[s->d];
  const size_t H = j->io->H, n = c1 - c0, b = s->rows[i];
  float *x = s->gxr[i], *hn = s->hn + b * H + c0;
  const float *hp = s->hp + b * H + c0;
  switch (a->cell) {
  case RNN_CELL_RNN:
    vact(a, &act[0], true, x + c0, n);
    memcpy(hn, x + c0, sizeof(float) * n);
    return;
  case RNN_CELL_GRU: {
    float *xz = x + c0, *xr = x + H + c0, *xh = x + 2 * H + c0, *sc = s->sc + b * H + c0;
    if (s->phase == 0) {
      if (n == H) {
        vact(a, &act[0], true, x, 2 * H); /* z and r are adjacent */
      } else {
        vact(a, &act[0], true, xz, n);
        vact(a, &act[0], true, xr, n);
      }
      if (!a->linear_before_reset) { /* r (.) Ht-1 feeds the h gate's product (phase 1) */
        for (size_t k = 0; k < n; k++) sc[k] = xr[k] * hp[k];
        return;
      }
      /* h gate: Xt*Wh^T + Wbh (not yet added: its columns skipped the product) + r (.) (Ht-1*Rh^T + Rbh) */
      const float *wbh = j->wt->bias ? j->wt->bias + (s->d * 3 + 2) * H + c0 : NULL;
      if (wbh)
        for (size_t k = 0; k < n; k++) xh[k] = (xh[k] + wbh[k]) + xr[k] * sc[k];
      else
        for (size_t k = 0; k < n; k++) xh[k] += xr[k] * sc[k];
    }
    vact(a, &act[1], true, xh, n);
    for (size_t k = 0; k < n; k++) hn[k] = (1.0f - xz[k]) * xh[k] + xz[k] * hp[k];
    return;
  }
  case RNN_CELL_LSTM: {
    float *xi = x + c0, *xo = x + H + c0, *xf = x + 2 * H + c0, *xc = x + 3 * H + c0, *cb = s->c + b * H + c0;
    const float *P = j->P ? j->P + s->d * 3 * H : NULL;
    if (!P && !a->input_forget && n == H) {
      vact(a, &act[0], true, x, 3 * H); /* i, o, f are adjacent */
    } else {
      if (P)
        for (size_t k = 0; k < n; k++) xi[k] += P[c0 + k] * cb[k];
      vact(a, &act[0], true, xi, n);
      if (a->input_forget) {
        for (size_t k = 0; k < n; k++) xf[k] = 1.0f - xi[k];
      } else {
        if (P)
          for (size_t k = 0; k < n; k++) xf[k] += P[2 * H + c0 + k] * cb[k];
        vact(a, &act[0], true, xf, n);
      }
      if (!P) vact(a, &act[0], true, xo, n);
    }
    vact(a, &act[1], true, xc, n);
    for (size_t k = 0; k < n; k++) {
      float cn = xf[k] * cb[k] + xi[k] * xc[k];
      cb[k] = cn;
      xc[k] = cn; /* xc is free now: h(Ct) is computed there */
    }
    if (P) {
      for (size_t k = 0; k < n; k++) xo[k] += P[H + c0 + k] * cb[k];
      vact(a, &act[0], true, xo, n);
    }
    vact(a, &act[2], false, xc, n);
    for (size_t k = 0; k < n; k++) hn[k] = xo[k] * xc[k];
    return;
  }
  }
}

/* Tasks [t0, t1) of one step (of one phase for GRU without linear_before_reset), whole column blocks (t0 and t1
 * multiples of ngr): task t covers column block t / ngr of every gate for active rows [4 (t % ngr), +4), the
 * products and then, when cells_inline, the cell. */
static void step_tasks(void *arg, size_t t0, size_t t1) {
  const step_ctx *s = arg;
  const f32_job *j = s->j;
  const rnn_attrs *a = j->a;
  const size_t H = j->io->H, G = j->io->G, d = s->d;
  const bool gru = a->cell == RNN_CELL_GRU, lbr = gru && a->linear_before_reset;
  const float *rp = j->wt->rp + d * rnn_packed_size(G, H, H);
  const float *bias = j->wt->bias ? j->wt->bias + d * G * H : NULL;
  const float *rbh = j->wt->rbh ? j->wt->rbh + d * H : NULL;
  size_t g0 = 0, g1 = G;
  if (gru && !lbr) g0 = s->phase ? 2 : 0, g1 = s->phase ? 3 : 2;
  const float *hin = gru && !lbr && s->phase ? s->sc : s->hp; /* phase 1 multiplies r (.) Ht-1 */
  /* Tasks [t0, t1) cover whole column blocks [jb0, jb1) (every row group of each). Per row group the blocks are
   * walked gate by gate in the order they are packed, so R streams as one sequence and the kernel's prefetch past
   * a block's end lands in the next one used. Every other step walks R backwards: the blocks used last are still
   * in cache, where a forward walk over an R about the size of L2 would find none of them. */
  const size_t jb0 = t0 / s->ngr, jb1 = t1 / s->ngr, nj = jb1 - jb0, ng = g1 - g0;
  for (size_t rg = 0; rg < s->ngr; rg++) {
    const size_t i0 = rg * 4, M = s->nact - i0 < 4 ? s->nact - i0 : 4;
    const float *hr[4], *br[4];
    float *yr[4];
    for (size_t m = 0; m < M; m++) hr[m] = hin + s->rows[i0 + m] * H;
    for (size_t q = 0; q < ng * nj; q++) {
      const size_t qq = s->backward ? ng * nj - 1 - q : q;
      const size_t g = g0 + qq / nj, jb = jb0 + qq % nj;
      const size_t c0 = jb * RNN_KB, nv = H - c0 < RNN_KB ? H - c0 : RNN_KB, w = rnn_round16(nv);
      const bool apart = lbr && g == 2; /* Ht-1*Rh^T + Rbh is kept apart until r is known */
      const float *bv = apart ? (rbh ? rbh + c0 : NULL) : bias ? bias + g * H + c0 : NULL;
      for (size_t m = 0; m < M; m++) {
        yr[m] = apart ? s->sc + s->rows[i0 + m] * H + c0 : s->gxr[i0 + m] + g * H + c0;
        br[m] = yr[m];
      }
      j->kern(M, H, hr, rp + rnn_block_offset(g, jb, H, H), w, nv, apart ? NULL : br, bv, yr);
    }
    if (s->cells_inline)
      for (size_t jb = jb0; jb < jb1; jb++) {
        const size_t c0 = jb * RNN_KB, c1 = H - c0 < RNN_KB ? H : c0 + RNN_KB;
        for (size_t m = 0; m < M; m++) cell(s, i0 + m, c0, c1);
      }
  }
}

/* The active rows of step s of direction d (rows, their time index and input projection row); their count. */
static size_t step_rows(const f32_job *j, size_t d, size_t s, size_t *rows, size_t *ts, float **gxr) {
  const rnn_io *io = j->io;
  const size_t S = io->S, Bt = io->Bt, GH = io->G * io->H, ldg = io->D * GH;
  const bool rev = j->a->ndir == 2 ? d == 1 : j->a->reverse;
  size_t nact = 0;
  for (size_t b = 0; b < Bt; b++) {
    const size_t len = (size_t)io->lens[b];
    if (s >= len) continue;
    const size_t t = rev ? len - 1 - s : s;
    rows[nact] = b, ts[nact] = t;
    gxr[nact++] = j->gx + (j->a->layout ? b * S + t : t * Bt + b) * ldg + d * GH;
  }
  return nact;
}

/* sc for step s with nact active rows: the state buffers swap roles every step. */
static void step_begin(step_ctx *sc, size_t s, size_t nact) {
  const size_t BH = sc->j->io->Bt * sc->j->io->H;
  float *h0 = sc->j->hbuf + sc->d * 2 * BH, *h1 = h0 + BH;
  sc->nact = nact;
  sc->hp = s % 2 ? h1 : h0;
  sc->hn = s % 2 ? h0 : h1;
  sc->backward = s % 2;
  sc->ngr = (nact + 3) / 4;
}

/* Columns [c0, c1) of the step's new state into Y. */
static void step_store_y(const step_ctx *sc, const size_t *ts, size_t c0, size_t c1) {
  const f32_job *j = sc->j;
  const size_t D = j->io->D, Bt = j->io->Bt, H = j->io->H;
  if (!j->y) return;
  for (size_t i = 0; i < sc->nact; i++)
    memcpy(j->y + ((ts[i] * D + sc->d) * Bt + sc->rows[i]) * H + c0, sc->hn + sc->rows[i] * H + c0,
           sizeof(float) * (c1 - c0));
}

/* The persistent split of one direction's recurrence: part p owns column blocks [p*nb/P, (p+1)*nb/P) of every
 * gate for the whole sequence, so its share of R stays in the L2 of the thread that runs it. Each runner (one
 * pool chunk) walks every sub-step u (step * phases + phase): it waits until every part finished u - 1, claims
 * its own part of u, then any part nobody has claimed yet. A runner thus never waits for unclaimed work: a runner
 * that arrives late (or never: a busy pool, a cancelled chunk) only leaves its part to the others, and a pool of
 * one runs every part on one thread in order. */
typedef struct split_part {
  _Alignas(64) _Atomic size_t claimed; /* sub-steps of this part claimed so far */
  _Atomic size_t done;                 /* and finished */
} split_part;

typedef struct split_ctx {
  const f32_job *j;
  size_t d, nparts, nb;
  split_part part[RNN_MAX_PARTS];
} split_ctx;

static void split_wait(split_ctx *x, size_t u) {
  for (size_t p = 0; p < x->nparts; p++)
    for (unsigned spins = 0; atomic_load_explicit(&x->part[p].done, memory_order_acquire) < u;)
      if (++spins < RNN_SPIN_YIELD) RNN_RELAX();
      else sched_yield(); /* the partner lost its core: let it have this one */
}

static void split_run(split_ctx *x, size_t me) {
  const f32_job *j = x->j;
  const size_t Bt = j->io->Bt, d = x->d, P = x->nparts;
  const int phases = j->a->cell == RNN_CELL_GRU && !j->a->linear_before_reset ? 2 : 1;
  size_t *rows = j->rows + (d * RNN_MAX_PARTS + me) * 2 * Bt, *ts = rows + Bt;
  float **gxr = j->gxr + (d * RNN_MAX_PARTS + me) * Bt;
  step_ctx sc = {j, d, 0, rows, gxr, NULL, NULL, j->cbuf + d * Bt * j->io->H, j->sbuf + d * Bt * j->io->H, 0, 0,
                 false, true};
  for (size_t s = 0; s < j->io->S; s++) {
    const size_t nact = step_rows(j, d, s, rows, ts, gxr);
    if (!nact) break;
    step_begin(&sc, s, nact);
    for (int ph = 0; ph < phases; ph++) {
      const size_t u = s * (size_t)phases + (size_t)ph;
      sc.phase = ph;
      split_wait(x, u);
      for (size_t q = 0; q < P; q++) {
        const size_t p = (me + q) % P;
        size_t expect = u; /* a plain read first: a failed CAS would still take the partner's line */
        if (atomic_load_explicit(&x->part[p].claimed, memory_order_relaxed) != u ||
            !atomic_compare_exchange_strong(&x->part[p].claimed, &expect, u + 1))
          continue;
        const size_t b0 = p * x->nb / P, b1 = (p + 1) * x->nb / P;
        step_tasks(&sc, b0 * sc.ngr, b1 * sc.ngr);
        if (ph == phases - 1) {
          const size_t c1 = b1 * RNN_KB < j->io->H ? b1 * RNN_KB : j->io->H;
          step_store_y(&sc, ts, b0 * RNN_KB, c1);
        }
        atomic_store_explicit(&x->part[p].done, u + 1, memory_order_release);
      }
    }
  }
}

static void split_task(void *arg, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; r++) split_run(arg, r);
}

/* Parts of direction d's recurrence on `pool`: one per RNN_SPLIT_MIN multiply-adds of a step, at most one per
 * thread and per column block, and none for one step (one hand-off buys nothing). */
static size_t split_parts(const f32_job *j, oxrt_threadpool *pool) {
  const rnn_io *io = j->io;
  const size_t nb = (io->H + RNN_KB - 1) / RNN_KB, work = io->Bt * io->G * io->H * io->H;
  size_t P = (size_t)oxrt_threadpool_size(pool);
  if (P > nb) P = nb;
  if (P > RNN_MAX_PARTS) P = RNN_MAX_PARTS;
  if (P > work / RNN_SPLIT_MIN) P = work / RNN_SPLIT_MIN;
  return io->S < 2 || P < 2 ? 1 : P;
}

/* The recurrence of direction d; `pool` (NULL inside the parallel directions) runs the persistent split. */
static void run_dir(const f32_job *j, size_t d, oxrt_threadpool *pool) {
  const rnn_io *io = j->io;
  const size_t Bt = io->Bt, H = io->H;
  const size_t P = pool ? split_parts(j, pool) : 1;
  if (P > 1) {
    split_ctx x = {.j = j, .d = d, .nparts = P, .nb = (H + RNN_KB - 1) / RNN_KB};
    for (size_t p = 0; p < P; p++) atomic_init(&x.part[p].claimed, 0), atomic_init(&x.part[p].done, 0);
    oxrt_parallel_for(pool, P, 1, split_task, &x);
    return;
  }
  size_t *rows = j->rows + d * RNN_MAX_PARTS * 2 * Bt, *ts = rows + Bt;
  float **gxr = j->gxr + d * RNN_MAX_PARTS * Bt;
  const int phases = j->a->cell == RNN_CELL_GRU && !j->a->linear_before_reset ? 2 : 1;
  step_ctx sc = {j, d, 0, rows, gxr, NULL, NULL, j->cbuf + d * Bt * H, j->sbuf + d * Bt * H, 0, 0, false, false};
  for (size_t s = 0; s < io->S; s++) {
    const size_t nact = step_rows(j, d, s, rows, ts, gxr);
    if (!nact) break;
    step_begin(&sc, s, nact);
    for (int ph = 0; ph < phases; ph++) {
      sc.phase = ph;
      step_tasks(&sc, 0, ((H + RNN_KB - 1) / RNN_KB) * sc.ngr);
      for (size_t i = 0; i < nact; i++) cell(&sc, i, 0, H);
    }
    step_store_y(&sc, ts, 0, H);
  }
}

static void dirs_task(void *arg, size_t d0, size_t d1) {
  for (size_t d = d0; d < d1; d++) run_dir(arg, d, NULL);
}

/* Initial state [D, Bt, H] (or [Bt, D, H] with layout 1) of input `v` into rows of `dst` laid out [D][stride]. */
static void load_state(const oxrt_value *v, int layout, size_t D, size_t Bt, size_t H, float *dst, size_t stride) {
  const size_t es = oxrt_elem_type_size(v->dtype);
  for (size_t d = 0; d < D; d++)
    for (size_t b = 0; b < Bt; b++)
      oxrt_convert(OXRT_FLOAT, dst + d * stride + b * H, v->dtype,
                   (const char *)v->data + (layout ? b * D + d : d * Bt + b) * H * es, H, false);
}

oxrt_status *oxrt_rnn_run_f32(oxrt_kernel_ctx *ctx, const rnn_io *io, bool *done) {
  const rnn_attrs *a = ctx->state;
  const size_t S = io->S, Bt = io->Bt, H = io->H, I = io->I, D = io->D, GH = io->G * H;
  const size_t nrows = S * Bt, ldg = D * GH;
  const bool constant = a->f32 && oxrt_input_is_constant(ctx, 1, io->W) && oxrt_input_is_constant(ctx, 2, io->R) &&
                        (!io->B || oxrt_input_is_constant(ctx, 3, io->B));
  const f32_weights *pre = constant ? atomic_load(&a->f32->once.item) : NULL;
  const bool released = pre && pre->consumed; /* the originals are gone: no other path can run this node */
  *done = false;
  if (!released && (double)nrows * (double)ldg * sizeof(float) > (double)RNN_F32_MAX_GX) return NULL;
  *done = true;

  /* weights: prepared once when constant, else for this run */
  const f32_weights *wt = released ? pre : NULL;
  f32_weights *own_wt = NULL;
  if (!wt && constant) {
    weights_arg wa = {a, io, true};
    const f32_weights *c = la_once_get(&a->f32->once, weights_make_cached, &wa);
    if (c && c->w_src == io->W->data && c->r_src == io->R->data && c->b_src == (io->B ? io->B->data : NULL))
      wt = c;
  }
  if (!wt && !(wt = own_wt = weights_make(a, io, false))) return OXRT_OOM();

  oxrt_status *st = NULL;
  float *x_own = NULL, *p_own = NULL;
  const float *x = as_f32(io->X, &x_own), *P = io->P ? as_f32(io->P, &p_own) : NULL;
  const bool want_y = oxrt_output_wanted(ctx, 0);
  float *gx = malloc(sizeof(float) * (nrows * ldg + 1));
  float *y = want_y ? calloc(S * D * Bt * H + 1, sizeof(float)) : NULL;
  float *hbuf = calloc(D * 2 * Bt * H + 1, sizeof(float)), *cbuf = calloc(D * Bt * H + 1, sizeof(float));
  float *sbuf = malloc(sizeof(float) * (D * Bt * H + 1)), *yh = calloc(D * Bt * H + 1, sizeof(float));
  size_t *rows = malloc(sizeof(size_t) * (D * RNN_MAX_PARTS * 2 * Bt + 1)); /* per direction and runner */
  float **gxr = malloc(sizeof(float *) * (D * RNN_MAX_PARTS * Bt + 1));
  if (!x || (io->P && !P) || !gx || (want_y && !y) || !hbuf || !cbuf || !sbuf || !yh || !rows || !gxr) {
    st = OXRT_OOM();
    goto done;
  }

  /* input projections of every step, direction and gate: one GEMM; a few rows (batch-1 streaming, one step at a
   * time) take matrix-vector products over W as it is, where the packed GEMM would fill a 12-row panel per row */
  const float *w_plain = wt->w ? wt->w : io->W->dtype == OXRT_FLOAT && !wt->consumed ? io->W->data : NULL;
  oxrt_threadpool *gpool = (double)nrows * (double)ldg * (double)I >= RNN_PROJ_SPLIT_MIN ? ctx->pool : NULL;
  if (nrows && nrows <= RNN_GEMV_ROWS && w_plain) {
    oxrt_sgemm(false, true, nrows, ldg, I, 1.0f, x, I, w_plain, I, 0.0f, gx, ldg, gpool);
  } else if (nrows) {
    if (wt->packed_w) {
      oxrt_sgemm_ex g = {.M = nrows, .N = ldg, .K = I, .alpha = 1, .beta = 0, .A = x, .lda = I, .bp = &wt->wp,
                         .C = gx, .ldc = ldg};
      if (!oxrt_sgemm_run(&g, gpool)) {
        st = OXRT_OOM();
        goto done;
      }
    } else {
      oxrt_sgemm(false, true, nrows, ldg, I, 1.0f, x, I, wt->w, I, 0.0f, gx, ldg, gpool);
    }
  }
  if (io->H0) load_state(io->H0, a->layout, D, Bt, H, hbuf, 2 * Bt * H);
  if (io->C0) load_state(io->C0, a->layout, D, Bt, H, cbuf, Bt * H);

  f32_job job = {a, io, oxrt_rnn_block_kernel(), wt, P, gx, y, hbuf, cbuf, sbuf, rows, gxr};
  if (D == 2 && oxrt_threadpool_size(ctx->pool) >= 2) {
    oxrt_parallel_for(ctx->pool, 2, 1, dirs_task, &job);
  } else {
    for (size_t d = 0; d < D; d++) run_dir(&job, d, ctx->pool);
  }

  /* final states: row b's last state is in buffer lens[b] % 2; an empty sequence has zeros, as ONNX Runtime */
  for (size_t d = 0; d < D; d++)
    for (size_t b = 0; b < Bt; b++) {
      const size_t len = (size_t)io->lens[b];
      float *c = cbuf + (d * Bt + b) * H;
      if (len) memcpy(yh + (d * Bt + b) * H, hbuf + ((d * 2 + len % 2) * Bt + b) * H, sizeof(float) * H);
      else memset(c, 0, sizeof(float) * H);
    }
  const int64_t yd[4] = {(int64_t)S, (int64_t)D, (int64_t)Bt, (int64_t)H}, sd[3] = {yd[1], yd[2], yd[3]};
  if (!(st = oxrt_rnn_write_output(ctx, 0, io->T, false, y, 4, yd, a->layout)) &&
      !(st = oxrt_rnn_write_output(ctx, 1, io->T, false, yh, 3, sd, a->layout)) && a->cell == RNN_CELL_LSTM)
    st = oxrt_rnn_write_output(ctx, 2, io->T, false, cbuf, 3, sd, a->layout);
done:
  weights_free(own_wt);
  free(x_own), free(p_own), free(gx), free(y), free(hbuf), free(cbuf), free(sbuf), free(yh), free(rows), free(gxr);
  return st;
}
