/* webp.c - WebP decoder. */
#include "image_codecs.h"

const char *oxrt_decode_webp(const uint8_t *data, size_t size, oxrt_image *img) {
  (void)data, (void)size, (void)img;
  return "webp: not supported yet";
}
