/* jpeg.c - JPEG (JFIF/Adobe) decoder: baseline, extended and progressive Huffman-coded frames with 8-bit
 * samples, any sampling factors, restart intervals; gray, YCbCr, RGB, CMYK and YCCK colour spaces.
 *
 * The output is meant to match libjpeg's defaults bit for bit (what Pillow produces): the accurate integer
 * inverse DCT ("islow": 13-bit fixed-point constants, two passes with 2 extra bits kept between them,
 * results wrapped into a 10-bit range before clamping), triangular ("fancy") chroma upsampling for 2:1
 * ratios with rounding biases that alternate between neighbouring outputs, box replication for other
 * integer ratios, and YCbCr->RGB in 16-bit fixed point rounded at the half. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

static const uint8_t zigzag[64] = {0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,
                                   12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6,  7,  14, 21, 28,
                                   35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
                                   58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

typedef struct {
  bool present;
  int32_t maxcode[18]; /* -1: no codes of that length */
  int32_t valptr[17], mincode[17];
  uint8_t vals[256];
  int nvals;
} jhuff;

typedef struct {
  int id, h, v, tq;
  int bw, bh;       /* blocks allocated (whole MCUs) */
  int dw, dh;       /* downsampled size in samples */
  int16_t *coef;    /* bw*bh*64, natural order */
  uint8_t *plane;   /* bw*8 x bh*8 after the IDCT */
  int dc_tbl, ac_tbl, pred;
} jcomp;

typedef struct {
  const uint8_t *d;
  size_t n, pos;
  uint32_t bits;
  int nbits;
  bool marker; /* a marker was reached: feed zeros */
  bool eof;    /* the data ended without a marker: `fake` zero bytes were fed */
  size_t fake;
} jbits;

/* True when bits past the end of the data were consumed (a truncated file, which Pillow rejects too). */
static bool overran(const jbits *b) { return b->eof && b->fake * 8 > (size_t)b->nbits; }

typedef struct {
  int width, height, ncomp, hmax, vmax, mcux, mcuy;
  bool progressive;
  uint16_t q[4][64]; /* natural order */
  bool qset[4];
  jhuff dc[4], ac[4];
  jcomp comp[4];
  int restart;
  int adobe, adobe_transform; /* adobe: APP14 seen */
  bool jfif;
  int eobrun;
} jdec;

static const char *build_huff(jhuff *h, const uint8_t *counts, const uint8_t *vals, int nvals) {
  int code = 0, k = 0;
  for (int l = 1; l <= 16; l++) {
    h->valptr[l] = k;
    h->mincode[l] = code;
    code += counts[l - 1];
    k += counts[l - 1];
    h->maxcode[l] = counts[l - 1] ? code - 1 : -1;
    if (code > (1 << l)) return "jpeg: over-subscribed Huffman table";
    code <<= 1;
  }
  h->maxcode[17] = 0x7fffffff;
  memcpy(h->vals, vals, (size_t)nvals);
  h->nvals = nvals;
  h->present = true;
  return NULL;
}

static void fill(jbits *b) {
  while (b->nbits <= 24) {
    uint32_t c = 0;
    if (!b->marker && b->pos < b->n) {
      c = b->d[b->pos];
      if (c == 0xff) {
        uint8_t nx = b->pos + 1 < b->n ? b->d[b->pos + 1] : 0xd9;
        if (nx == 0x00) {
          b->pos += 2;
        } else if (nx == 0xff) { /* fill byte before a marker */
          b->pos++;
          continue;
        } else {
          b->marker = true;
          c = 0;
        }
      } else {
        b->pos++;
      }
    } else {
      if (!b->marker && b->pos >= b->n) b->eof = true;
      b->marker = true; /* zeros from here, as libjpeg does */
      if (b->eof) b->fake++;
    }
    b->bits |= c << (24 - b->nbits);
    b->nbits += 8;
  }
}

