/* npy.c - reading and writing NumPy .npy files (version 1/2, C order, little-endian). */
#include "cli.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct {
  const char *descr;
  oxrt_elem_type t;
} npy_types[] = {
    {"<f4", OXRT_FLOAT},  {"<f8", OXRT_DOUBLE}, {"<f2", OXRT_FLOAT16}, {"<i8", OXRT_INT64},  {"<i4", OXRT_INT32},
    {"<i2", OXRT_INT16},  {"|i1", OXRT_INT8},   {"|u1", OXRT_UINT8},   {"<u2", OXRT_UINT16}, {"<u4", OXRT_UINT32},
    {"<u8", OXRT_UINT64}, {"|b1", OXRT_BOOL},   {"<c8", OXRT_COMPLEX64}, {"<c16", OXRT_COMPLEX128},
};

static int npy_error(const char *path, const char *what) {
  fprintf(stderr, "error: %s: %s\n", path, what);
  return 1;
}

int npy_read(const char *path, oxrt_value **out) {
  size_t size;
  unsigned char *buf = cli_read_file(path, &size);
  if (!buf) return npy_error(path, "cannot read file");
  int st = npy_parse(buf, size, path, out);
  free(buf);
  return st;
}

int npy_parse(const unsigned char *buf, size_t size, const char *path, oxrt_value **out) {
  int st = 0;
  oxrt_status *ast;
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
    st = npy_error(path, "not a .npy file");
    goto done;
  }
  size_t hlen, off;
  if (buf[6] == 1) {
    hlen = buf[8] | (size_t)buf[9] << 8;
    off = 10;
  } else {
    if (size < 12) {
      st = npy_error(path, "truncated header");
      goto done;
    }
    hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    off = 12;
  }
  if (off + hlen > size) {
    st = npy_error(path, "truncated header");
    goto done;
  }
  char *hdr = malloc(hlen + 1);
  if (!hdr) {
    st = npy_error(path, "out of memory");
    goto done;
  }
  memcpy(hdr, buf + off, hlen);
  hdr[hlen] = 0;
  char *descr = strstr(hdr, "'descr'");
  char *fo = strstr(hdr, "'fortran_order'");
  char *shape = strstr(hdr, "'shape'");
  if (!descr || !fo || !shape) {
    free(hdr);
    st = npy_error(path, "header lacks descr/fortran_order/shape");
    goto done;
  }
  if (strstr(fo, "True") && strstr(fo, "True") < shape) {
    free(hdr);
    st = npy_error(path, "Fortran-order arrays are not supported");
    goto done;
  }
  char *q1 = strchr(descr + 7, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
  oxrt_elem_type t = OXRT_UNDEFINED;
  bool unicode = false;
  size_t ulen = 0;
  if (q1 && q2) {
    size_t n = (size_t)(q2 - q1 - 1);
    for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
      if (strlen(npy_types[i].descr) == n && memcmp(npy_types[i].descr, q1 + 1, n) == 0) t = npy_types[i].t;
    if (n > 2 && q1[1] == '<' && q1[2] == 'U') {
      unicode = true;
      ulen = (size_t)atol(q1 + 3);
      t = OXRT_STRING;
    }
  }
  if (t == OXRT_UNDEFINED) {
    free(hdr);
    st = npy_error(path, "unsupported dtype (use float32/64/16, int8-64, uint8-64, bool, complex, or unicode)");
    goto done;
  }
  int64_t dims[16];
  size_t rank = 0;
  char *p = strchr(shape, '(');
  char *e = p ? strchr(p, ')') : NULL;
  for (p = p ? p + 1 : NULL; p && p < e && rank < 16;) {
    while (p < e && (*p == ' ' || *p == ',')) p++;
    if (p >= e) break;
    dims[rank++] = strtoll(p, &p, 10);
  }
  free(hdr);
  /* The data must be in the file before anything is allocated for it (no overflow on hostile shapes). */
  size_t count = 1, esize = unicode ? 4 : oxrt_elem_type_size(t);
  for (size_t i = 0; i < rank; i++) {
    if (dims[i] < 0) {
      st = npy_error(path, "negative dimension in shape");
      goto done;
    }
    if (dims[i] && count > SIZE_MAX / (size_t)dims[i]) count = SIZE_MAX;
    else count *= (size_t)dims[i];
  }
  off += hlen;
  if (unicode && ulen > SIZE_MAX / 4) ulen = SIZE_MAX / 4;
  size_t unit = unicode ? ulen * esize : esize;
  /* zero-byte elements ('<U0') are still allocated one by one: at most one per byte of the file */
  if (count && (unit ? count > (size - off) / unit : count > size)) {
    st = npy_error(path, "file holds fewer bytes than its shape needs");
    goto done;
  }
  if (unicode) {
    if ((ast = oxrt_value_create_tensor(OXRT_STRING, dims, rank, out))) {
      st = cli_fail(ast);
      goto done;
    }
    for (size_t i = 0; i < count; i++) {
      char s[4096];
      size_t n = 0;
      for (size_t k = 0; k < ulen && n < sizeof s - 4; k++) {
        uint32_t c;
        memcpy(&c, buf + off + (i * ulen + k) * 4, 4);
        if (!c) break;
        if (c < 0x80) s[n++] = (char)c;
        else if (c < 0x800) s[n++] = (char)(0xc0 | (c >> 6)), s[n++] = (char)(0x80 | (c & 63));
        else if (c < 0x10000)
          s[n++] = (char)(0xe0 | (c >> 12)), s[n++] = (char)(0x80 | ((c >> 6) & 63)), s[n++] = (char)(0x80 | (c & 63));
        else
          s[n++] = (char)(0xf0 | (c >> 18)), s[n++] = (char)(0x80 | ((c >> 12) & 63)),
          s[n++] = (char)(0x80 | ((c >> 6) & 63)), s[n++] = (char)(0x80 | (c & 63));
      }
      oxrt_value_set_string(*out, i, s, n);
    }
    goto done;
  }
  if ((ast = oxrt_value_create_tensor(t, dims, rank, out))) {
    st = cli_fail(ast);
    goto done;
  }
  size_t nb = oxrt_value_get_nbytes(*out);
  if (off + nb > size) {
    oxrt_value_free(*out);
    *out = NULL;
    st = npy_error(path, "file holds fewer bytes than its shape needs");
    goto done;
  }
  memcpy(oxrt_value_get_mutable_data(*out), buf + off, nb);
done:
  return st;
}

