/* bmp.c - Windows/OS2 bitmap decoder: 1/4/8-bit palette (uncompressed, RLE4, RLE8), 16/24/32-bit direct
 * colour (BI_RGB and BI_BITFIELDS), bottom-up or top-down rows. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (rd16(p + 2) << 16); }

/* Extracts the field `mask` of v scaled to 8 bits by bit replication (5 bits: v<<3 | v>>2). */
static uint8_t field(uint32_t v, uint32_t mask) {
  if (!mask) return 0;
  int shift = 0, bits = 0;
  while (!((mask >> shift) & 1)) shift++;
  while (shift + bits < 32 && ((mask >> (shift + bits)) & 1)) bits++;
  uint32_t x = (v & mask) >> shift;
  if (bits >= 8) return (uint8_t)(x >> (bits - 8));
  uint32_t r = 0;
  int have = 0;
  while (have < 8) {
    r = (r << bits) | x;
    have += bits;
  }
  return (uint8_t)(r >> (have - 8));
}

const char *oxrt_decode_bmp(const uint8_t *d, size_t n, oxrt_image *img) {
  if (n < 26 || d[0] != 'B' || d[1] != 'M') return "bmp: not a BMP file";
  uint32_t off = rd32(d + 10), hsize = rd32(d + 14);
  if (hsize < 12 || 14 + (size_t)hsize > n) return "bmp: truncated header";
  int64_t w, h;
  int bpp, comp = 0, ncolors = 0, palent = 4;
  const uint8_t *hd = d + 14;
  if (hsize == 12) { /* OS/2 BITMAPCOREHEADER */
    w = rd16(hd + 4);
    h = (int16_t)rd16(hd + 6);
    bpp = (int)rd16(hd + 10);
    palent = 3;
  } else {
    if (hsize < 40 && hsize != 16 && hsize != 64) return "bmp: unsupported header size";
    w = (int32_t)rd32(hd + 4);
    h = (int32_t)rd32(hd + 8);
    bpp = (int)rd16(hd + 14);
    if (hsize >= 20) comp = (int)rd32(hd + 16);
    if (hsize >= 36) ncolors = (int)rd32(hd + 32);
  }
  bool topdown = h < 0;
  if (topdown) h = -h;
  if (w <= 0 || h <= 0) return "bmp: bad dimensions";
  uint32_t masks[3] = {0x00ff0000u, 0x0000ff00u, 0x000000ffu};
  if (bpp == 16) masks[0] = 0x7c00, masks[1] = 0x03e0, masks[2] = 0x001f;
  if (comp == 3 || comp == 6) { /* BI_BITFIELDS: masks after a 40-byte header, or inside V4/V5 */
    if (14 + 40 + 12 > (size_t)n) return "bmp: truncated bit masks";
    for (int i = 0; i < 3; i++) masks[i] = rd32(d + 14 + 40 + 4 * i);
    if (bpp != 16 && bpp != 32) return "bmp: bit fields need 16 or 32 bits per pixel";
  } else if (comp == 1 && bpp != 8) {
    return "bmp: RLE8 needs 8 bits per pixel";
  } else if (comp == 2 && bpp != 4) {
    return "bmp: RLE4 needs 4 bits per pixel";
  } else if (comp != 0 && comp != 1 && comp != 2) {
    return "bmp: unsupported compression (JPEG/PNG inside BMP)";
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return "bmp: unsupported bit depth";

  uint8_t pal[256][3];
  memset(pal, 0, sizeof pal);
  if (bpp <= 8) {
    int maxc = 1 << bpp;
    if (ncolors <= 0 || ncolors > maxc) ncolors = maxc;
    size_t po = 14 + (size_t)hsize + ((comp == 3 && hsize == 40) ? 12 : 0);
    for (int i = 0; i < ncolors; i++) {
      if (po + (size_t)(i + 1) * (size_t)palent > n) break; /* short palette: remaining entries black */
      const uint8_t *e = d + po + (size_t)i * (size_t)palent;
      pal[i][0] = e[2], pal[i][1] = e[1], pal[i][2] = e[0];
    }
  }
  if (off >= n) return "bmp: pixel data offset beyond the file";
  const char *err = oxrt_image_alloc(img, w, h);
  if (err) return err;
  const uint8_t *px = d + off;
  size_t avail = n - off;

  if (comp == 1 || comp == 2) { /* RLE: unfilled pixels stay palette index 0 */
    uint8_t *idx = calloc((size_t)w * (size_t)h, 1);
    if (!idx) {
      free(img->rgb);
      img->rgb = NULL;
      return "bmp: out of memory";
    }
    int64_t x = 0, y = 0;
    size_t i = 0;
    bool done = false;
    while (!done && i + 1 < avail) {
      int a = px[i], b = px[i + 1];
      i += 2;
      if (a) { /* run of `a` pixels */
        for (int k = 0; k < a; k++, x++)
          if (x < w && y < h) idx[y * w + x] = (uint8_t)(comp == 1 ? b : (k & 1 ? b & 15 : b >> 4));
      } else if (b == 0) {
        x = 0, y++;
      } else if (b == 1) {
        done = true;
      } else if (b == 2) {
        if (i + 1 >= avail) break;
        x += px[i], y += px[i + 1];
        i += 2;
      } else { /* absolute run of b pixels, padded to 16 bits */
        size_t nb = comp == 1 ? (size_t)b : ((size_t)b + 1) / 2;
        if (i + nb > avail) break;
        for (int k = 0; k < b; k++, x++)
          if (x < w && y < h) idx[y * w + x] = (uint8_t)(comp == 1 ? px[i + k] : (k & 1 ? px[i + k / 2] & 15 : px[i + k / 2] >> 4));
        i += (nb + 1) & ~(size_t)1;
      }
      if (y >= h) done = true;
    }
    for (int64_t r = 0; r < h; r++) {
      uint8_t *o = img->rgb + (size_t)(topdown ? r : h - 1 - r) * (size_t)w * 3;
      for (int64_t c = 0; c < w; c++) memcpy(o + c * 3, pal[idx[r * w + c]], 3);
    }
    free(idx);
    return NULL;
  }

  size_t stride = (((size_t)w * (size_t)bpp + 31) / 32) * 4;
  if (stride * (size_t)h > avail) {
    free(img->rgb);
    img->rgb = NULL;
    return "bmp: truncated pixel data";
  }
  for (int64_t r = 0; r < h; r++) {
    const uint8_t *s = px + (size_t)r * stride;
    uint8_t *o = img->rgb + (size_t)(topdown ? r : h - 1 - r) * (size_t)w * 3;
    for (int64_t c = 0; c < w; c++, o += 3) {
      if (bpp <= 8) {
        int per = 8 / bpp;
        int v = (s[c / per] >> (8 - bpp * (int)(c % per + 1))) & ((1 << bpp) - 1);
        memcpy(o, pal[v], 3);
      } else if (bpp == 24) {
        o[0] = s[c * 3 + 2], o[1] = s[c * 3 + 1], o[2] = s[c * 3];
      } else {
        uint32_t v = bpp == 16 ? rd16(s + c * 2) : rd32(s + c * 4);
        for (int k = 0; k < 3; k++) o[k] = field(v, masks[k]);
      }
    }
  }
  return NULL;
}
