/* tiff.c - baseline TIFF decoder for the first image: strips, chunky or planar, 8/16-bit RGB(A), 1/2/4/8/16
 * bit gray (min-is-white or -black), 1/2/4/8-bit palette; compression none, LZW, Deflate or PackBits, with
 * the horizontal-difference predictor for 8- and 16-bit samples. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
  const uint8_t *d;
  size_t n;
  bool be;
} tif;

static uint32_t u16(const tif *t, size_t o) {
  if (o + 2 > t->n) return 0;
  const uint8_t *p = t->d + o;
  return t->be ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}
static uint32_t u32(const tif *t, size_t o) {
  if (o + 4 > t->n) return 0;
  return t->be ? (u16(t, o) << 16) | u16(t, o + 2) : u16(t, o) | (u16(t, o + 2) << 16);
}

/* An IFD entry's values: count and where they live; element i read as an integer. */
typedef struct {
  uint32_t type, count;
  size_t off; /* byte offset of the values */
  bool present;
} tag;

static uint32_t tag_val(const tif *t, const tag *g, uint32_t i) {
  if (!g->present || i >= g->count) return 0;
  if (g->type == 3) return u16(t, g->off + (size_t)i * 2);
  if (g->type == 4) return u32(t, g->off + (size_t)i * 4);
  if (g->type == 1) return g->off + i < t->n ? t->d[g->off + i] : 0;
  return 0;
}

/* TIFF LZW (MSB-first codes, early change). */
static const char *lzw(const uint8_t *s, size_t n, uint8_t *out, size_t cap, size_t *got) {
  enum { MAXC = 4096 };
  static const int clear = 256, eoi = 257;
  uint16_t prefix[MAXC];
  uint8_t suffix[MAXC], first[MAXC];
  uint16_t len[MAXC];
  for (int i = 0; i < 256; i++) prefix[i] = 0xffff, suffix[i] = first[i] = (uint8_t)i, len[i] = 1;
  int next = 258, width = 9, old = -1;
  size_t bitpos = 0, o = 0;
  for (;;) {
    if (bitpos + (size_t)width > n * 8) break; /* ran out: treat as end (some writers omit EOI) */
    int code = 0;
    for (int k = 0; k < width; k++, bitpos++) code = (code << 1) | ((s[bitpos / 8] >> (7 - bitpos % 8)) & 1);
    if (code == eoi) break;
    if (code == clear) {
      next = 258, width = 9, old = -1;
      continue;
    }
    int cur;
    if (code < next && (code < 256 || code >= 258)) {
      cur = code;
      if (old >= 0 && next < MAXC) {
        prefix[next] = (uint16_t)old, suffix[next] = first[code], first[next] = first[old];
        len[next] = (uint16_t)(len[old] + 1), next++;
      }
    } else if (code == next && old >= 0 && next < MAXC) {
      prefix[next] = (uint16_t)old, suffix[next] = first[old], first[next] = first[old];
      len[next] = (uint16_t)(len[old] + 1);
      cur = next++;
    } else {
      return "tiff: bad LZW code";
    }
    size_t l = len[cur];
    if (o + l > cap) l = cap > o ? cap - o : 0; /* extra data beyond the strip is dropped */
    int c = cur;
    for (size_t k = len[cur]; k > 0; k--) {
      if (k <= l) out[o + k - 1] = suffix[c];
      c = prefix[c];
    }
    o += l;
    old = cur;
    if (next + 1 >= (1 << width) && width < 12) width++;
    if (o >= cap) break;
  }
  *got = o;
  return NULL;
}

static const char *packbits(const uint8_t *s, size_t n, uint8_t *out, size_t cap, size_t *got) {
  size_t i = 0, o = 0;
  while (i < n && o < cap) {
    int c = (int8_t)s[i++];
    if (c >= 0) {
      size_t k = (size_t)c + 1;
      if (i + k > n) return "tiff: truncated PackBits run";
      if (k > cap - o) k = cap - o;
      memcpy(out + o, s + i, k);
      i += (size_t)c + 1, o += k;
    } else if (c != -128) {
      if (i >= n) return "tiff: truncated PackBits run";
      size_t k = (size_t)(1 - c);
      if (k > cap - o) k = cap - o;
      memset(out + o, s[i++], k);
      o += k;
    }
  }
  *got = o;
  return NULL;
}

