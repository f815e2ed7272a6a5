/* png.c - PNG decoder: all colour types (gray, RGB, palette, gray+alpha, RGBA) and bit depths, Adam7
 * interlacing, the five scanline filters, CRC-checked chunks. Alpha is dropped, 16-bit samples keep their
 * high byte and low-depth gray is scaled to 0..255, as Pillow does when it converts to RGB. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
  }
  return ~c;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
}

/* Reverses the filters of one (sub)image of rows x rowbytes held in `src` (each row prefixed by its
 * filter byte) in place; bpp = bytes per complete pixel (at least 1). */
static const char *unfilter(uint8_t *src, size_t rows, size_t rowbytes, size_t bpp) {
  uint8_t *prev = NULL;
  for (size_t y = 0; y < rows; y++) {
    uint8_t *row = src + y * (rowbytes + 1);
    int f = row[0];
    uint8_t *x = row + 1;
    for (size_t i = 0; i < rowbytes; i++) {
      int a = i >= bpp ? x[i - bpp] : 0, b = prev ? prev[i] : 0, c = (prev && i >= bpp) ? prev[i - bpp] : 0;
      switch (f) {
      case 0: break;
      case 1: x[i] = (uint8_t)(x[i] + a); break;
      case 2: x[i] = (uint8_t)(x[i] + b); break;
      case 3: x[i] = (uint8_t)(x[i] + ((a + b) >> 1)); break;
      case 4: x[i] = (uint8_t)(x[i] + paeth(a, b, c)); break;
      default: return "png: invalid filter type";
      }
    }
    prev = x;
  }
  return NULL;
}

typedef struct {
  int depth, ctype, channels;
  uint8_t pal[256][3];
  int npal;
} png_info;

/* Sample `s` (channel index within the pixel) of pixel x in an unfiltered row, as 8 bits. */
static int sample(const png_info *pi, const uint8_t *row, size_t x, int s) {
  int d = pi->depth;
  if (d == 8) return row[x * (size_t)pi->channels + (size_t)s];
  if (d == 16) return row[(x * (size_t)pi->channels + (size_t)s) * 2];
  size_t bit = x * (size_t)d; /* sub-byte depths have one channel */
  return (row[bit / 8] >> (8 - d - (int)(bit % 8))) & ((1 << d) - 1);
}

static void put_pixel(const png_info *pi, const uint8_t *row, size_t x, uint8_t *o) {
  if (pi->ctype == 3) {
    int v = sample(pi, row, x, 0);
    if (v < pi->npal) memcpy(o, pi->pal[v], 3);
    else o[0] = o[1] = o[2] = 0; /* out-of-palette index: black */
  } else if (pi->ctype == 0 || pi->ctype == 4) {
    int v = sample(pi, row, x, 0);
    if (pi->depth < 8) v = v * 255 / ((1 << pi->depth) - 1);
    o[0] = o[1] = o[2] = (uint8_t)v;
  } else {
    for (int c = 0; c < 3; c++) o[c] = (uint8_t)sample(pi, row, x, c);
  }
}

