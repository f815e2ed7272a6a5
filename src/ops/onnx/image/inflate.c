/* inflate.c - DEFLATE (RFC 1951) and zlib (RFC 1950) decoder for PNG and TIFF.
 *
 * Huffman codes are canonical: a 10-bit lookup table answers the short codes in one step, longer codes
 * are walked bit by bit from the per-length counts. Every read is bounds-checked; a truncated or corrupt
 * stream returns an error. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

#define MAXBITS 15
#define FASTBITS 10

typedef struct {
  const uint8_t *p;
  size_t n, pos; /* byte position */
  uint32_t bitbuf;
  int bitcnt;
  bool overrun;
  uint8_t *out;
  size_t out_n, out_cap, max_out;
} inf_state;

typedef struct {
  uint16_t count[MAXBITS + 1];
  uint16_t symbol[288];
  uint16_t fast[1 << FASTBITS]; /* (symbol << 4) | length, 0 when the code is longer than FASTBITS */
} huff;

static uint32_t getbits(inf_state *s, int need) {
  while (s->bitcnt < need) {
    uint32_t b = 0;
    if (s->pos < s->n)
      b = s->p[s->pos++];
    else
      s->overrun = true; /* keep going with zeros; the caller checks overrun */
    s->bitbuf |= b << s->bitcnt;
    s->bitcnt += 8;
  }
  uint32_t v = s->bitbuf & ((1u << need) - 1);
  s->bitbuf >>= need;
  s->bitcnt -= need;
  return v;
}

static uint32_t reverse(uint32_t v, int len) {
  uint32_t r = 0;
  for (int i = 0; i < len; i++) r = (r << 1) | ((v >> i) & 1);
  return r;
}

/* Builds the code from code lengths; returns -1 if over-subscribed. Incomplete codes are allowed (a
 * single distance code is legal); decoding a missing code is an error. */
static int build(huff *h, const uint8_t *lens, int n) {
  memset(h->count, 0, sizeof h->count);
  for (int i = 0; i < n; i++) h->count[lens[i]]++;
  h->count[0] = 0;
  int left = 1;
  for (int len = 1; len <= MAXBITS; len++) {
    left = (left << 1) - h->count[len];
    if (left < 0) return -1;
  }
  uint16_t offs[MAXBITS + 2];
  offs[1] = 0;
  for (int len = 1; len <= MAXBITS; len++) offs[len + 1] = (uint16_t)(offs[len] + h->count[len]);
  for (int i = 0; i < n; i++)
    if (lens[i]) h->symbol[offs[lens[i]]++] = (uint16_t)i;
  /* fast table: walk codes in canonical order */
  memset(h->fast, 0, sizeof h->fast);
  uint32_t code = 0;
  int idx = 0;
  for (int len = 1; len <= FASTBITS; len++) {
    for (int k = 0; k < h->count[len]; k++, idx++, code++) {
      uint32_t r = reverse(code, len);
      for (uint32_t f = r; f < (1u << FASTBITS); f += 1u << len) h->fast[f] = (uint16_t)((h->symbol[idx] << 4) | len);
    }
    code <<= 1;
  }
  return 0;
}

static int decode(inf_state *s, const huff *h) {
  if (s->bitcnt < FASTBITS) {
    /* top up without consuming */
    while (s->bitcnt <= 24 && s->pos < s->n) {
      s->bitbuf |= (uint32_t)s->p[s->pos++] << s->bitcnt;
      s->bitcnt += 8;
    }
  }
  if (s->bitcnt >= FASTBITS) {
    uint16_t e = h->fast[s->bitbuf & ((1u << FASTBITS) - 1)];
    if (e) {
      int len = e & 15;
      s->bitbuf >>= len;
      s->bitcnt -= len;
      return e >> 4;
    }
  }
  /* slow canonical walk (long codes, or near the end of input) */
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= MAXBITS; len++) {
    code |= (int)getbits(s, 1);
    if (s->overrun) return -1;
    int count = h->count[len];
    if (code - count < first) return h->symbol[index + (code - first)];
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  return -1;
}

static bool put(inf_state *s, uint8_t b) {
  if (s->out_n == s->out_cap) {
    if (s->out_cap >= s->max_out) return false;
    size_t cap = s->out_cap ? s->out_cap * 2 : 4096;
    if (cap > s->max_out) cap = s->max_out;
    uint8_t *o = realloc(s->out, cap);
    if (!o) return false;
    s->out = o;
    s->out_cap = cap;
  }
  s->out[s->out_n++] = b;
  return true;
}

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static const char *codes(inf_state *s, const huff *lit, const huff *dist) {
  for (;;) {
    int sym = decode(s, lit);
    if (sym < 0 || s->overrun) return "deflate: bad or truncated literal/length code";
    if (sym < 256) {
      if (!put(s, (uint8_t)sym)) return "deflate: output larger than expected";
    } else if (sym == 256) {
      return NULL;
    } else {
      sym -= 257;
      if (sym >= 29) return "deflate: invalid length symbol";
      int len = len_base[sym] + (int)getbits(s, len_extra[sym]);
      int ds = decode(s, dist);
      if (ds < 0 || ds >= 30 || s->overrun) return "deflate: bad distance code";
      size_t d = dist_base[ds] + getbits(s, dist_extra[ds]);
      if (s->overrun) return "deflate: truncated stream";
      if (d > s->out_n) return "deflate: distance too far back";
      for (int i = 0; i < len; i++)
        if (!put(s, s->out[s->out_n - d])) return "deflate: output larger than expected";
    }
  }
}