static int getbits(jbits *b, int n) {
  if (n == 0) return 0;
  if (b->nbits < n) fill(b);
  int v = (int)(b->bits >> (32 - n));
  b->bits <<= n;
  b->nbits -= n;
  return v;
}

static int extend(int v, int s) { return s && v < (1 << (s - 1)) ? v - (1 << s) + 1 : v; }

static int decode(jbits *b, const jhuff *h) {
  if (b->nbits < 16) fill(b);
  int code = 0;
  for (int l = 1; l <= 16; l++) {
    code = (code << 1) | (int)((b->bits >> 31) & 1);
    b->bits <<= 1;
    b->nbits--;
    if (code <= h->maxcode[l]) {
      int i = h->valptr[l] + code - h->mincode[l];
      return i < h->nvals ? h->vals[i] : -1;
    }
  }
  return -1; /* no such code */
}

/* Decodes one block of scan data into coef (natural order). */
static const char *block(jdec *j, jbits *b, jcomp *c, int16_t *coef, int ss, int se, int ah, int al) {
  const jhuff *dc = &j->dc[c->dc_tbl], *ac = &j->ac[c->ac_tbl];
  if (!j->progressive) {
    int t = decode(b, dc);
    if (t < 0 || t > 16) return "jpeg: bad DC code";
    c->pred += extend(getbits(b, t), t);
    coef[0] = (int16_t)c->pred;
    for (int k = 1; k < 64; k++) {
      int rs = decode(b, ac);
      if (rs < 0) return "jpeg: bad AC code";
      int r = rs >> 4, s = rs & 15;
      if (s) {
        k += r;
        if (k > 63) return "jpeg: AC coefficient index out of range";
        coef[zigzag[k]] = (int16_t)extend(getbits(b, s), s);
      } else {
        if (r != 15) break;
        k += 15;
      }
    }
    return NULL;
  }
  if (ss == 0) { /* DC scans of a progressive frame */
    if (ah == 0) {
      int t = decode(b, dc);
      if (t < 0 || t > 16) return "jpeg: bad DC code";
      c->pred += extend(getbits(b, t), t);
      coef[0] = (int16_t)((unsigned)c->pred << al);
    } else if (getbits(b, 1)) {
      coef[0] = (int16_t)(coef[0] | (1 << al));
    }
    return NULL;
  }
  if (ah == 0) { /* AC first pass */
    if (j->eobrun > 0) {
      j->eobrun--;
      return NULL;
    }
    for (int k = ss; k <= se; k++) {
      int rs = decode(b, ac);
      if (rs < 0) return "jpeg: bad AC code";
      int r = rs >> 4, s = rs & 15;
      if (s) {
        k += r;
        if (k > 63) return "jpeg: AC coefficient index out of range";
        coef[zigzag[k]] = (int16_t)((unsigned)extend(getbits(b, s), s) << al);
      } else {
        if (r < 15) {
          j->eobrun = (1 << r) - 1;
          if (r) j->eobrun += getbits(b, r);
          break;
        }
        k += 15;
      }
    }
    return NULL;
  }
  /* AC refinement: new coefficients are +-1 << al, already nonzero ones may gain the bit */
  int p1 = 1 << al, m1 = -p1, k = ss;
  if (j->eobrun <= 0) {
    for (; k <= se; k++) {
      int rs = decode(b, ac);
      if (rs < 0) return "jpeg: bad AC code";
      int r = rs >> 4, s = rs & 15, val = 0;
      if (s) {
        val = getbits(b, 1) ? p1 : m1;
      } else if (r != 15) {
        j->eobrun = 1 << r;
        if (r) j->eobrun += getbits(b, r);
        break;
      }
      while (k <= se) {
        int16_t *z = &coef[zigzag[k]];
        if (*z) {
          if (getbits(b, 1) && !(*z & p1)) *z = (int16_t)(*z >= 0 ? *z + p1 : *z + m1);
        } else {
          if (--r < 0) break;
        }
        k++;
      }
      if (val && k <= se) coef[zigzag[k]] = (int16_t)val;
    }
  }
  if (j->eobrun > 0) {
    for (; k <= se; k++) {
      int16_t *z = &coef[zigzag[k]];
      if (*z && getbits(b, 1) && !(*z & p1)) *z = (int16_t)(*z >= 0 ? *z + p1 : *z + m1);
    }
    j->eobrun--;
  }
  return NULL;
}

