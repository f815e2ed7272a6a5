/* image_codecs.h - private decoders of the ImageDecoder operator (no external libraries).
 *
 * Every decoder reads a complete encoded file from (data, size), never reads outside it, and on success
 * fills an oxrt_image with 8-bit interleaved RGB pixels (malloc'd, the caller frees `rgb`). On failure
 * it returns a short static message ("png: bad CRC ...") and leaves nothing allocated. */
#ifndef OXRT_OPS_IMAGE_CODECS_H
#define OXRT_OPS_IMAGE_CODECS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest image accepted (pixels): bounds memory use on hostile headers. */
#define OXRT_IMAGE_MAX_PIXELS ((size_t)1 << 28)

typedef struct oxrt_image {
  int width, height;
  uint8_t *rgb; /* height * width * 3 */
} oxrt_image;

/* Allocates img->rgb for w x h, checking the size limit; returns an error message or NULL. */
const char *oxrt_image_alloc(oxrt_image *img, int64_t w, int64_t h);

const char *oxrt_decode_bmp(const uint8_t *data, size_t size, oxrt_image *img);
const char *oxrt_decode_pnm(const uint8_t *data, size_t size, oxrt_image *img);
const char *oxrt_decode_png(const uint8_t *data, size_t size, oxrt_image *img);
const char *oxrt_decode_tiff(const uint8_t *data, size_t size, oxrt_image *img);
const char *oxrt_decode_jpeg(const uint8_t *data, size_t size, oxrt_image *img);
const char *oxrt_decode_webp(const uint8_t *data, size_t size, oxrt_image *img);   /* webp.c */
const char *oxrt_decode_jpeg2k(const uint8_t *data, size_t size, oxrt_image *img); /* jpeg2k.c: JP2 or raw J2K */

/* Raw DEFLATE (RFC 1951) / zlib (RFC 1950) streams into a growing malloc'd buffer of at most `max_out`
 * bytes; *out is NULL on error. */
const char *oxrt_inflate(const uint8_t *src, size_t n, bool zlib, size_t max_out, uint8_t **out, size_t *out_n);

#endif