static const char *fixed_block(inf_state *s) {
  huff lit, dist; /* rebuilt per block: cheap, and keeps the decoder free of shared state */
  {
    uint8_t l[288];
    int i = 0;
    for (; i < 144; i++) l[i] = 8;
    for (; i < 256; i++) l[i] = 9;
    for (; i < 280; i++) l[i] = 7;
    for (; i < 288; i++) l[i] = 8;
    build(&lit, l, 288);
    for (i = 0; i < 30; i++) l[i] = 5;
    build(&dist, l, 30);
  }
  return codes(s, &lit, &dist);
}

static const char *dynamic_block(inf_state *s) {
  static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
  int nlen = (int)getbits(s, 5) + 257, ndist = (int)getbits(s, 5) + 1, ncode = (int)getbits(s, 4) + 4;
  if (nlen > 286 || ndist > 30) return "deflate: bad dynamic block counts";
  uint8_t lens[320];
  memset(lens, 0, sizeof lens);
  for (int i = 0; i < ncode; i++) lens[order[i]] = (uint8_t)getbits(s, 3);
  if (s->overrun) return "deflate: truncated stream";
  huff lc, lit, dist;
  if (build(&lc, lens, 19)) return "deflate: bad code length code";
  int idx = 0;
  while (idx < nlen + ndist) {
    int sym = decode(s, &lc);
    if (sym < 0 || s->overrun) return "deflate: bad code length";
    if (sym < 16) {
      lens[idx++] = (uint8_t)sym;
      continue;
    }
    int rep;
    uint8_t v = 0;
    if (sym == 16) {
      if (idx == 0) return "deflate: repeat with no previous length";
      v = lens[idx - 1];
      rep = 3 + (int)getbits(s, 2);
    } else if (sym == 17) {
      rep = 3 + (int)getbits(s, 3);
    } else {
      rep = 11 + (int)getbits(s, 7);
    }
    if (idx + rep > nlen + ndist) return "deflate: too many code lengths";
    while (rep--) lens[idx++] = v;
  }
  if (lens[256] == 0) return "deflate: no end-of-block code";
  if (build(&lit, lens, nlen) || build(&dist, lens + nlen, ndist)) return "deflate: over-subscribed code";
  return codes(s, &lit, &dist);
}

const char *oxrt_inflate(const uint8_t *src, size_t n, bool zlib, size_t max_out, uint8_t **out, size_t *out_n) {
  inf_state s = {.p = src, .n = n, .max_out = max_out};
  *out = NULL;
  *out_n = 0;
  const char *err = NULL;
  if (zlib) {
    if (n < 2 || (src[0] & 15) != 8 || ((src[0] << 8) | src[1]) % 31 != 0) return "zlib: bad header";
    if (src[1] & 0x20) return "zlib: preset dictionary not supported";
    s.pos = 2;
  }
  int last = 0;
  while (!last && !err) {
    last = (int)getbits(&s, 1);
    int type = (int)getbits(&s, 2);
    if (s.overrun) {
      err = "deflate: truncated stream";
    } else if (type == 0) {
      s.bitbuf = 0; /* stored: skip to the byte boundary (buffered whole bytes are given back) */
      s.pos -= (size_t)(s.bitcnt / 8);
      s.bitcnt = 0;
      if (s.n - s.pos < 4) {
        err = "deflate: truncated stored block";
        break;
      }
      unsigned len = s.p[s.pos] | (s.p[s.pos + 1] << 8), nlen = s.p[s.pos + 2] | (s.p[s.pos + 3] << 8);
      s.pos += 4;
      if (len != (~nlen & 0xffff)) err = "deflate: stored block length mismatch";
      else if (s.n - s.pos < len) err = "deflate: truncated stored block";
      for (unsigned i = 0; !err && i < len; i++)
        if (!put(&s, s.p[s.pos + i])) err = "deflate: output larger than expected";
      s.pos += len;
    } else if (type == 1) {
      err = fixed_block(&s);
    } else if (type == 2) {
      err = dynamic_block(&s);
    } else {
      err = "deflate: invalid block type";
    }
  }
  if (!err && zlib) { /* Adler-32 of the output follows the stream, big-endian */
    s.pos -= (size_t)(s.bitcnt / 8);
    if (s.n - s.pos >= 4) {
      uint32_t a = 1, b = 0;
      for (size_t i = 0; i < s.out_n; i++) {
        a = (a + s.out[i]) % 65521;
        b = (b + a) % 65521;
      }
      const uint8_t *q = s.p + s.pos;
      uint32_t want = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | q[3];
      if (want != ((b << 16) | a)) err = "zlib: Adler-32 mismatch";
    }
  }
  if (err) {
    free(s.out);
    return err;
  }
  *out = s.out ? s.out : malloc(1);
  if (!*out) return "deflate: out of memory";
  *out_n = s.out_n;
  return NULL;
}
