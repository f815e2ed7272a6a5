/* jpeg2k.c - JPEG 2000 Part 1 decoder (ITU-T T.800 | ISO/IEC 15444-1), written from the specification:
 * JP2 files (the jp2c box) and raw codestreams. Any number of tiles and tile-parts, all five progression
 * orders, user precincts, code-blocks with every style flag (bypass, reset, termall, vertically causal,
 * predictable termination, segmentation symbols), reversible 5/3 and irreversible 9/7 wavelets,
 * RCT/ICT, component subsampling. Not supported (rejected with a message): POC, packed headers
 * (PPM/PPT), regions of interest (RGN), JP2 palettes.
 *
 * Output follows Pillow (OpenJPEG + its unpackers): midpoint reconstruction of partially decoded
 * coefficients, float 9/7 rounded to nearest, samples of other bit depths shifted to 8 bits with
 * rounding (and the same 8-bit wrap-around), grey replicated to RGB, extra components ignored. */
#include "image_codecs.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXC 16  /* components accepted (Pillow accepts at most 4) */
#define MAXNL 32 /* decomposition levels allowed by the syntax */
#define MAXBP 30 /* coded bit-planes per code-block: keeps the doubled magnitudes inside 32 bits */

enum { CB_BYPASS = 1, CB_RESET = 2, CB_TERMALL = 4, CB_VSC = 8, CB_PTERM = 16, CB_SEGSYM = 32 };
enum { PROG_LRCP, PROG_RLCP, PROG_RPCL, PROG_PCRL, PROG_CPRL };

/* ---- coding parameters (COD/COC, QCD/QCC) ---- */

typedef struct {
  int nl, xcb, ycb, style, rev; /* rev: reversible 5/3 */
  uint8_t pp[MAXNL + 1];        /* precinct exponents per resolution: PPx | PPy << 4 */
} ccparams;

typedef struct {
  int style, guard, n;
  uint16_t v[3 * MAXNL + 1]; /* style 0: exponent << 11; otherwise exponent << 11 | mantissa */
} qparams;

typedef struct {
  int prog, layers, mct, scod;
  bool have_cod, have_qcd;
  ccparams cc[MAXC];
  qparams qc[MAXC];
} codparams;

typedef struct {
  uint32_t off, len;
} span;

typedef struct {
  span hdr; /* markers of the first tile-part header seen */
  bool seen;
  span *parts;
  int nparts, cap;
} tilerec;

typedef struct {
  int prec, sgnd, dx, dy;
} compinfo;

typedef struct {
  const uint8_t *d;
  size_t n;
  int64_t x0, y0, x1, y1, tw, th, tox, toy;
  int ntx, nty, nc, nout;
  compinfo comp[MAXC];
  codparams main;
  tilerec *tiles;
  int32_t *plane[3]; /* decoded components (at most 3 are used), in component coordinates */
  int64_t pw[3], ph[3], px0[3], py0[3];
} j2k;

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t cdiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
static int64_t fdiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static const char *read_spcod(ccparams *c, const uint8_t *p, size_t n, bool precincts) {
  if (n < 5) return "jpeg2k: short COD/COC segment";
  if (p[0] > MAXNL) return "jpeg2k: too many decomposition levels";
  c->nl = p[0];
  c->xcb = (p[1] & 15) + 2;
  c->ycb = (p[2] & 15) + 2;
  if (p[1] > 8 || p[2] > 8 || c->xcb + c->ycb > 12) return "jpeg2k: bad code-block size";
  c->style = p[3];
  if (c->style & 0xC0) return "jpeg2k: unsupported code-block style (HT or unknown bits)";
  if (p[4] > 1) return "jpeg2k: unknown wavelet transform";
  c->rev = p[4] == 1;
  if (precincts) {
    if (n < 5 + (size_t)c->nl + 1) return "jpeg2k: short precinct list";
    for (int r = 0; r <= c->nl; r++) {
      c->pp[r] = p[5 + r];
      if (r > 0 && ((p[5 + r] & 15) == 0 || (p[5 + r] >> 4) == 0)) return "jpeg2k: bad precinct size";
    }
  } else {
    for (int r = 0; r <= c->nl; r++) c->pp[r] = 0xff;
  }
  return NULL;
}

static const char *read_sqcd(qparams *q, const uint8_t *p, size_t n) {
  if (n < 1) return "jpeg2k: short QCD/QCC segment";
  q->style = p[0] & 31;
  q->guard = p[0] >> 5;
  p++, n--;
  if (q->style == 0) {
    q->n = (int)(n > 3 * MAXNL + 1 ? 3 * MAXNL + 1 : n);
    for (int i = 0; i < q->n; i++) q->v[i] = (uint16_t)((p[i] >> 3) << 11);
  } else if (q->style == 1 || q->style == 2) {
    size_t cnt = n / 2;
    if (cnt == 0) return "jpeg2k: short QCD/QCC segment";
    q->n = (int)(cnt > 3 * MAXNL + 1 ? 3 * MAXNL + 1 : cnt);
    for (int i = 0; i < q->n; i++) q->v[i] = (uint16_t)be16(p + 2 * i);
  } else {
    return "jpeg2k: unknown quantization style";
  }
  return NULL;
}

/* Applies the markers of a main or tile-part header. Pass 0 takes COD/QCD, pass 1 COC/QCC, so that a
 * COC overrides the COD of the same header whatever their order. */
static const char *apply_markers(codparams *cp, const j2k *j, const uint8_t *p, size_t n, int pass) {
  size_t pos = 0;
  while (pos + 4 <= n) {
    uint32_t m = be16(p + pos), len = be16(p + pos + 2);
    if (m < 0xff00) return "jpeg2k: marker expected";
    if (len < 2 || pos + 2 + len > n) return "jpeg2k: marker segment runs past the header";
    const uint8_t *s = p + pos + 4;
    size_t sn = len - 2;
    const char *err = NULL;
    int cidx;
    size_t cw = j->nc < 257 ? 1 : 2;
    switch (m) {
    case 0xff52: /* COD */
      if (pass != 0) break;
      if (sn < 5) return "jpeg2k: short COD segment";
      cp->scod = s[0];
      cp->prog = s[1];
      cp->layers = (int)be16(s + 2);
      cp->mct = s[4];
      if (cp->prog > PROG_CPRL) return "jpeg2k: unknown progression order";
      if (cp->layers < 1) return "jpeg2k: no quality layers";
      for (int c = 0; c < j->nc; c++)
        if ((err = read_spcod(&cp->cc[c], s + 5, sn - 5, s[0] & 1))) return err;
      cp->have_cod = true;
      break;
    case 0xff53: /* COC */
      if (pass != 1) break;
      if (sn < cw + 1) return "jpeg2k: short COC segment";
      cidx = (int)(cw == 1 ? s[0] : be16(s));
      if (cidx >= j->nc) return "jpeg2k: COC for a missing component";
      if ((err = read_spcod(&cp->cc[cidx], s + cw + 1, sn - cw - 1, s[cw] & 1))) return err;
      break;
    case 0xff5c: /* QCD */
      if (pass != 0) break;
      for (int c = 0; c < j->nc; c++)
        if ((err = read_sqcd(&cp->qc[c], s, sn))) return err;
      cp->have_qcd = true;
      break;
    case 0xff5d: /* QCC */
      if (pass != 1) break;
      if (sn < cw) return "jpeg2k: short QCC segment";
      cidx = (int)(cw == 1 ? s[0] : be16(s));
      if (cidx >= j->nc) return "jpeg2k: QCC for a missing component";
      if ((err = read_sqcd(&cp->qc[cidx], s + cw, sn - cw))) return err;
      break;
    case 0xff5e:
      return "jpeg2k: regions of interest (RGN) are not supported";
    case 0xff5f:
      return "jpeg2k: progression order changes (POC) are not supported";
    case 0xff60:
    case 0xff61:
      return "jpeg2k: packed packet headers (PPM/PPT) are not supported";
    default:
      break; /* SIZ, TLM, PLM, PLT, CRG, COM, CAP, ...: nothing we need */
    }
    pos += 2 + len;
  }
  return pos == n ? NULL : "jpeg2k: truncated header";
}

/* ---- bit reader for packet headers (B.10.1: a zero bit is stuffed after each 0xFF byte) ---- */

typedef struct {
  const uint8_t *d;
  size_t n, pos;
  uint32_t byte;
  int left;
  bool over;
} pbits;