/* Skips to just past the next RSTn marker (restart interval boundary) and resets the entropy state. */
static void restart(jdec *j, jbits *b, jcomp **sc, int ns) {
  b->bits = 0, b->nbits = 0, b->marker = false, b->eof = false, b->fake = 0;
  while (b->pos + 1 < b->n && !(b->d[b->pos] == 0xff && b->d[b->pos + 1] >= 0xd0 && b->d[b->pos + 1] <= 0xd7)) {
    if (b->d[b->pos] == 0xff && b->d[b->pos + 1] != 0 && b->d[b->pos + 1] != 0xff) break; /* another marker */
    b->pos++;
  }
  if (b->pos + 1 < b->n && b->d[b->pos + 1] >= 0xd0 && b->d[b->pos + 1] <= 0xd7) b->pos += 2;
  for (int i = 0; i < ns; i++) sc[i]->pred = 0;
  j->eobrun = 0;
}

static const char *scan(jdec *j, const uint8_t *d, size_t n, size_t *pos) {
  size_t p = *pos;
  if (n - p < 2) return "jpeg: truncated SOS";
  size_t len = (size_t)(d[p] << 8 | d[p + 1]);
  if (len < 6 || len > n - p) return "jpeg: truncated SOS";
  int ns = d[p + 2];
  if (ns < 1 || ns > 4 || len != (size_t)(6 + 2 * ns)) return "jpeg: bad SOS";
  jcomp *sc[4];
  for (int i = 0; i < ns; i++) {
    int id = d[p + 3 + 2 * i], t = d[p + 4 + 2 * i];
    sc[i] = NULL;
    for (int k = 0; k < j->ncomp; k++)
      if (j->comp[k].id == id) sc[i] = &j->comp[k];
    if (!sc[i]) return "jpeg: SOS names an unknown component";
    sc[i]->dc_tbl = t >> 4, sc[i]->ac_tbl = t & 15;
    if (sc[i]->dc_tbl > 3 || sc[i]->ac_tbl > 3) return "jpeg: bad Huffman table selector";
  }
  int ss = d[p + 3 + 2 * ns], se = d[p + 4 + 2 * ns], ah = d[p + 5 + 2 * ns] >> 4, al = d[p + 5 + 2 * ns] & 15;
  if (j->progressive) {
    if (ss > 63 || se > 63 || ss > se || ah > 13 || al > 13 || (ss == 0 && se != 0) || (ss > 0 && ns != 1))
      return "jpeg: bad progressive scan parameters";
  } else {
    ss = 0, se = 63, ah = al = 0;
  }
  for (int i = 0; i < ns; i++) {
    bool need_dc = ss == 0 && ah == 0, need_ac = se > 0 || !j->progressive;
    if (need_dc && !j->dc[sc[i]->dc_tbl].present) return "jpeg: scan uses an undefined DC table";
    if (need_ac && !j->ac[sc[i]->ac_tbl].present) return "jpeg: scan uses an undefined AC table";
    sc[i]->pred = 0;
  }
  j->eobrun = 0;
  jbits b = {.d = d, .n = n, .pos = p + len};
  int units_x, units_y; /* MCUs */
  if (ns == 1) {
    units_x = (sc[0]->dw + 7) / 8, units_y = (sc[0]->dh + 7) / 8;
  } else {
    units_x = j->mcux, units_y = j->mcuy;
  }
  long total = (long)units_x * units_y, done = 0;
  for (int my = 0; my < units_y; my++)
    for (int mx = 0; mx < units_x; mx++) {
      if (j->restart && done > 0 && done % j->restart == 0) {
        if (overran(&b)) return "jpeg: truncated scan data";
        restart(j, &b, sc, ns);
      }
      done++;
      for (int i = 0; i < ns; i++) {
        jcomp *c = sc[i];
        int bh = ns == 1 ? 1 : c->v, bw = ns == 1 ? 1 : c->h;
        for (int by = 0; by < bh; by++)
          for (int bx = 0; bx < bw; bx++) {
            int x = ns == 1 ? mx : mx * c->h + bx, y = ns == 1 ? my : my * c->v + by;
            const char *err = block(j, &b, c, c->coef + ((size_t)y * (size_t)c->bw + (size_t)x) * 64, ss, se, ah, al);
            if (err) return err;
          }
      }
    }
  (void)total;
  if (overran(&b)) return "jpeg: truncated scan data";
  /* continue after the entropy-coded data: the next marker that is not RSTn */
  size_t q = b.pos;
  while (q + 1 < n && !(d[q] == 0xff && d[q + 1] != 0 && d[q + 1] != 0xff && !(d[q + 1] >= 0xd0 && d[q + 1] <= 0xd7))) q++;
  *pos = q;
  return NULL;
}