int npy_write(const char *path, const oxrt_value *v) {
  oxrt_elem_type t = oxrt_value_get_elem_type(v);
  const char *descr = NULL;
  for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++)
    if (npy_types[i].t == t) descr = npy_types[i].descr;
  if (oxrt_value_get_kind(v) != OXRT_KIND_TENSOR || (!descr && t != OXRT_STRING))
    return npy_error(path, "only numeric, bool and string tensors can be written as .npy");
  size_t count = oxrt_value_get_elem_count(v), maxlen = 1;
  char ubuf[32];
  if (t == OXRT_STRING) {
    for (size_t i = 0; i < count; i++) {
      size_t l = strlen(oxrt_value_get_string(v, i, NULL));
      if (l > maxlen) maxlen = l;
    }
    snprintf(ubuf, sizeof ubuf, "<U%zu", maxlen);
    descr = ubuf;
  }
  char hdr[512];
  int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  size_t rank = oxrt_value_get_rank(v);
  const int64_t *d = oxrt_value_get_dims(v);
  for (size_t i = 0; i < rank; i++) n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%lld,%s", (long long)d[i], i + 1 < rank ? " " : "");
  if (rank > 1) n--; /* numpy writes (2, 3) but (4,) */
  n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s), }", rank == 1 ? "" : "");
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return npy_error(path, "cannot create file");
  unsigned short hl = (unsigned short)((size_t)n + pad + 1);
  fwrite("\x93NUMPY\x01\x00", 1, 8, f);
  fputc(hl & 0xff, f);
  fputc(hl >> 8, f);
  fwrite(hdr, 1, (size_t)n, f);
  for (size_t i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  if (t == OXRT_STRING) {
    for (size_t i = 0; i < count; i++) {
      const unsigned char *s = (const unsigned char *)oxrt_value_get_string(v, i, NULL);
      size_t k = 0;
      while (*s && k < maxlen) { /* decode UTF-8 to UTF-32 */
        uint32_t c = *s++;
        if (c >= 0xf0) c = (c & 7) << 18 | (uint32_t)(s[0] & 63) << 12 | (uint32_t)(s[1] & 63) << 6 | (s[2] & 63), s += 3;
        else if (c >= 0xe0) c = (c & 15) << 12 | (uint32_t)(s[0] & 63) << 6 | (s[1] & 63), s += 2;
        else if (c >= 0xc0) c = (c & 31) << 6 | (s[0] & 63), s += 1;
        fwrite(&c, 4, 1, f);
        k++;
      }
      uint32_t z = 0;
      for (; k < maxlen; k++) fwrite(&z, 4, 1, f);
    }
  } else {
    fwrite(oxrt_value_get_data(v), 1, oxrt_value_get_nbytes(v), f);
  }
  fclose(f);
  return 0;
}