static int pb_bit(pbits *b) {
  if (b->left == 0) {
    int nbits = b->pos > 0 && b->byte == 0xff ? 7 : 8;
    if (b->pos >= b->n) {
      b->over = true;
      b->byte = 0;
    } else {
      b->byte = b->d[b->pos];
    }
    b->pos++;
    b->left = nbits;
  }
  b->left--;
  return (int)(b->byte >> b->left) & 1;
}

static uint32_t pb_bits(pbits *b, int n) {
  uint32_t v = 0;
  while (n-- > 0) v = v << 1 | (uint32_t)pb_bit(b);
  return v;
}

/* ---- tag trees (B.10.2) ---- */

typedef struct {
  int *val, *low;
  int nlev;
  int lw[34], off[34];
} tagtree;

static const char *tt_init(tagtree *t, int w, int h) {
  int total = 0, lw = w, lh = h;
  t->nlev = 0;
  for (;;) {
    t->lw[t->nlev] = lw;
    t->off[t->nlev] = total;
    total += lw * lh;
    t->nlev++;
    if (lw == 1 && lh == 1) break;
    lw = (lw + 1) / 2;
    lh = (lh + 1) / 2;
  }
  t->val = malloc((size_t)total * sizeof(int));
  t->low = calloc((size_t)total, sizeof(int));
  if (!t->val || !t->low) return "jpeg2k: out of memory";
  for (int i = 0; i < total; i++) t->val[i] = 0x7fffffff;
  return NULL;
}

static void tt_free(tagtree *t) {
  free(t->val);
  free(t->low);
  t->val = t->low = NULL;
}

/* Decodes the leaf (x, y) until its value is known or known to be >= thr; returns the value (or a
 * large number when it is not known yet). */
static int tt_decode(tagtree *t, pbits *b, int x, int y, int thr) {
  int low = 0;
  for (int l = t->nlev - 1; l >= 0; l--) {
    int k = t->off[l] + (y >> l) * t->lw[l] + (x >> l);
    if (low > t->low[k])
      t->low[k] = low;
    else
      low = t->low[k];
    while (low < thr && low < t->val[k]) {
      if (pb_bit(b))
        t->val[k] = low;
      else
        low++;
      if (b->over) return 0x7fffffff;
    }
    t->low[k] = low;
    if (l == 0) return t->val[k];
  }
  return 0x7fffffff;
}

/* ---- MQ arithmetic decoder (Annex C) and raw (bypass) bits ---- */

/* Table C.2: Qe, next index after an MPS, after an LPS, and whether an LPS switches the MPS sense. */
static const uint16_t mq_qe[47] = {0x5601, 0x3401, 0x1801, 0x0ac1, 0x0521, 0x0221, 0x5601, 0x5401, 0x4801, 0x3801,
                                   0x3001, 0x2401, 0x1c01, 0x1601, 0x5601, 0x5401, 0x5101, 0x4801, 0x3801, 0x3401,
                                   0x3001, 0x2801, 0x2401, 0x2201, 0x1c01, 0x1801, 0x1601, 0x1401, 0x1201, 0x1101,
                                   0x0ac1, 0x09c1, 0x08a1, 0x0521, 0x0441, 0x02a1, 0x0221, 0x0141, 0x0111, 0x0085,
                                   0x0049, 0x0025, 0x0015, 0x0009, 0x0005, 0x0001, 0x5601};
static const uint8_t mq_nmps[47] = {1,  2,  3,  4,  5,  38, 7,  8,  9,  10, 11, 12, 13, 29, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                                    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 45, 46};
static const uint8_t mq_nlps[47] = {1,  6,  9,  12, 29, 33, 6,  14, 14, 14, 17, 18, 20, 21, 14, 14,
                                    15, 16, 17, 18, 19, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 46};