/* Arithmetic shift right that rounds toward minus infinity on every compiler. */
static inline int64_t asr(int64_t x, int n) { return x >= 0 ? x >> n : ~(~x >> n); }
#define DESCALE(x, n) asr((x) + ((int64_t)1 << ((n)-1)), (n))

/* libjpeg's post-IDCT range limit: the descaled value wraps in 10 bits, then is clamped after +128. */
static inline uint8_t range_limit(int64_t v) {
  int m = (int)(v & 1023);
  if (m >= 512) m -= 1024;
  m += 128;
  return (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : m);
}

static void idct_islow(const int16_t *in, const uint16_t *q, uint8_t *out, size_t stride) {
  enum { CB = 13, P1 = 2 };
  const int64_t F0298 = 2446, F0390 = 3196, F0541 = 4433, F0765 = 6270, F0899 = 7373, F1175 = 9633, F1501 = 12299,
                F1847 = 15137, F1961 = 16069, F2053 = 16819, F2562 = 20995, F3072 = 25172;
  int32_t ws[64];
  for (int c = 0; c < 8; c++) { /* columns */
    const int16_t *x = in + c;
    const uint16_t *qq = q + c;
    int32_t *w = ws + c;
    if (!x[8] && !x[16] && !x[24] && !x[32] && !x[40] && !x[48] && !x[56]) {
      int32_t dc = (int32_t)((int64_t)x[0] * qq[0] * (1 << P1));
      for (int r = 0; r < 8; r++) w[8 * r] = dc;
      continue;
    }
    int64_t z2 = (int64_t)x[16] * qq[16], z3 = (int64_t)x[48] * qq[48];
    int64_t z1 = (z2 + z3) * F0541;
    int64_t tmp2 = z1 - z3 * F1847, tmp3 = z1 + z2 * F0765;
    z2 = (int64_t)x[0] * qq[0], z3 = (int64_t)x[32] * qq[32];
    int64_t tmp0 = (z2 + z3) * (1 << CB), tmp1 = (z2 - z3) * (1 << CB);
    int64_t t10 = tmp0 + tmp3, t13 = tmp0 - tmp3, t11 = tmp1 + tmp2, t12 = tmp1 - tmp2;
    tmp0 = (int64_t)x[56] * qq[56], tmp1 = (int64_t)x[40] * qq[40], tmp2 = (int64_t)x[24] * qq[24],
    tmp3 = (int64_t)x[8] * qq[8];
    z1 = tmp0 + tmp3, z2 = tmp1 + tmp2, z3 = tmp0 + tmp2;
    int64_t z4 = tmp1 + tmp3, z5 = (z3 + z4) * F1175;
    tmp0 *= F0298, tmp1 *= F2053, tmp2 *= F3072, tmp3 *= F1501;
    z1 *= -F0899, z2 *= -F2562, z3 *= -F1961, z4 *= -F0390;
    z3 += z5, z4 += z5;
    tmp0 += z1 + z3, tmp1 += z2 + z4, tmp2 += z2 + z3, tmp3 += z1 + z4;
    w[0] = (int32_t)DESCALE(t10 + tmp3, CB - P1), w[56] = (int32_t)DESCALE(t10 - tmp3, CB - P1);
    w[8] = (int32_t)DESCALE(t11 + tmp2, CB - P1), w[48] = (int32_t)DESCALE(t11 - tmp2, CB - P1);
    w[16] = (int32_t)DESCALE(t12 + tmp1, CB - P1), w[40] = (int32_t)DESCALE(t12 - tmp1, CB - P1);
    w[24] = (int32_t)DESCALE(t13 + tmp0, CB - P1), w[32] = (int32_t)DESCALE(t13 - tmp0, CB - P1);
  }
  for (int r = 0; r < 8; r++) { /* rows */
    const int32_t *w = ws + 8 * r;
    uint8_t *o = out + (size_t)r * stride;
    if (!w[1] && !w[2] && !w[3] && !w[4] && !w[5] && !w[6] && !w[7]) {
      uint8_t v = range_limit(DESCALE((int64_t)w[0], P1 + 3));
      memset(o, v, 8);
      continue;
    }
    int64_t z2 = w[2], z3 = w[6];
    int64_t z1 = (z2 + z3) * F0541;
    int64_t tmp2 = z1 - z3 * F1847, tmp3 = z1 + z2 * F0765;
    int64_t tmp0 = ((int64_t)w[0] + w[4]) * (1 << CB), tmp1 = ((int64_t)w[0] - w[4]) * (1 << CB);
    int64_t t10 = tmp0 + tmp3, t13 = tmp0 - tmp3, t11 = tmp1 + tmp2, t12 = tmp1 - tmp2;
    tmp0 = w[7], tmp1 = w[5], tmp2 = w[3], tmp3 = w[1];
    z1 = tmp0 + tmp3, z2 = tmp1 + tmp2, z3 = tmp0 + tmp2;
    int64_t z4 = tmp1 + tmp3, z5 = (z3 + z4) * F1175;
    tmp0 *= F0298, tmp1 *= F2053, tmp2 *= F3072, tmp3 *= F1501;
    z1 *= -F0899, z2 *= -F2562, z3 *= -F1961, z4 *= -F0390;
    z3 += z5, z4 += z5;
    tmp0 += z1 + z3, tmp1 += z2 + z4, tmp2 += z2 + z3, tmp3 += z1 + z4;
    const int S = CB + P1 + 3;
    o[0] = range_limit(DESCALE(t10 + tmp3, S)), o[7] = range_limit(DESCALE(t10 - tmp3, S));
    o[1] = range_limit(DESCALE(t11 + tmp2, S)), o[6] = range_limit(DESCALE(t11 - tmp2, S));
    o[2] = range_limit(DESCALE(t12 + tmp1, S)), o[5] = range_limit(DESCALE(t12 - tmp1, S));
    o[3] = range_limit(DESCALE(t13 + tmp0, S)), o[4] = range_limit(DESCALE(t13 - tmp0, S));
  }
}