const char *oxrt_decode_png(const uint8_t *d, size_t n, oxrt_image *img) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n < 8 || memcmp(d, sig, 8) != 0) return "png: bad signature";
  png_info pi;
  memset(&pi, 0, sizeof pi);
  int64_t w = 0, h = 0;
  int interlace = 0;
  bool have_ihdr = false, have_iend = false;
  uint8_t *z = NULL;
  size_t zn = 0, zcap = 0;
  const char *err = NULL;
  size_t i = 8;
  while (!err && !have_iend) {
    if (n - i < 12) {
      err = "png: truncated chunk";
      break;
    }
    uint32_t len = be32(d + i);
    const uint8_t *type = d + i + 4, *body = d + i + 8;
    if (len > n - i - 12) {
      err = "png: truncated chunk";
      break;
    }
    if (crc32_of(type, (size_t)len + 4) != be32(body + len)) {
      err = "png: chunk CRC mismatch";
      break;
    }
    if (!memcmp(type, "IHDR", 4)) {
      if (len != 13 || have_ihdr) {
        err = "png: bad IHDR";
        break;
      }
      w = be32(body), h = be32(body + 4);
      pi.depth = body[8], pi.ctype = body[9], interlace = body[12];
      static const int chans[7] = {1, 0, 3, 1, 2, 0, 4};
      if (pi.ctype > 6 || !chans[pi.ctype]) err = "png: bad colour type";
      else pi.channels = chans[pi.ctype];
      int dp = pi.depth;
      bool ok = (pi.ctype == 0 && (dp == 1 || dp == 2 || dp == 4 || dp == 8 || dp == 16)) ||
                (pi.ctype == 3 && (dp == 1 || dp == 2 || dp == 4 || dp == 8)) ||
                ((pi.ctype == 2 || pi.ctype == 4 || pi.ctype == 6) && (dp == 8 || dp == 16));
      if (!err && !ok) err = "png: bad bit depth for the colour type";
      if (!err && (body[10] != 0 || body[11] != 0 || interlace > 1)) err = "png: bad compression/filter/interlace";
      if (!err && (w <= 0 || h <= 0 || w > (1 << 30) || h > (1 << 30))) err = "png: bad dimensions";
      have_ihdr = true;
    } else if (!have_ihdr) {
      err = "png: first chunk is not IHDR";
    } else if (!memcmp(type, "PLTE", 4)) {
      if (len % 3 || len > 768) err = "png: bad PLTE";
      pi.npal = (int)len / 3;
      for (int k = 0; k < pi.npal; k++) memcpy(pi.pal[k], body + 3 * k, 3);
    } else if (!memcmp(type, "IDAT", 4)) {
      if (zn + len > zcap) {
        size_t cap = zcap ? zcap : 4096;
        while (cap < zn + len) cap *= 2;
        uint8_t *nz = realloc(z, cap);
        if (!nz) {
          err = "png: out of memory";
          break;
        }
        z = nz, zcap = cap;
      }
      memcpy(z + zn, body, len);
      zn += len;
    } else if (!memcmp(type, "IEND", 4)) {
      have_iend = true;
    } else if (!(type[0] & 0x20)) {
      err = "png: unknown critical chunk";
    }
    i += (size_t)len + 12;
  }
  if (!err && !zn) err = "png: no image data";
  if (!err && pi.ctype == 3 && !pi.npal) err = "png: palette image without PLTE";
  if (err) {
    free(z);
    return err;
  }
  if ((err = oxrt_image_alloc(img, w, h))) {
    free(z);
    return err;
  }

  /* Adam7 passes (or one pass): origin and step in x and y */
  static const int a7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
  static const int one[1][4] = {{0, 0, 1, 1}};
  const int(*passes)[4] = interlace ? a7 : one;
  int npass = interlace ? 7 : 1;
  size_t bits = (size_t)pi.depth * (size_t)pi.channels, bpp = bits >= 8 ? bits / 8 : 1;
  size_t need = 0;
  for (int p = 0; p < npass; p++) {
    size_t pw = ((size_t)w + (size_t)(passes[p][2] - passes[p][0] - 1)) / (size_t)passes[p][2];
    size_t ph = ((size_t)h + (size_t)(passes[p][3] - passes[p][1] - 1)) / (size_t)passes[p][3];
    if (pw && ph) need += ph * ((pw * bits + 7) / 8 + 1);
  }
  uint8_t *raw = NULL;
  size_t rn = 0;
  err = oxrt_inflate(z, zn, true, need, &raw, &rn);
  free(z);
  if (!err && rn < need) err = "png: image data too short";
  size_t at = 0;
  for (int p = 0; !err && p < npass; p++) {
    size_t pw = ((size_t)w + (size_t)(passes[p][2] - passes[p][0] - 1)) / (size_t)passes[p][2];
    size_t ph = ((size_t)h + (size_t)(passes[p][3] - passes[p][1] - 1)) / (size_t)passes[p][3];
    if (!pw || !ph) continue;
    size_t rb = (pw * bits + 7) / 8;
    if ((err = unfilter(raw + at, ph, rb, bpp))) break;
    for (size_t y = 0; y < ph; y++) {
      const uint8_t *row = raw + at + y * (rb + 1) + 1;
      size_t oy = (size_t)passes[p][1] + y * (size_t)passes[p][3];
      for (size_t x = 0; x < pw; x++) {
        size_t ox = (size_t)passes[p][0] + x * (size_t)passes[p][2];
        put_pixel(&pi, row, x, img->rgb + (oy * (size_t)w + ox) * 3);
      }
    }
    at += ph * (rb + 1);
  }
  free(raw);
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}