static const uint8_t mq_switch[47] = {1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

typedef struct {
  const uint8_t *d;
  size_t pos, end;
  uint32_t a, c;
  int ct;
} mqdec;

/* Past the end of a codeword segment the decoder sees 0xFF bytes, as the terminating encoder assumes. */
static uint32_t mq_byte(const mqdec *m, size_t i) { return i < m->end ? m->d[i] : 0xff; }

static void mq_bytein(mqdec *m) {
  if (mq_byte(m, m->pos) == 0xff) {
    if (mq_byte(m, m->pos + 1) > 0x8f) {
      m->c += 0xff00;
      m->ct = 8;
    } else {
      m->pos++;
      m->c += mq_byte(m, m->pos) << 9;
      m->ct = 7;
    }
  } else {
    m->pos++;
    m->c += mq_byte(m, m->pos) << 8;
    m->ct = 8;
  }
}

static void mq_init(mqdec *m, const uint8_t *d, size_t n) {
  m->d = d;
  m->pos = 0;
  m->end = n;
  m->c = mq_byte(m, 0) << 16;
  mq_bytein(m);
  m->c <<= 7;
  m->ct -= 7;
  m->a = 0x8000;
}

/* cx: state index << 1 | MPS sense. */
static int mq_decode(mqdec *m, uint8_t *cx) {
  int st = *cx >> 1, mps = *cx & 1, d;
  uint32_t qe = mq_qe[st];
  m->a -= qe;
  if ((m->c >> 16) < qe) { /* the lower sub-interval: LPS, unless exchanged */
    if (m->a < qe) {
      d = mps;
      st = mq_nmps[st];
    } else {
      d = 1 - mps;
      if (mq_switch[st]) mps = 1 - mps;
      st = mq_nlps[st];
    }
    m->a = qe;
  } else {
    m->c -= qe << 16;
    if (m->a & 0x8000) return mps;
    if (m->a < qe) { /* conditional exchange: the MPS sub-interval is the smaller one */
      d = 1 - mps;
      if (mq_switch[st]) mps = 1 - mps;
      st = mq_nlps[st];
    } else {
      d = mps;
      st = mq_nmps[st];
    }
  }
  *cx = (uint8_t)(st << 1 | mps);
  do {
    if (m->ct == 0) mq_bytein(m);
    m->a <<= 1;
    m->c <<= 1;
    m->ct--;
  } while (!(m->a & 0x8000));
  return d;
}

/* Raw segments (D.6): bits MSB first; after 0xFF the next byte carries 7 bits. */
static void raw_init(mqdec *m, const uint8_t *d, size_t n) {
  m->d = d;
  m->pos = 0;
  m->end = n;
  m->c = 0;
  m->ct = 0;
}

static int raw_bit(mqdec *m) {
  if (m->ct == 0) {
    if (m->c == 0xff) {
      if (mq_byte(m, m->pos) > 0x8f) {
        m->c = 0xff;
        m->ct = 8;
      } else {
        m->c = mq_byte(m, m->pos++);
        m->ct = 7;
      }
    } else {
      m->c = mq_byte(m, m->pos++);
      m->ct = 8;
    }
  }
  m->ct--;
  return (int)(m->c >> m->ct) & 1;
}

/* ---- tier-1: code-block decoding (Annex D) ---- */

enum { F_SIG = 1, F_NEG = 2, F_VIS = 4, F_REF = 8 };
enum { CX_RL = 17, CX_UNI = 18, NCX = 19 };

typedef struct {
  int w, h, stride, orient, style;
  uint8_t *fl;   /* (w+2)*(h+2) with a border, so neighbours never need bounds checks */
  uint32_t *mag; /* w*h, magnitudes in half units of the lowest decoded bit-plane (midpoint) */
  uint8_t cx[NCX];
  mqdec mq;
  bool raw;
} t1dec;

static void t1_reset_cx(t1dec *t) {
  memset(t->cx, 0, sizeof t->cx);
  t->cx[0] = 4 << 1;
  t->cx[CX_RL] = 3 << 1;
  t->cx[CX_UNI] = 46 << 1;
}

/* Neighbour significance; in vertically causal mode the row below a stripe counts as insignificant. */
static void t1_neigh(const t1dec *t, int i, int y, int *h, int *v, int *d) {
  const uint8_t *f = t->fl;
  int s = t->stride;
  *h = (f[i - 1] & F_SIG) + (f[i + 1] & F_SIG);
  *v = f[i - s] & F_SIG;
  *d = (f[i - s - 1] & F_SIG) + (f[i - s + 1] & F_SIG);
  if (!((t->style & CB_VSC) && (y & 3) == 3)) {
    *v += f[i + s] & F_SIG;
    *d += (f[i + s - 1] & F_SIG) + (f[i + s + 1] & F_SIG);
  }
}

/* Table D.1 (zero coding contexts). */
static int t1_zc(const t1dec *t, int i, int y) {
  int h, v, d;
  t1_neigh(t, i, y, &h, &v, &d);
  if (t->orient == 1) { /* HL: the roles of H and V swap */
    int tmp = h;
    h = v;
    v = tmp;
  }
  if (t->orient == 3) {
    int hv = h + v;
    if (d >= 3) return 8;
    if (d == 2) return hv >= 1 ? 7 : 6;
    if (d == 1) return hv >= 2 ? 5 : hv == 1 ? 4 : 3;
    return hv >= 2 ? 2 : hv;
  }
  if (h == 2) return 8;
  if (h == 1) return v >= 1 ? 7 : d >= 1 ? 6 : 5;
  if (v == 2) return 4;
  if (v == 1) return 3;
  return d >= 2 ? 2 : d;
}

static int contrib(uint8_t f) { return (f & F_SIG) ? ((f & F_NEG) ? -1 : 1) : 0; }
static int clamp1(int v) { return v > 1 ? 1 : v < -1 ? -1 : v; }

/* Tables D.2 and D.3: sign context and the bit to XOR with. */
static int t1_sign(t1dec *t, int i, int y) {
  const uint8_t *f = t->fl;
  int s = t->stride;
  int hc = clamp1(contrib(f[i - 1]) + contrib(f[i + 1]));
  int below = ((t->style & CB_VSC) && (y & 3) == 3) ? 0 : contrib(f[i + s]);
  int vc = clamp1(contrib(f[i - s]) + below);
  int ctx, xr = 0;
  if (hc == 0) {
    ctx = vc == 0 ? 9 : 10;
    xr = vc < 0;
  } else {
    ctx = vc == 0 ? 12 : (vc == hc ? 13 : 11);
    xr = hc < 0;
  }
  if (t->raw) return raw_bit(&t->mq);
  return mq_decode(&t->mq, &t->cx[ctx]) ^ xr;
}

static int t1_bit(t1dec *t, int ctx) { return t->raw ? raw_bit(&t->mq) : mq_decode(&t->mq, &t->cx[ctx]); }

static void t1_set_sig(t1dec *t, int i, int j, int neg, int bp) {
  t->fl[i] |= (uint8_t)(F_SIG | (neg ? F_NEG : 0));
  t->mag[j] = 3u << bp; /* 1.5 * 2^bp in half units */
}

static void t1_spp(t1dec *t, int bp) {
  for (int y0 = 0; y0 < t->h; y0 += 4)
    for (int x = 0; x < t->w; x++)
      for (int y = y0; y < y0 + 4 && y < t->h; y++) {
        int i = (y + 1) * t->stride + x + 1;
        if (t->fl[i] & F_SIG) continue;
        int ctx = t1_zc(t, i, y);
        if (ctx == 0) continue;
        t->fl[i] |= F_VIS;
        if (t1_bit(t, ctx)) t1_set_sig(t, i, y * t->w + x, t1_sign(t, i, y), bp);
      }
}

static void t1_mrp(t1dec *t, int bp) {
  for (int y0 = 0; y0 < t->h; y0 += 4)
    for (int x = 0; x < t->w; x++)
      for (int y = y0; y < y0 + 4 && y < t->h; y++) {
        int i = (y + 1) * t->stride + x + 1;
        if ((t->fl[i] & (F_SIG | F_VIS)) != F_SIG) continue;
        int ctx = 16;
        if (!(t->fl[i] & F_REF)) {
          int h, v, d;
          t1_neigh(t, i, y, &h, &v, &d);
          ctx = h + v + d ? 15 : 14;
        }
        int j = y * t->w + x;
        if (t1_bit(t, ctx))
          t->mag[j] += 1u << bp;
        else
          t->mag[j] -= 1u << bp;
        t->fl[i] |= F_REF;
      }
}

static void t1_cup(t1dec *t, int bp) {
  for (int y0 = 0; y0 < t->h; y0 += 4)
    for (int x = 0; x < t->w; x++) {
      int y = y0;
      int i0 = (y0 + 1) * t->stride + x + 1;
      if (y0 + 4 <= t->h) {
        bool run = true;
        for (int k = 0; k < 4 && run; k++) {
          int i = i0 + k * t->stride;
          run = !(t->fl[i] & (F_SIG | F_VIS)) && t1_zc(t, i, y0 + k) == 0;
        }
        if (run) {
          if (!mq_decode(&t->mq, &t->cx[CX_RL])) continue; /* all four stay insignificant */
          int r = mq_decode(&t->mq, &t->cx[CX_UNI]) << 1;
          r |= mq_decode(&t->mq, &t->cx[CX_UNI]);
          y = y0 + r;
          int i = i0 + r * t->stride;
          t1_set_sig(t, i, y * t->w + x, t1_sign(t, i, y), bp);
          y++;
        }
      }
      for (; y < y0 + 4 && y < t->h; y++) {
        int i = (y + 1) * t->stride + x + 1;
        if (!(t->fl[i] & (F_SIG | F_VIS))) {
          if (mq_decode(&t->mq, &t->cx[t1_zc(t, i, y)])) t1_set_sig(t, i, y * t->w + x, t1_sign(t, i, y), bp);
        }
      }
      for (int k = 0; k < 4 && y0 + k < t->h; k++) t->fl[i0 + k * t->stride] &= (uint8_t)~F_VIS;
    }
}

/* ---- tile structures ---- */

typedef struct {
  int64_t x0, y0, x1, y1;
  uint8_t *d; /* all bytes received so far, codeword segments one after another */
  uint32_t len, cap, pend;
  uint32_t *seglen;
  uint8_t *segpass;
  int nseg, segcap, npasses, lblock, zbp;
  bool incl, inpkt;
} cblk;

typedef struct {
  int cx0, cy0, cw, ch; /* code-block range, band-local indices */
  tagtree incl, zb;
} pband;

typedef struct {
  int64_t x0, y0, x1, y1;
  int orient, xcb, ycb, mb, ncbx, ncby;
  int64_t cbx0, cby0;
  float step;
  cblk *cb;
  int32_t *ci; /* reversible coefficients */
  float *cf;   /* irreversible coefficients */
} band;

typedef struct {
  int64_t x0, y0, x1, y1;
  int nbands, ppx, ppy, npx, npy;
  int64_t pgx0, pgy0;
  band b[3];
  pband *pb; /* npx*npy*nbands */
} resolution;

typedef struct {
  int64_t x0, y0, x1, y1;
  const ccparams *cc;
  const qparams *qc;
  resolution r[MAXNL + 1];
  int32_t *oi;
  float *of;
} tcomp;

typedef struct {
  int64_t x0, y0, x1, y1;
  int nc;
  tcomp c[MAXC];
  const compinfo *comp;
  const codparams *cp;
  const uint8_t *d;
  size_t n, pos;
  bool done; /* the tile's data ended at a packet boundary: the remaining packets are empty */
} tile;

static void tile_free(tile *t) {
  for (int c = 0; c < t->nc; c++) {
    tcomp *tc = &t->c[c];
    for (int r = 0; r <= tc->cc->nl; r++) {
      resolution *res = &tc->r[r];
      for (int b = 0; b < res->nbands; b++) {
        band *bd = &res->b[b];
        if (bd->cb) {
          for (size_t k = 0; k < (size_t)bd->ncbx * (size_t)bd->ncby; k++) {
            free(bd->cb[k].d);
            free(bd->cb[k].seglen);
            free(bd->cb[k].segpass);
          }
        }
        free(bd->cb);
        free(bd->ci);
        free(bd->cf);
      }
      if (res->pb) {
        for (size_t k = 0; k < (size_t)res->npx * (size_t)res->npy * (size_t)res->nbands; k++) {
          tt_free(&res->pb[k].incl);
          tt_free(&res->pb[k].zb);
        }
      }
      free(res->pb);
    }
    free(tc->oi);
    free(tc->of);
  }
}

/* Exponent and mantissa of band `bi` (0: LL, then 3 per resolution); `nb`: its decomposition level. */
static const char *band_quant(const qparams *q, int bi, int nl, int nb, int *eps, int *mu) {
  if (q->style == 1) {
    *eps = (q->v[0] >> 11) - nl + nb;
    *mu = q->v[0] & 0x7ff;
    if (*eps < 0) return "jpeg2k: bad derived quantization exponent";
  } else {
    if (bi >= q->n) return "jpeg2k: quantization parameters missing for a subband";
    *eps = q->v[bi] >> 11;
    *mu = q->v[bi] & 0x7ff;
  }
  return NULL;
}

static const char *setup_band(band *bd, const tcomp *tc, int prec, int r, int orient) {
  int nl = tc->cc->nl;
  int nb = r == 0 ? nl : nl - r + 1;
  int64_t xo = orient & 1, yo = orient >> 1, sc = (int64_t)1 << nb, hs = r == 0 ? 0 : sc / 2;
  bd->orient = orient;
  bd->x0 = cdiv(tc->x0 - xo * hs, sc);
  bd->x1 = cdiv(tc->x1 - xo * hs, sc);
  bd->y0 = cdiv(tc->y0 - yo * hs, sc);
  bd->y1 = cdiv(tc->y1 - yo * hs, sc);
  int eps, mu;
  const char *err = band_quant(tc->qc, r == 0 ? 0 : 3 * (r - 1) + orient, nl, nb, &eps, &mu);
  if (err) return err;
  bd->mb = tc->qc->guard + eps - 1;
  int gain = orient == 0 ? 0 : orient == 3 ? 2 : 1;
  bd->step = (float)ldexp(1.0 + mu / 2048.0, prec + gain - eps);
  const resolution *res = &tc->r[r];
  bd->xcb = tc->cc->xcb < (r ? res->ppx - 1 : res->ppx) ? tc->cc->xcb : (r ? res->ppx - 1 : res->ppx);
  bd->ycb = tc->cc->ycb < (r ? res->ppy - 1 : res->ppy) ? tc->cc->ycb : (r ? res->ppy - 1 : res->ppy);
  if (bd->x1 <= bd->x0 || bd->y1 <= bd->y0) {
    bd->x1 = bd->x0, bd->y1 = bd->y0;
    return NULL;
  }
  int64_t cw = (int64_t)1 << bd->xcb, ch = (int64_t)1 << bd->ycb;
  bd->cbx0 = fdiv(bd->x0, cw);
  bd->cby0 = fdiv(bd->y0, ch);
  int64_t ncbx = cdiv(bd->x1, cw) - bd->cbx0, ncby = cdiv(bd->y1, ch) - bd->cby0;
  if (ncbx * ncby > (int64_t)OXRT_IMAGE_MAX_PIXELS) return "jpeg2k: image too large";
  bd->ncbx = (int)ncbx;
  bd->ncby = (int)ncby;
  bd->cb = calloc((size_t)(ncbx * ncby), sizeof(cblk));
  if (!bd->cb) return "jpeg2k: out of memory";
  for (int k = 0; k < bd->ncbx * bd->ncby; k++) {
    cblk *cb = &bd->cb[k];
    int64_t gx = bd->cbx0 + k % bd->ncbx, gy = bd->cby0 + k / bd->ncbx;
    cb->x0 = max64(gx * cw, bd->x0);
    cb->x1 = min64((gx + 1) * cw, bd->x1);
    cb->y0 = max64(gy * ch, bd->y0);
    cb->y1 = min64((gy + 1) * ch, bd->y1);
    cb->lblock = 3;
  }
  return NULL;
}

static const char *setup_tile(j2k *j, tile *t, int tidx, const codparams *cp) {
  int64_t p = tidx % j->ntx, q = tidx / j->ntx;
  t->x0 = max64(j->tox + p * j->tw, j->x0);
  t->x1 = min64(j->tox + (p + 1) * j->tw, j->x1);
  t->y0 = max64(j->toy + q * j->th, j->y0);
  t->y1 = min64(j->toy + (q + 1) * j->th, j->y1);
  t->cp = cp;
  for (int c = 0; c < j->nc; c++) {
    tcomp *tc = &t->c[c];
    tc->cc = &cp->cc[c];
    tc->qc = &cp->qc[c];
    t->nc = c + 1;
    tc->x0 = cdiv(t->x0, j->comp[c].dx);
    tc->x1 = cdiv(t->x1, j->comp[c].dx);
    tc->y0 = cdiv(t->y0, j->comp[c].dy);
    tc->y1 = cdiv(t->y1, j->comp[c].dy);
    int nl = tc->cc->nl;
    for (int r = 0; r <= nl; r++) {
      resolution *res = &tc->r[r];
      int64_t sc = (int64_t)1 << (nl - r);
      res->x0 = cdiv(tc->x0, sc);
      res->x1 = cdiv(tc->x1, sc);
      res->y0 = cdiv(tc->y0, sc);
      res->y1 = cdiv(tc->y1, sc);
      res->ppx = tc->cc->pp[r] & 15;
      res->ppy = tc->cc->pp[r] >> 4;
      res->nbands = r == 0 ? 1 : 3;
      if (res->x1 > res->x0 && res->y1 > res->y0) {
        res->pgx0 = fdiv(res->x0, (int64_t)1 << res->ppx);
        res->pgy0 = fdiv(res->y0, (int64_t)1 << res->ppy);
        int64_t npx = cdiv(res->x1, (int64_t)1 << res->ppx) - res->pgx0;
        int64_t npy = cdiv(res->y1, (int64_t)1 << res->ppy) - res->pgy0;
        if (npx * npy > (int64_t)OXRT_IMAGE_MAX_PIXELS) return "jpeg2k: image too large";
        res->npx = (int)npx;
        res->npy = (int)npy;
      }
      for (int b = 0; b < res->nbands; b++) {
        const char *err = setup_band(&res->b[b], tc, j->comp[c].prec, r, r == 0 ? 0 : b + 1);
        if (err) return err;
      }
      if (res->npx == 0) continue;
      size_t np = (size_t)res->npx * (size_t)res->npy;
      res->pb = calloc(np * (size_t)res->nbands, sizeof(pband));
      if (!res->pb) return "jpeg2k: out of memory";
      for (size_t k = 0; k < np; k++) {
        /* the precinct in resolution coordinates, then in each subband (half size above r = 0) */
        int64_t px0 = (res->pgx0 + (int64_t)(k % (size_t)res->npx)) << res->ppx;
        int64_t py0 = (res->pgy0 + (int64_t)(k / (size_t)res->npx)) << res->ppy;
        int64_t px1 = px0 + ((int64_t)1 << res->ppx), py1 = py0 + ((int64_t)1 << res->ppy);
        if (r > 0) px0 >>= 1, py0 >>= 1, px1 >>= 1, py1 >>= 1;
        for (int b = 0; b < res->nbands; b++) {
          band *bd = &res->b[b];
          pband *pb = &res->pb[k * (size_t)res->nbands + (size_t)b];
          int64_t bx0 = max64(px0, bd->x0), bx1 = min64(px1, bd->x1);
          int64_t by0 = max64(py0, bd->y0), by1 = min64(py1, bd->y1);
          if (bx1 <= bx0 || by1 <= by0) continue;
          pb->cx0 = (int)(fdiv(bx0, (int64_t)1 << bd->xcb) - bd->cbx0);
          pb->cy0 = (int)(fdiv(by0, (int64_t)1 << bd->ycb) - bd->cby0);
          pb->cw = (int)(cdiv(bx1, (int64_t)1 << bd->xcb) - bd->cbx0) - pb->cx0;
          pb->ch = (int)(cdiv(by1, (int64_t)1 << bd->ycb) - bd->cby0) - pb->cy0;
          const char *err = tt_init(&pb->incl, pb->cw, pb->ch);
          if (!err) err = tt_init(&pb->zb, pb->cw, pb->ch);
          if (err) return err;
        }
      }
    }
  }
  return NULL;
}

/* ---- packets (B.9, B.10) ---- */

/* Passes a codeword segment starting at pass `k` may hold (B.10.7.1, D.4.1). */
static int seg_cap(int style, int k) {
  if (style & CB_TERMALL) return 1;
  if (style & CB_BYPASS) {
    if (k < 10) return 10 - k;
    return (k - 10) % 3 == 0 ? 2 : 1;
  }
  return 255;
}

static const char *cb_add_seg(cblk *cb) {
  if (cb->nseg == cb->segcap) {
    int nc = cb->segcap ? cb->segcap * 2 : 4;
    uint32_t *l = realloc(cb->seglen, (size_t)nc * sizeof *l);
    if (!l) return "jpeg2k: out of memory";
    cb->seglen = l;
    uint8_t *p = realloc(cb->segpass, (size_t)nc);
    if (!p) return "jpeg2k: out of memory";
    cb->segpass = p;
    cb->segcap = nc;
  }
  cb->seglen[cb->nseg] = 0;
  cb->segpass[cb->nseg] = 0;
  cb->nseg++;
  return NULL;
}

static int floorlog2(int v) {
  int l = 0;
  while (v > 1) v >>= 1, l++;
  return l;
}

static const char *read_cblk_header(pbits *b, pband *pb, band *bd, cblk *cb, int xx, int yy, int layer, int style) {
  bool included;
  if (!cb->incl) {
    included = tt_decode(&pb->incl, b, xx, yy, layer + 1) <= layer;
  } else {
    included = pb_bit(b);
  }
  if (b->over) return "jpeg2k: truncated packet header";
  if (!included) return NULL;
  if (!cb->incl) {
    int v = 0;
    for (int thr = 1;; thr++) {
      v = tt_decode(&pb->zb, b, xx, yy, thr);
      if (b->over) return "jpeg2k: truncated packet header";
      if (v < thr) break;
      if (thr > 64) return "jpeg2k: bad zero bit-plane count";
    }
    cb->zbp = v;
    cb->incl = true;
  }
  int planes = bd->mb - cb->zbp;
  if (planes < 1 || planes > MAXBP) return "jpeg2k: bad number of bit-planes";
  int n = 1;
  if (pb_bit(b)) {
    n = 2;
    if (pb_bit(b)) {
      n = 3 + (int)pb_bits(b, 2);
      if (n == 6) {
        n += (int)pb_bits(b, 5);
        if (n == 37) n += (int)pb_bits(b, 7);
      }
    }
  }
  while (pb_bit(b)) {
    if (++cb->lblock > 32 || b->over) return "jpeg2k: bad code-block length indicator";
  }
  if (cb->npasses + n > 3 * planes - 2) return "jpeg2k: too many coding passes";
  cb->pend = 0;
  int k = cb->npasses;
  while (n > 0) {
    if (cb->nseg == 0 || cb->segpass[cb->nseg - 1] >= seg_cap(style, k - cb->segpass[cb->nseg - 1])) {
      const char *err = cb_add_seg(cb);
      if (err) return err;
    }
    int first = k - cb->segpass[cb->nseg - 1];
    int take = seg_cap(style, first) - cb->segpass[cb->nseg - 1];
    if (take > n) take = n;
    int bits = cb->lblock + floorlog2(take);
    if (bits > 32) return "jpeg2k: bad code-block length";
    uint32_t len = pb_bits(b, bits);
    if (b->over) return "jpeg2k: truncated packet header";
    if (len > UINT32_MAX - cb->len - cb->pend) return "jpeg2k: bad code-block length";
    cb->seglen[cb->nseg - 1] += len;
    cb->segpass[cb->nseg - 1] = (uint8_t)(cb->segpass[cb->nseg - 1] + take);
    cb->pend += len;
    k += take;
    n -= take;
  }
  cb->npasses = k;
  cb->inpkt = true;
  return NULL;
}

static const char *read_packet(tile *t, int c, int r, size_t p, int layer) {
  tcomp *tc = &t->c[c];
  resolution *res = &tc->r[r];
  if (t->done || r > tc->cc->nl || p >= (size_t)res->npx * (size_t)res->npy) return NULL;
  if (t->pos >= t->n) {
    t->done = true;
    return NULL;
  }
  if ((t->cp->scod & 2) && t->pos + 6 <= t->n && t->d[t->pos] == 0xff && t->d[t->pos + 1] == 0x91) t->pos += 6;
  pbits b = {t->d, t->n, t->pos, 0, 0, false};
  int style = tc->cc->style;
  if (pb_bit(&b)) {
    for (int bi = 0; bi < res->nbands; bi++) {
      pband *pb = &res->pb[p * (size_t)res->nbands + (size_t)bi];
      band *bd = &res->b[bi];
      for (int yy = 0; yy < pb->ch; yy++)
        for (int xx = 0; xx < pb->cw; xx++) {
          cblk *cb = &bd->cb[(size_t)(pb->cy0 + yy) * (size_t)bd->ncbx + (size_t)(pb->cx0 + xx)];
          const char *err = read_cblk_header(&b, pb, bd, cb, xx, yy, layer, style);
          if (err) return err;
        }
    }
  }
  if (b.over) return "jpeg2k: truncated packet header";
  t->pos = b.pos;
  if (b.byte == 0xff) t->pos++; /* the stuffed bit after a final 0xFF */
  if (t->pos > t->n) return "jpeg2k: truncated packet header";
  if ((t->cp->scod & 4) && t->pos + 2 <= t->n && t->d[t->pos] == 0xff && t->d[t->pos + 1] == 0x92) t->pos += 2;
  for (int bi = 0; bi < res->nbands; bi++) {
    pband *pb = &res->pb[p * (size_t)res->nbands + (size_t)bi];
    band *bd = &res->b[bi];
    for (int yy = 0; yy < pb->ch; yy++)
      for (int xx = 0; xx < pb->cw; xx++) {
        cblk *cb = &bd->cb[(size_t)(pb->cy0 + yy) * (size_t)bd->ncbx + (size_t)(pb->cx0 + xx)];
        if (!cb->inpkt) continue;
        cb->inpkt = false;
        if (cb->pend > t->n - t->pos) return "jpeg2k: truncated packet data";
        if (cb->len + cb->pend > cb->cap) {
          uint32_t nc = cb->len + cb->pend;
          if (nc < 2 * cb->cap) nc = 2 * cb->cap;
          uint8_t *nd = realloc(cb->d, nc);
          if (!nd) return "jpeg2k: out of memory";
          cb->d = nd;
          cb->cap = nc;
        }
        if (cb->pend) memcpy(cb->d + cb->len, t->d + t->pos, cb->pend);
        cb->len += cb->pend;
        t->pos += cb->pend;
        cb->pend = 0;
      }
  }
  return NULL;
}

/* A precinct's place in a position-driven progression: its sort key, outermost first. */
typedef struct {
  int64_t k[4];
  int c, r, p;
} pktpos;

static int cmp_pos(const void *pa, const void *pb) {
  const pktpos *a = pa, *b = pb;
  for (int i = 0; i < 4; i++)
    if (a->k[i] != b->k[i]) return a->k[i] < b->k[i] ? -1 : 1;
  return a->p < b->p ? -1 : a->p > b->p;
}

/* ---- tier-1 driver ---- */

static void decode_cblk(t1dec *t, const cblk *cb, band *bd, int style, bool rev) {
  int w = (int)(cb->x1 - cb->x0), h = (int)(cb->y1 - cb->y0);
  if (cb->npasses == 0) return;
  t->w = w;
  t->h = h;
  t->stride = w + 2;
  t->orient = bd->orient;
  t->style = style;
  memset(t->fl, 0, (size_t)(w + 2) * (size_t)(h + 2));
  memset(t->mag, 0, (size_t)w * (size_t)h * sizeof *t->mag);
  t1_reset_cx(t);
  int planes = bd->mb - cb->zbp, seg = 0, left = 0;
  uint32_t off = 0;
  for (int k = 0; k < cb->npasses; k++) {
    int type = k == 0 ? 2 : (k - 1) % 3; /* 0: significance, 1: refinement, 2: cleanup */
    int bp = planes - 1 - (k + 2) / 3;
    if (left == 0) { /* a new codeword segment: restart the decoder on its bytes */
      if (seg >= cb->nseg) break;
      t->raw = (style & CB_BYPASS) && k >= 10 && type != 2;
      const uint8_t *seg_d = cb->d ? cb->d + off : cb->d; /* no data at all: every segment is empty */
      if (t->raw)
        raw_init(&t->mq, seg_d, cb->seglen[seg]);
      else
        mq_init(&t->mq, seg_d, cb->seglen[seg]);
      left = cb->segpass[seg];
      off += cb->seglen[seg];
      seg++;
    }
    if (type == 0) {
      t1_spp(t, bp);
    } else if (type == 1) {
      t1_mrp(t, bp);
    } else {
      t1_cup(t, bp);
      if (style & CB_SEGSYM)
        for (int s = 0; s < 4; s++) mq_decode(&t->mq, &t->cx[CX_UNI]);
    }
    left--;
    if (style & CB_RESET) t1_reset_cx(t);
  }
  size_t bw = (size_t)(bd->x1 - bd->x0);
  for (int y = 0; y < h; y++) {
    size_t o = (size_t)(cb->y0 - bd->y0 + y) * bw + (size_t)(cb->x0 - bd->x0);
    for (int x = 0; x < w; x++) {
      uint32_t m = t->mag[y * w + x];
      bool neg = t->fl[(y + 1) * t->stride + x + 1] & F_NEG;
      if (rev) {
        int32_t v = (int32_t)(m >> 1);
        bd->ci[o + (size_t)x] = neg ? -v : v;
      } else {
        float v = (float)m * bd->step * 0.5f;
        bd->cf[o + (size_t)x] = neg ? -v : v;
      }
    }
  }
}

/* ---- inverse wavelet transform (Annex F) ---- */

static int64_t asr(int64_t v, int s) { return v >= 0 ? v >> s : ~(~v >> s); } /* floor(v / 2^s) */

/* One row or column of n samples whose first sample sits at a position of parity `par`; even positions
 * hold low-pass samples. Symmetric extension: the neighbour outside each end mirrors the one inside. */
static void idwt53(int32_t *a, int n, int par) {
  if (n == 1) {
    if (par) a[0] /= 2;
    return;
  }
  for (int j = par; j < n; j += 2) {
    int64_t l = j > 0 ? a[j - 1] : a[j + 1], r = j < n - 1 ? a[j + 1] : a[j - 1];
    a[j] = (int32_t)(a[j] - asr(l + r + 2, 2));
  }
  for (int j = 1 - par; j < n; j += 2) {
    int64_t l = j > 0 ? a[j - 1] : a[j + 1], r = j < n - 1 ? a[j + 1] : a[j - 1];
    a[j] = (int32_t)(a[j] + asr(l + r, 1));
  }
}

static void lift97(float *a, int n, int start, float coef) {
  for (int j = start; j < n; j += 2) {
    float l = j > 0 ? a[j - 1] : a[j + 1], r = j < n - 1 ? a[j + 1] : a[j - 1];
    a[j] -= coef * (l + r);
  }
}

/* High-pass samples are scaled by OpenJPEG's rounded 2/K (1.625732422, not 1.6257861) halved: a 3e-5
 * departure from the spec that makes lossy output bit-identical to Pillow's. */
static void idwt97(float *a, int n, int par) {
  const float K = 1.230174104914001f, two_inv_k = 1.625732422f, alpha = -1.586134342059924f, beta = -0.052980118572961f,
              gamma = 0.882911075530934f, delta = 0.443506852043971f;
  if (n == 1) {
    if (par) a[0] *= 0.5f;
    return;
  }
  for (int j = 0; j < n; j++) a[j] *= ((par + j) & 1) ? two_inv_k * 0.5f : K;
  lift97(a, n, par, delta);
  lift97(a, n, 1 - par, gamma);
  lift97(a, n, par, beta);
  lift97(a, n, 1 - par, alpha);
}

/* Interleaves LL (the previous resolution) and the three subbands of resolution r into its sample grid,
 * then filters every row and every column. `cur` is replaced by the new resolution. */
static const char *idwt_level(tcomp *tc, int r, bool rev, void **cur) {
  const resolution *res = &tc->r[r], *prev = &tc->r[r - 1];
  size_t W = (size_t)(res->x1 - res->x0), H = (size_t)(res->y1 - res->y0);
  size_t pw = (size_t)(prev->x1 - prev->x0), es = rev ? sizeof(int32_t) : sizeof(float);
  void *out = calloc(W * H > 0 ? W * H : 1, es);
  void *tmp = malloc((H > W ? H : W) * es + 1);
  if (!out || !tmp) {
    free(out);
    free(tmp);
    return "jpeg2k: out of memory";
  }
  for (size_t y = 0; y < H; y++) {
    int64_t Y = res->y0 + (int64_t)y;
    for (size_t x = 0; x < W; x++) {
      int64_t X = res->x0 + (int64_t)x;
      int o = (int)(X & 1) | (int)(Y & 1) << 1;
      size_t si;
      const void *src;
      if (o == 0) {
        src = *cur;
        si = (size_t)((Y >> 1) - prev->y0) * pw + (size_t)((X >> 1) - prev->x0);
      } else {
        const band *bd = &res->b[o - 1];
        src = rev ? (const void *)bd->ci : (const void *)bd->cf;
        si = (size_t)((Y >> 1) - bd->y0) * (size_t)(bd->x1 - bd->x0) + (size_t)((X >> 1) - bd->x0);
      }
      if (rev)
        ((int32_t *)out)[y * W + x] = ((const int32_t *)src)[si];
      else
        ((float *)out)[y * W + x] = ((const float *)src)[si];
    }
  }
  int px = (int)(res->x0 & 1), py = (int)(res->y0 & 1);
  for (size_t y = 0; y < H && W > 0; y++) {
    if (rev)
      idwt53((int32_t *)out + y * W, (int)W, px);
    else
      idwt97((float *)out + y * W, (int)W, px);
  }
  for (size_t x = 0; x < W && H > 0; x++) {
    if (rev) {
      int32_t *o = out, *tp = tmp;
      for (size_t y = 0; y < H; y++) tp[y] = o[y * W + x];
      idwt53(tp, (int)H, py);
      for (size_t y = 0; y < H; y++) o[y * W + x] = tp[y];
    } else {
      float *o = out, *tp = tmp;
      for (size_t y = 0; y < H; y++) tp[y] = o[y * W + x];
      idwt97(tp, (int)H, py);
      for (size_t y = 0; y < H; y++) o[y * W + x] = tp[y];
    }
  }
  free(tmp);
  free(*cur);
  *cur = out;
  return NULL;
}

/* Tier-1 of every code-block of a component, then the inverse transform: leaves tc->oi or tc->of. */
static const char *reconstruct(tcomp *tc, t1dec *t1) {
  bool rev = tc->cc->rev;
  for (int r = 0; r <= tc->cc->nl; r++) {
    resolution *res = &tc->r[r];
    for (int b = 0; b < res->nbands; b++) {
      band *bd = &res->b[b];
      size_t n = (size_t)(bd->x1 - bd->x0) * (size_t)(bd->y1 - bd->y0);
      if (rev)
        bd->ci = calloc(n ? n : 1, sizeof(int32_t));
      else
        bd->cf = calloc(n ? n : 1, sizeof(float));
      if (rev ? !bd->ci : !bd->cf) return "jpeg2k: out of memory";
      for (size_t k = 0; k < (size_t)bd->ncbx * (size_t)bd->ncby; k++)
        decode_cblk(t1, &bd->cb[k], bd, tc->cc->style, rev);
    }
  }
  band *ll = &tc->r[0].b[0];
  void *cur = rev ? (void *)ll->ci : (void *)ll->cf;
  ll->ci = NULL;
  ll->cf = NULL;
  for (int r = 1; r <= tc->cc->nl; r++) {
    const char *err = idwt_level(tc, r, rev, &cur);
    if (err) {
      free(cur);
      return err;
    }
  }
  if (rev)
    tc->oi = cur;
  else
    tc->of = cur;
  return NULL;
}

/* ---- tiles ---- */

static const char *read_packets(tile *t) {
  const codparams *cp = t->cp;
  int maxr = 0;
  for (int c = 0; c < t->nc; c++)
    if (t->c[c].cc->nl > maxr) maxr = t->c[c].cc->nl;
  const char *err = NULL;
  if (cp->prog == PROG_LRCP || cp->prog == PROG_RLCP) {
    int nouter = cp->prog == PROG_LRCP ? cp->layers : maxr + 1;
    int ninner = cp->prog == PROG_LRCP ? maxr + 1 : cp->layers;
    for (int o = 0; o < nouter && !t->done; o++)
      for (int i = 0; i < ninner && !t->done; i++) {
        int l = cp->prog == PROG_LRCP ? o : i, r = cp->prog == PROG_LRCP ? i : o;
        for (int c = 0; c < t->nc; c++) {
          if (r > t->c[c].cc->nl) continue;
          const resolution *res = &t->c[c].r[r];
          for (size_t p = 0; p < (size_t)res->npx * (size_t)res->npy; p++)
            if ((err = read_packet(t, c, r, p, l))) return err;
        }
      }
    return NULL;
  }
  /* Position-driven orders (B.12.1.3-5): each precinct is visited at the first reference-grid point of
   * the tile that falls in it; sorting by that point reproduces the nested loops. */
  size_t n = 0;
  for (int c = 0; c < t->nc; c++)
    for (int r = 0; r <= t->c[c].cc->nl; r++) n += (size_t)t->c[c].r[r].npx * (size_t)t->c[c].r[r].npy;
  pktpos *list = malloc((n ? n : 1) * sizeof *list);
  if (!list) return "jpeg2k: out of memory";
  size_t k = 0;
  for (int c = 0; c < t->nc; c++) {
    const tcomp *tc = &t->c[c];
    const compinfo *ci = &t->comp[c];
    for (int r = 0; r <= tc->cc->nl; r++) {
      const resolution *res = &tc->r[r];
      int s = tc->cc->nl - r;
      for (int p = 0; p < res->npx * res->npy; p++) {
        int kx = p % res->npx, ky = p / res->npx;
        int64_t x = kx == 0 ? t->x0 : ((res->pgx0 + kx) << (res->ppx + s)) * ci->dx;
        int64_t y = ky == 0 ? t->y0 : ((res->pgy0 + ky) << (res->ppy + s)) * ci->dy;
        pktpos *e = &list[k++];
        e->c = c, e->r = r, e->p = p;
        if (cp->prog == PROG_RPCL)
          e->k[0] = r, e->k[1] = y, e->k[2] = x, e->k[3] = c;
        else if (cp->prog == PROG_PCRL)
          e->k[0] = y, e->k[1] = x, e->k[2] = c, e->k[3] = r;
        else
          e->k[0] = c, e->k[1] = y, e->k[2] = x, e->k[3] = r;
      }
    }
  }
  qsort(list, n, sizeof *list, cmp_pos);
  for (size_t i = 0; i < n && !t->done && !err; i++)
    for (int l = 0; l < cp->layers && !t->done && !err; l++)
      err = read_packet(t, list[i].c, list[i].r, (size_t)list[i].p, l);
  free(list);
  return err;
}

static int32_t clampi(int64_t v, int64_t lo, int64_t hi) { return (int32_t)(v < lo ? lo : v > hi ? hi : v); }

static const char *decode_tile(j2k *j, int tidx, const uint8_t *data, size_t n, const codparams *cp, t1dec *t1) {
  tile *t = calloc(1, sizeof *t);
  if (!t) return "jpeg2k: out of memory";
  t->d = data;
  t->n = n;
  t->comp = j->comp;
  const char *err = setup_tile(j, t, tidx, cp);
  if (!err) err = read_packets(t);
  for (int c = 0; c < j->nout && !err; c++) err = reconstruct(&t->c[c], t1);
  if (!err && cp->mct == 1 && j->nc >= 3) { /* inverse component transform (G.2, G.3) */
    tcomp *c0 = &t->c[0], *c1 = &t->c[1], *c2 = &t->c[2];
    if (c1->x0 != c0->x0 || c1->x1 != c0->x1 || c1->y0 != c0->y0 || c1->y1 != c0->y1 || c2->x0 != c0->x0 ||
        c2->x1 != c0->x1 || c2->y0 != c0->y0 || c2->y1 != c0->y1 || c0->cc->rev != c1->cc->rev ||
        c0->cc->rev != c2->cc->rev) {
      err = "jpeg2k: component transform over mismatched components";
    } else {
      size_t cnt = (size_t)(c0->x1 - c0->x0) * (size_t)(c0->y1 - c0->y0);
      if (c0->cc->rev) {
        for (size_t i = 0; i < cnt; i++) {
          int64_t y = c0->oi[i], u = c1->oi[i], v = c2->oi[i];
          int64_t g = y - asr(u + v, 2);
          c0->oi[i] = (int32_t)(v + g);
          c1->oi[i] = (int32_t)g;
          c2->oi[i] = (int32_t)(u + g);
        }
      } else {
        for (size_t i = 0; i < cnt; i++) {
          float y = c0->of[i], u = c1->of[i], v = c2->of[i];
          c0->of[i] = y + 1.402f * v;
          c1->of[i] = y - 0.34413f * u - 0.71414f * v;
          c2->of[i] = y + 1.772f * u;
        }
      }
    }
  }
  for (int c = 0; c < j->nout && !err; c++) { /* DC level shift, clamp, store */
    const tcomp *tc = &t->c[c];
    int prec = j->comp[c].prec;
    int64_t lo = j->comp[c].sgnd ? -((int64_t)1 << (prec - 1)) : 0, hi = lo + ((int64_t)1 << prec) - 1;
    int64_t shift = j->comp[c].sgnd ? 0 : (int64_t)1 << (prec - 1);
    size_t w = (size_t)(tc->x1 - tc->x0);
    for (int64_t y = tc->y0; y < tc->y1; y++) {
      int32_t *row = j->plane[c] + (size_t)(y - j->py0[c]) * (size_t)j->pw[c] + (size_t)(tc->x0 - j->px0[c]);
      size_t o = (size_t)(y - tc->y0) * w;
      for (size_t x = 0; x < w; x++) {
        int64_t v;
        if (tc->cc->rev) {
          v = tc->oi[o + x];
        } else {
          float f = tc->of[o + x];
          f = f > 1e9f ? 1e9f : f < -1e9f ? -1e9f : f;
          v = lrintf(f);
        }
        row[x] = clampi(v + shift, lo, hi);
      }
    }
  }
  tile_free(t);
  free(t);
  return err;
}

/* ---- codestream ---- */

static const char *add_part(tilerec *tr, uint32_t off, uint32_t len) {
  if (tr->nparts == tr->cap) {
    int nc = tr->cap ? tr->cap * 2 : 2;
    span *p = realloc(tr->parts, (size_t)nc * sizeof *p);
    if (!p) return "jpeg2k: out of memory";
    tr->parts = p;
    tr->cap = nc;
  }
  tr->parts[tr->nparts].off = off;
  tr->parts[tr->nparts].len = len;
  tr->nparts++;
  return NULL;
}

static const char *read_siz(j2k *j, const uint8_t *s, size_t n) {
  if (n < 38) return "jpeg2k: short SIZ segment";
  j->x1 = be32(s + 2);
  j->y1 = be32(s + 6);
  j->x0 = be32(s + 10);
  j->y0 = be32(s + 14);
  j->tw = be32(s + 18);
  j->th = be32(s + 22);
  j->tox = be32(s + 26);
  j->toy = be32(s + 30);
  j->nc = (int)be16(s + 34);
  if (j->x1 <= j->x0 || j->y1 <= j->y0) return "jpeg2k: empty image";
  if (j->tw == 0 || j->th == 0 || j->tox > j->x0 || j->toy > j->y0 || j->tox + j->tw <= j->x0 ||
      j->toy + j->th <= j->y0)
    return "jpeg2k: bad tile grid";
  if ((j->x1 - j->x0) * (j->y1 - j->y0) > (int64_t)OXRT_IMAGE_MAX_PIXELS) return "jpeg2k: image too large";
  if (j->nc < 1 || j->nc > MAXC) return "jpeg2k: unsupported number of components";
  if (n < 36 + 3 * (size_t)j->nc) return "jpeg2k: short SIZ segment";
  int64_t ntx = cdiv(j->x1 - j->tox, j->tw), nty = cdiv(j->y1 - j->toy, j->th);
  if (ntx * nty > 65535) return "jpeg2k: too many tiles";
  j->ntx = (int)ntx;
  j->nty = (int)nty;
  for (int c = 0; c < j->nc; c++) {
    const uint8_t *p = s + 36 + 3 * c;
    j->comp[c].prec = (p[0] & 0x7f) + 1;
    j->comp[c].sgnd = p[0] >> 7;
    j->comp[c].dx = p[1];
    j->comp[c].dy = p[2];
    if (j->comp[c].prec > 16) return "jpeg2k: unsupported sample precision";
    if (j->comp[c].dx == 0 || j->comp[c].dy == 0) return "jpeg2k: bad component subsampling";
  }
  return NULL;
}

static const char *decode_codestream(j2k *j, oxrt_image *img) {
  const uint8_t *d = j->d;
  size_t n = j->n, pos = 2;
  if (n > UINT32_MAX) return "jpeg2k: file too large";
  if (n < 6 || be16(d) != 0xff4f || be16(d + 2) != 0xff51) return "jpeg2k: missing SOC/SIZ";
  uint32_t slen = be16(d + 4);
  if (slen < 2 || 4 + (size_t)slen > n) return "jpeg2k: truncated SIZ segment";
  const char *err = read_siz(j, d + 6, slen - 2);
  if (err) return err;
  /* main header: everything up to the first SOT */
  size_t hstart = 4 + slen, hend = hstart;
  while (hend + 4 <= n && be16(d + hend) != 0xff90) {
    if (d[hend] != 0xff) return "jpeg2k: marker expected";
    hend += 2 + be16(d + hend + 2);
  }
  if (hend + 4 > n) return "jpeg2k: no tile data";
  for (int pass = 0; pass < 2 && !err; pass++) err = apply_markers(&j->main, j, d + hstart, hend - hstart, pass);
  if (err) return err;
  if (!j->main.have_cod || !j->main.have_qcd) return "jpeg2k: COD or QCD missing";
  j->tiles = calloc((size_t)j->ntx * (size_t)j->nty, sizeof(tilerec));
  if (!j->tiles) return "jpeg2k: out of memory";
  /* tile-parts: SOT, header markers, SOD, data */
  pos = hend;
  while (pos + 12 <= n && be16(d + pos) == 0xff90) {
    if (be16(d + pos + 2) != 10) return "jpeg2k: bad SOT segment";
    uint32_t isot = be16(d + pos + 4), psot = be32(d + pos + 6);
    if (isot >= (uint32_t)(j->ntx * j->nty)) return "jpeg2k: bad tile index";
    size_t end = psot ? pos + psot : n;
    if (psot && psot < 14) return "jpeg2k: bad tile-part length";
    if (end > n) end = n; /* a truncated last tile-part: decode what is there */
    if (!psot && end >= pos + 2 && be16(d + end - 2) == 0xffd9) end -= 2;
    size_t h = pos + 12;
    while (h + 2 <= end && be16(d + h) != 0xff93) {
      if (h + 4 > end || d[h] != 0xff) return "jpeg2k: bad tile-part header";
      h += 2 + be16(d + h + 2);
    }
    if (h + 2 > end) return "jpeg2k: SOD missing";
    tilerec *tr = &j->tiles[isot];
    if (!tr->seen) {
      tr->seen = true;
      tr->hdr.off = (uint32_t)(pos + 12);
      tr->hdr.len = (uint32_t)(h - pos - 12);
    }
    if ((err = add_part(tr, (uint32_t)(h + 2), (uint32_t)(end - h - 2)))) return err;
    pos = end;
  }
  /* component planes (only those that reach the output) */
  j->nout = j->nc >= 3 ? 3 : 1;
  for (int c = 0; c < j->nout; c++) {
    j->px0[c] = cdiv(j->x0, j->comp[c].dx);
    j->py0[c] = cdiv(j->y0, j->comp[c].dy);
    j->pw[c] = cdiv(j->x1, j->comp[c].dx) - j->px0[c];
    j->ph[c] = cdiv(j->y1, j->comp[c].dy) - j->py0[c];
    j->plane[c] = calloc((size_t)(j->pw[c] * j->ph[c]), sizeof(int32_t));
    if (!j->plane[c]) return "jpeg2k: out of memory";
  }
  t1dec t1 = {0};
  t1.fl = malloc(8192);
  t1.mag = malloc(4096 * sizeof(uint32_t));
  codparams *cp = malloc(sizeof *cp);
  if (!t1.fl || !t1.mag || !cp) err = "jpeg2k: out of memory";
  for (int ti = 0; ti < j->ntx * j->nty && !err; ti++) {
    tilerec *tr = &j->tiles[ti];
    if (!tr->seen) continue; /* a missing tile stays at zero, as in OpenJPEG */
    *cp = j->main;
    for (int pass = 0; pass < 2 && !err; pass++) err = apply_markers(cp, j, d + tr->hdr.off, tr->hdr.len, pass);
    if (err) break;
    size_t total = 0;
    for (int k = 0; k < tr->nparts; k++) total += tr->parts[k].len;
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
      err = "jpeg2k: out of memory";
      break;
    }
    total = 0;
    for (int k = 0; k < tr->nparts; k++) {
      memcpy(buf + total, d + tr->parts[k].off, tr->parts[k].len);
      total += tr->parts[k].len;
    }
    err = decode_tile(j, ti, buf, total, cp, &t1);
    free(buf);
  }
  free(t1.fl);
  free(t1.mag);
  free(cp);
  if (err) return err;
  /* to 8-bit RGB the way Pillow's unpackers do it: shift with rounding, keep the low 8 bits */
  if ((err = oxrt_image_alloc(img, j->x1 - j->x0, j->y1 - j->y0))) return err;
  size_t *colx = malloc((size_t)img->width * sizeof *colx);
  if (!colx) return "jpeg2k: out of memory";
  for (int c = 0; c < j->nout; c++) {
    int prec = j->comp[c].prec, sh = 8 - prec;
    uint32_t offset = j->comp[c].sgnd ? 1u << (prec - 1) : 0;
    if (sh < 0) offset += 1u << (-sh - 1);
    for (int64_t x = 0; x < img->width; x++) /* nearest sample of a subsampled component */
      colx[x] = (size_t)min64(fdiv(j->x0 + x, j->comp[c].dx) - j->px0[c], j->pw[c] - 1);
    for (int64_t y = 0; y < img->height; y++) {
      int64_t sy = min64(fdiv(j->y0 + y, j->comp[c].dy) - j->py0[c], j->ph[c] - 1);
      const int32_t *row = j->plane[c] + (size_t)sy * (size_t)j->pw[c];
      uint8_t *out = img->rgb + (size_t)y * (size_t)img->width * 3;
      for (int64_t x = 0; x < img->width; x++) {
        uint32_t v = offset + (uint32_t)row[colx[x]];
        uint8_t b = (uint8_t)(sh < 0 ? v >> -sh : v << sh);
        if (j->nout == 1)
          out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = b;
        else
          out[3 * x + c] = b;
      }
    }
  }
  free(colx);
  return NULL;
}