/* Upsamples component c to full resolution (width x height) into `out`. Rows outside the component's
 * real size replicate its edge, as libjpeg's context rows do. */
static void upsample(const jdec *j, const jcomp *c, uint8_t *out) {
  int W = j->width, H = j->height, hs = j->hmax / c->h, vs = j->vmax / c->v;
  size_t ps = (size_t)c->bw * 8; /* plane stride */
  const uint8_t *pl = c->plane;
  int dw = c->dw, dh = c->dh;
  bool fancy_w = dw > 2;
  for (int y = 0; y < H; y++) {
    uint8_t *o = out + (size_t)y * (size_t)W;
    int sy = y / vs;
    const uint8_t *r0 = pl + (size_t)sy * ps;
    if (hs == 1 && vs == 1) {
      memcpy(o, r0, (size_t)W);
    } else if (hs == 2 && vs == 1 && fancy_w) { /* h2v1: 3/4 nearer + 1/4 further, biases 1 and 2 */
      for (int x = 0; x < W; x++) {
        int sx = x / 2, v3 = r0[sx] * 3;
        if (x & 1) o[x] = (uint8_t)(sx == dw - 1 ? r0[sx] : (v3 + r0[sx + 1] + 2) >> 2);
        else o[x] = (uint8_t)(sx == 0 ? r0[sx] : (v3 + r0[sx - 1] + 1) >> 2);
      }
    } else if (hs == 1 && vs == 2) { /* h1v2: vertical triangle, bias 1 above, 2 below */
      int other = (y & 1) ? (sy + 1 < dh ? sy + 1 : dh - 1) : (sy > 0 ? sy - 1 : 0);
      const uint8_t *r1 = pl + (size_t)other * ps;
      int bias = (y & 1) ? 2 : 1;
      for (int x = 0; x < W; x++) o[x] = (uint8_t)((r0[x] * 3 + r1[x] + bias) >> 2);
    } else if (hs == 2 && vs == 2 && fancy_w) { /* h2v2: column sums of 3*near + far, then 3:1 across */
      int other = (y & 1) ? (sy + 1 < dh ? sy + 1 : dh - 1) : (sy > 0 ? sy - 1 : 0);
      const uint8_t *r1 = pl + (size_t)other * ps;
      for (int x = 0; x < W; x++) {
        int sx = x / 2, cs = r0[sx] * 3 + r1[sx];
        if (x & 1) {
          o[x] = (uint8_t)(sx == dw - 1 ? (cs * 4 + 7) >> 4 : (cs * 3 + r0[sx + 1] * 3 + r1[sx + 1] + 7) >> 4);
        } else {
          o[x] = (uint8_t)(sx == 0 ? (cs * 4 + 8) >> 4 : (cs * 3 + r0[sx - 1] * 3 + r1[sx - 1] + 8) >> 4);
        }
      }
    } else { /* box replication */
      for (int x = 0; x < W; x++) o[x] = r0[x / hs];
    }
  }
}