const char *oxrt_decode_tiff(const uint8_t *d, size_t n, oxrt_image *img) {
  if (n < 8) return "tiff: truncated header";
  tif t = {d, n, d[0] == 'M'};
  if (!((d[0] == 'I' && d[1] == 'I') || (d[0] == 'M' && d[1] == 'M')) || u16(&t, 2) != 42) return "tiff: bad header";
  size_t ifd = u32(&t, 4);
  if (ifd + 2 > n) return "tiff: IFD beyond the file";
  uint32_t ne = u16(&t, ifd);
  if (ifd + 2 + (size_t)ne * 12 > n) return "tiff: truncated IFD";
  tag tags[9];
  static const uint16_t ids[9] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
  tag pc = {0}, pred = {0}, cmap = {0};
  memset(tags, 0, sizeof tags);
  for (uint32_t e = 0; e < ne; e++) {
    size_t eo = ifd + 2 + (size_t)e * 12;
    uint32_t id = u16(&t, eo);
    tag g = {u16(&t, eo + 2), u32(&t, eo + 4), eo + 8, true};
    size_t tsz = g.type == 3 ? 2 : g.type == 4 ? 4 : g.type == 1 ? 1 : 0;
    if ((size_t)g.count * tsz > 4) g.off = u32(&t, eo + 8);
    if (tsz && (g.off > n || (size_t)g.count > (n - g.off) / tsz)) return "tiff: tag values beyond the file";
    for (int k = 0; k < 9; k++)
      if (id == ids[k]) tags[k] = g;
    if (id == 284) pc = g;
    if (id == 317) pred = g;
    if (id == 320) cmap = g;
    if (id == 322) return "tiff: tiled images are not supported";
  }
  int64_t w = tag_val(&t, &tags[0], 0), h = tag_val(&t, &tags[1], 0);
  uint32_t bps = tags[2].present ? tag_val(&t, &tags[2], 0) : 1;
  uint32_t comp = tags[3].present ? tag_val(&t, &tags[3], 0) : 1, photo = tag_val(&t, &tags[4], 0);
  uint32_t spp = tags[6].present ? tag_val(&t, &tags[6], 0) : 1;
  uint32_t rps = tags[7].present ? tag_val(&t, &tags[7], 0) : 0xffffffffu;
  uint32_t planar = pc.present ? tag_val(&t, &pc, 0) : 1, predictor = pred.present ? tag_val(&t, &pred, 0) : 1;
  if (w <= 0 || h <= 0) return "tiff: bad dimensions";
  if (!tags[5].present || !tags[8].present || tags[5].count != tags[8].count) return "tiff: missing strips";
  if (comp != 1 && comp != 5 && comp != 8 && comp != 32946 && comp != 32773) return "tiff: unsupported compression";
  bool rgb = photo == 2, gray = photo <= 1, palette = photo == 3;
  if (!(rgb && spp >= 3 && (bps == 8 || bps == 16)) && !(gray && spp >= 1 && (bps == 1 || bps == 2 || bps == 4 || bps == 8 || bps == 16)) &&
      !(palette && spp == 1 && bps <= 8 && cmap.present && cmap.count >= 3u << bps))
    return "tiff: unsupported photometric/bits/samples combination";
  if (bps < 8 && spp != 1) return "tiff: unsupported bits/samples combination";
  if (spp > 8) return "tiff: too many samples per pixel";
  if (planar != 1 && planar != 2) return "tiff: bad planar configuration";
  if (predictor != 1 && !(predictor == 2 && bps >= 8)) return "tiff: unsupported predictor";
  if (rps == 0 || rps > (uint32_t)h) rps = (uint32_t)h;

  const char *err = oxrt_image_alloc(img, w, h);
  if (err) return err;
  int planes = planar == 2 ? (int)spp : 1;
  size_t spr = planar == 2 ? 1 : spp; /* samples per pixel within one plane */
  size_t rowbytes = ((size_t)w * spr * bps + 7) / 8, planebytes = rowbytes * (size_t)h;
  uint8_t *buf = calloc((size_t)planes, planebytes ? planebytes : 1);
  if (!buf) err = "tiff: out of memory";
  uint32_t strips_per_plane = (uint32_t)((h + rps - 1) / rps);
  if (!err && tags[5].count < strips_per_plane * (uint32_t)planes) err = "tiff: too few strips";
  for (int p = 0; !err && p < planes; p++)
    for (uint32_t s = 0; !err && s < strips_per_plane; s++) {
      uint32_t idx = (uint32_t)p * strips_per_plane + s;
      size_t so = tag_val(&t, &tags[5], idx), sn = tag_val(&t, &tags[8], idx);
      if (so > n || sn > n - so) {
        err = "tiff: strip beyond the file";
        break;
      }
      size_t rows = (size_t)((int64_t)(s + 1) * rps > h ? h - (int64_t)s * rps : rps);
      uint8_t *dst = buf + (size_t)p * planebytes + (size_t)s * rps * rowbytes;
      size_t cap = rows * rowbytes, got = 0;
      if (comp == 1) {
        got = sn < cap ? sn : cap;
        memcpy(dst, d + so, got);
      } else if (comp == 5) {
        err = lzw(d + so, sn, dst, cap, &got);
      } else if (comp == 32773) {
        err = packbits(d + so, sn, dst, cap, &got);
      } else {
        uint8_t *z = NULL;
        size_t zn = 0;
        err = oxrt_inflate(d + so, sn, true, cap, &z, &zn);
        if (!err) memcpy(dst, z, zn < cap ? zn : cap), got = zn;
        free(z);
      }
      if (!err && got < cap) err = "tiff: strip data too short";
      if (!err && predictor == 2) /* horizontal differencing per row, per sample */
        for (size_t r = 0; r < rows; r++) {
          uint8_t *row = dst + r * rowbytes;
          if (bps == 8) {
            for (size_t i = spr; i < (size_t)w * spr; i++) row[i] = (uint8_t)(row[i] + row[i - spr]);
          } else {
            for (size_t i = spr; i < (size_t)w * spr; i++) {
              uint8_t *a = row + 2 * i, *b = row + 2 * (i - spr);
              unsigned va = t.be ? (unsigned)(a[0] << 8 | a[1]) : (unsigned)(a[1] << 8 | a[0]);
              unsigned vb = t.be ? (unsigned)(b[0] << 8 | b[1]) : (unsigned)(b[1] << 8 | b[0]);
              unsigned v = (va + vb) & 0xffff;
              if (t.be) a[0] = (uint8_t)(v >> 8), a[1] = (uint8_t)v;
              else a[1] = (uint8_t)(v >> 8), a[0] = (uint8_t)v;
            }
          }
        }
    }
  for (int64_t y = 0; !err && y < h; y++)
    for (int64_t x = 0; x < w; x++) {
      uint8_t *o = img->rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
      int v[3];
      for (int c = 0; c < (rgb ? 3 : 1); c++) {
        const uint8_t *pl = buf + (planar == 2 ? (size_t)c * planebytes : 0) + (size_t)y * rowbytes;
        size_t si = (size_t)x * spr + (planar == 2 ? 0 : (size_t)c);
        if (bps == 8) v[c] = pl[si];
        else if (bps == 16) v[c] = t.be ? pl[si * 2] : pl[si * 2 + 1]; /* high byte */
        else v[c] = (pl[si * bps / 8] >> (8 - bps - (int)(si * bps % 8))) & ((1 << bps) - 1);
      }
      if (palette) { /* colour map: all reds, then greens, then blues, 16-bit */
        for (int c = 0; c < 3; c++) o[c] = (uint8_t)(tag_val(&t, &cmap, (uint32_t)(c << bps) + (uint32_t)v[0]) >> 8);
      } else if (gray) {
        int g = v[0];
        if (bps < 8) g = g * 255 / ((1 << bps) - 1);
        if (photo == 0) g = 255 - g;
        o[0] = o[1] = o[2] = (uint8_t)g;
      } else {
        o[0] = (uint8_t)v[0], o[1] = (uint8_t)v[1], o[2] = (uint8_t)v[2];
      }
    }
  free(buf);
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}