/* ---- JP2 file format (Annex I): find the contiguous codestream box ---- */

static const char *find_jp2c(const uint8_t *d, size_t n, const uint8_t **cs, size_t *csn) {
  size_t pos = 0;
  while (pos + 8 <= n) {
    uint64_t len = be32(d + pos);
    uint32_t type = be32(d + pos + 4);
    size_t hdr = 8;
    if (len == 1) {
      if (pos + 16 > n) break;
      len = (uint64_t)be32(d + pos + 8) << 32 | be32(d + pos + 12);
      hdr = 16;
    } else if (len == 0) {
      len = n - pos;
    }
    if (len < hdr || len > n - pos) {
      if (type != 0x6a703263) return "jpeg2k: bad JP2 box";
      len = n - pos; /* a truncated codestream box */
    }
    if (type == 0x6a703263) { /* 'jp2c' */
      *cs = d + pos + hdr;
      *csn = (size_t)len - hdr;
      return NULL;
    }
    if (type == 0x6a703268) { /* 'jp2h': palettes would need the pclr/cmap boxes applied */
      size_t p = pos + hdr, e = pos + (size_t)len;
      while (p + 8 <= e) {
        uint32_t bl = be32(d + p), bt = be32(d + p + 4);
        if (bt == 0x70636c72) return "jpeg2k: JP2 palettes (pclr) are not supported";
        if (bl < 8 || bl > e - p) break;
        p += bl;
      }
    }
    pos += (size_t)len;
  }
  return "jpeg2k: no codestream box in the JP2 file";
}

const char *oxrt_decode_jpeg2k(const uint8_t *data, size_t size, oxrt_image *img) {
  static const uint8_t sig[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};
  const uint8_t *cs = data;
  size_t csn = size;
  if (size >= 12 && memcmp(data, sig, 12) == 0) {
    const char *err = find_jp2c(data, size, &cs, &csn);
    if (err) return err;
  }
  j2k *j = calloc(1, sizeof *j);
  if (!j) return "jpeg2k: out of memory";
  j->d = cs;
  j->n = csn;
  img->rgb = NULL;
  const char *err = decode_codestream(j, img);
  if (j->tiles)
    for (int t = 0; t < j->ntx * j->nty; t++) free(j->tiles[t].parts);
  free(j->tiles);
  for (int c = 0; c < 3; c++) free(j->plane[c]);
  free(j);
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}