static inline uint8_t clamp8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static const char *finish(jdec *j, oxrt_image *img) {
  int W = j->width, H = j->height;
  size_t np = (size_t)W * (size_t)H;
  uint8_t *full[4] = {0};
  const char *err = NULL;
  for (int i = 0; i < j->ncomp && !err; i++) {
    jcomp *c = &j->comp[i];
    if (!j->qset[c->tq]) {
      err = "jpeg: undefined quantization table";
      break;
    }
    c->plane = malloc((size_t)c->bw * 8 * (size_t)c->bh * 8);
    full[i] = malloc(np);
    if (!c->plane || !full[i]) {
      err = "jpeg: out of memory";
      break;
    }
    for (int by = 0; by < c->bh; by++)
      for (int bx = 0; bx < c->bw; bx++)
        idct_islow(c->coef + ((size_t)by * (size_t)c->bw + (size_t)bx) * 64, j->q[c->tq],
                   c->plane + (size_t)by * 8 * (size_t)c->bw * 8 + (size_t)bx * 8, (size_t)c->bw * 8);
    upsample(j, c, full[i]);
  }
  if (!err) err = oxrt_image_alloc(img, W, H);
  if (!err) {
    /* colour space as libjpeg guesses it */
    int cs; /* 0 gray, 1 YCbCr, 2 RGB, 3 CMYK, 4 YCCK */
    if (j->ncomp == 1) cs = 0;
    else if (j->ncomp == 3) {
      if (j->jfif) cs = 1;
      else if (j->adobe) cs = j->adobe_transform ? 1 : 2;
      else cs = (j->comp[0].id == 'R' && j->comp[1].id == 'G' && j->comp[2].id == 'B') ? 2 : 1;
    } else {
      cs = j->adobe && j->adobe_transform == 2 ? 4 : 3;
    }
    for (size_t p = 0; p < np; p++) {
      uint8_t *o = img->rgb + p * 3;
      if (cs == 0) {
        o[0] = o[1] = o[2] = full[0][p];
        continue;
      }
      int a = full[0][p], b = full[1][p], c = full[2][p];
      if (cs == 2) {
        o[0] = (uint8_t)a, o[1] = (uint8_t)b, o[2] = (uint8_t)c;
        continue;
      }
      if (cs == 1 || cs == 4) { /* YCbCr -> RGB, 16-bit fixed point */
        int cb = b - 128, cr = c - 128;
        int r = a + (int)asr(91881LL * cr + 32768, 16);
        int g = a + (int)asr(-46802LL * cr - 22554LL * cb + 32768, 16);
        int bl = a + (int)asr(116130LL * cb + 32768, 16);
        a = clamp8(r), b = clamp8(g), c = clamp8(bl);
        if (cs == 1) {
          o[0] = (uint8_t)a, o[1] = (uint8_t)b, o[2] = (uint8_t)c;
          continue;
        }
        a = 255 - a, b = 255 - b, c = 255 - c; /* YCCK: the YCC part encodes inverted CMY */
      }
      int k = full[3][p];
      if (j->adobe) { /* Adobe writes CMYK inverted */
        a = 255 - a, b = 255 - b, c = 255 - c, k = 255 - k;
      }
      int nk = 255 - k, cmy[3] = {a, b, c};
      for (int ch = 0; ch < 3; ch++) {
        int t = cmy[ch] * nk + 128;
        o[ch] = clamp8(nk - (((t >> 8) + t) >> 8));
      }
    }
  }
  for (int i = 0; i < 4; i++) free(full[i]);
  return err;
}

