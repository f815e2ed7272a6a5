/* pnm.c - Netpbm decoder: P1/P4 (bitmap, 1 = black), P2/P5 (graymap), P3/P6 (pixmap), ASCII or binary,
 * any maxval up to 65535 (scaled to 8 bits with rounding). */
#include "image_codecs.h"
#include <stdlib.h>

typedef struct {
  const uint8_t *d;
  size_t n, i;
} pnm_rd;

static bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Next decimal number, skipping whitespace and # comments; -1 on error. */
static int64_t number(pnm_rd *r) {
  for (;;) {
    while (r->i < r->n && is_space(r->d[r->i])) r->i++;
    if (r->i < r->n && r->d[r->i] == '#') {
      while (r->i < r->n && r->d[r->i] != '\n' && r->d[r->i] != '\r') r->i++;
      continue;
    }
    break;
  }
  if (r->i >= r->n || r->d[r->i] < '0' || r->d[r->i] > '9') return -1;
  int64_t v = 0;
  while (r->i < r->n && r->d[r->i] >= '0' && r->d[r->i] <= '9') {
    v = v * 10 + (r->d[r->i++] - '0');
    if (v > (1 << 30)) return -1;
  }
  return v;
}

const char *oxrt_decode_pnm(const uint8_t *d, size_t n, oxrt_image *img) {
  if (n < 3 || d[0] != 'P' || d[1] < '1' || d[1] > '6') return "pnm: not a P1-P6 file";
  int kind = d[1] - '0';
  pnm_rd r = {d, n, 2};
  int64_t w = number(&r), h = number(&r), maxval = 1;
  if (kind != 1 && kind != 4) maxval = number(&r);
  if (w <= 0 || h <= 0 || maxval <= 0 || maxval > 65535) return "pnm: bad header";
  bool binary = kind >= 4;
  if (binary) {
    if (r.i >= n || !is_space(d[r.i])) return "pnm: bad header";
    r.i++; /* exactly one whitespace byte before the raster */
  }
  const char *err = oxrt_image_alloc(img, w, h);
  if (err) return err;
  int ch = (kind == 3 || kind == 6) ? 3 : 1;
  size_t npx = (size_t)w * (size_t)h;
  int bps = maxval > 255 ? 2 : 1;
  if (kind == 4) {
    size_t stride = ((size_t)w + 7) / 8;
    if (n - r.i < stride * (size_t)h) err = "pnm: truncated raster";
    for (int64_t y = 0; !err && y < h; y++)
      for (int64_t x = 0; x < w; x++) {
        uint8_t v = (d[r.i + (size_t)y * stride + (size_t)x / 8] >> (7 - x % 8)) & 1 ? 0 : 255;
        uint8_t *o = img->rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
        o[0] = o[1] = o[2] = v;
      }
  } else if (binary && n - r.i < npx * (size_t)ch * (size_t)bps) {
    err = "pnm: truncated raster";
  } else {
    for (size_t p = 0; !err && p < npx; p++) {
      uint8_t s[3];
      for (int c = 0; c < ch; c++) {
        int64_t v;
        if (!binary) {
          if (kind == 1) { /* P1 digits need no separators */
            while (r.i < n && (is_space(d[r.i]) || d[r.i] == '#')) {
              if (d[r.i] == '#')
                while (r.i < n && d[r.i] != '\n') r.i++;
              else
                r.i++;
            }
            v = r.i < n && (d[r.i] == '0' || d[r.i] == '1') ? d[r.i++] - '0' : -1;
          } else {
            v = number(&r);
          }
          if (v < 0) {
            err = "pnm: bad or truncated ASCII raster";
            break;
          }
        } else if (bps == 2) {
          v = (d[r.i] << 8) | d[r.i + 1];
          r.i += 2;
        } else {
          v = d[r.i++];
        }
        if (kind == 1) v = v ? 0 : 255;
        else {
          if (v > maxval) v = maxval;
          v = maxval == 255 ? v : (v * 255 + maxval / 2) / maxval;
        }
        s[c] = (uint8_t)v;
      }
      uint8_t *o = img->rgb + p * 3;
      if (ch == 3) o[0] = s[0], o[1] = s[1], o[2] = s[2];
      else o[0] = o[1] = o[2] = s[0];
    }
  }
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}