const char *oxrt_decode_jpeg(const uint8_t *d, size_t n, oxrt_image *img) {
  if (n < 4 || d[0] != 0xff || d[1] != 0xd8) return "jpeg: missing SOI marker";
  jdec *j = calloc(1, sizeof *j);
  if (!j) return "jpeg: out of memory";
  const char *err = NULL;
  bool have_frame = false, have_scan = false, done = false;
  size_t p = 2;
  while (!err && !done) {
    while (p < n && d[p] != 0xff) p++; /* tolerate garbage between segments */
    while (p < n && d[p] == 0xff) p++;
    if (p >= n) {
      if (!have_scan) err = "jpeg: truncated file (no image data)";
      break; /* a missing EOI after the scans is tolerated */
    }
    int m = d[p++];
    if (m == 0xd9) break;
    if ((m >= 0xd0 && m <= 0xd7) || m == 0x01) continue;
    if (n - p < 2) {
      err = "jpeg: truncated marker segment";
      break;
    }
    size_t len = (size_t)(d[p] << 8 | d[p + 1]);
    if (len < 2 || len > n - p) {
      err = "jpeg: truncated marker segment";
      break;
    }
    const uint8_t *s = d + p + 2;
    size_t sl = len - 2;
    if (m == 0xda) {
      if (!have_frame) {
        err = "jpeg: scan before frame header";
        break;
      }
      err = scan(j, d, n, &p);
      have_scan = true;
      if (!err && !j->progressive && (size_t)p >= n) done = true;
      continue;
    }
    switch (m) {
    case 0xc0: case 0xc1: case 0xc2: {
      if (have_frame) {
        err = "jpeg: more than one frame";
        break;
      }
      if (sl < 6 || s[0] != 8) {
        err = sl < 6 ? "jpeg: bad SOF" : "jpeg: only 8-bit samples are supported";
        break;
      }
      j->progressive = m == 0xc2;
      j->height = s[1] << 8 | s[2], j->width = s[3] << 8 | s[4], j->ncomp = s[5];
      if (j->height == 0 || j->width == 0) {
        err = "jpeg: bad image size (DNL not supported)";
        break;
      }
      if ((j->ncomp != 1 && j->ncomp != 3 && j->ncomp != 4) || sl < 6 + 3 * (size_t)j->ncomp) {
        err = "jpeg: unsupported number of components";
        break;
      }
      j->hmax = j->vmax = 1;
      for (int i = 0; i < j->ncomp; i++) {
        jcomp *c = &j->comp[i];
        c->id = s[6 + 3 * i], c->h = s[7 + 3 * i] >> 4, c->v = s[7 + 3 * i] & 15, c->tq = s[8 + 3 * i];
        if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) err = "jpeg: bad component parameters";
        if (c->h > j->hmax) j->hmax = c->h;
        if (c->v > j->vmax) j->vmax = c->v;
      }
      if (err) break;
      j->mcux = (j->width + 8 * j->hmax - 1) / (8 * j->hmax);
      j->mcuy = (j->height + 8 * j->vmax - 1) / (8 * j->vmax);
      if ((size_t)j->width * (size_t)j->height > OXRT_IMAGE_MAX_PIXELS) {
        err = "jpeg: image too large";
        break;
      }
      for (int i = 0; i < j->ncomp && !err; i++) {
        jcomp *c = &j->comp[i];
        if (j->hmax % c->h || j->vmax % c->v) err = "jpeg: unsupported (fractional) sampling factors";
        c->bw = j->mcux * c->h, c->bh = j->mcuy * c->v;
        c->dw = (int)(((int64_t)j->width * c->h + j->hmax - 1) / j->hmax);
        c->dh = (int)(((int64_t)j->height * c->v + j->vmax - 1) / j->vmax);
        c->coef = calloc((size_t)c->bw * (size_t)c->bh, 64 * sizeof(int16_t));
        if (!c->coef && !err) err = "jpeg: out of memory";
      }
      have_frame = true;
      break;
    }
    case 0xc3: case 0xc5: case 0xc6: case 0xc7: case 0xc9: case 0xca: case 0xcb: case 0xcd: case 0xce: case 0xcf:
      err = "jpeg: lossless, hierarchical and arithmetic-coded JPEG are not supported";
      break;
    case 0xc4: { /* DHT */
      size_t i = 0;
      while (!err && i < sl) {
        if (sl - i < 17) {
          err = "jpeg: truncated DHT";
          break;
        }
        int tc = s[i] >> 4, th = s[i] & 15, total = 0;
        for (int k = 0; k < 16; k++) total += s[i + 1 + k];
        if (tc > 1 || th > 3 || total > 256 || sl - i - 17 < (size_t)total) {
          err = "jpeg: bad DHT";
          break;
        }
        err = build_huff(tc ? &j->ac[th] : &j->dc[th], s + i + 1, s + i + 17, total);
        i += 17 + (size_t)total;
      }
      break;
    }
    case 0xdb: { /* DQT */
      size_t i = 0;
      while (!err && i < sl) {
        int pq = s[i] >> 4, tq = s[i] & 15;
        size_t need = 1 + 64 * (size_t)(pq ? 2 : 1);
        if (pq > 1 || tq > 3 || sl - i < need) {
          err = "jpeg: bad DQT";
          break;
        }
        for (int k = 0; k < 64; k++)
          j->q[tq][zigzag[k]] = (uint16_t)(pq ? (s[i + 1 + 2 * k] << 8 | s[i + 2 + 2 * k]) : s[i + 1 + k]);
        j->qset[tq] = true;
        i += need;
      }
      break;
    }
    case 0xdd: /* DRI */
      if (sl < 2) err = "jpeg: bad DRI";
      else j->restart = s[0] << 8 | s[1];
      break;
    case 0xe0:
      if (sl >= 5 && !memcmp(s, "JFIF", 5)) j->jfif = true;
      break;
    case 0xee:
      if (sl >= 12 && !memcmp(s, "Adobe", 5)) j->adobe = 1, j->adobe_transform = s[11];
      break;
    default:
      break; /* APPn, COM and others are skipped */
    }
    p += len;
  }
  if (!err && !have_scan) err = "jpeg: no image data";
  if (!err) err = finish(j, img);
  for (int i = 0; i < 4; i++) {
    free(j->comp[i].coef);
    free(j->comp[i].plane);
  }
  free(j);
  if (err && img->rgb) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}
