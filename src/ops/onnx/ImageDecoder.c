/* ImageDecoder.c - ImageDecoder (opset 20): decodes an encoded image (1-D uint8 tensor) into uint8
 * [H, W, 3] (pixel_format RGB or BGR) or [H, W, 1] (Grayscale). The format is recognised from the file's
 * magic bytes; the decoders are our own (src/ops/onnx/image/): BMP, PNM, PNG, TIFF, JPEG. WebP and JPEG 2000
 * are recognised and refused as not implemented. Results follow Pillow, the reference implementation's
 * decoder: alpha is dropped, and gray is Pillow's RGB->L conversion L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
#include "../op_util.h"
#include "image/image_codecs.h"
#include <stdlib.h>
#include <string.h>

const char *oxrt_image_alloc(oxrt_image *img, int64_t w, int64_t h) {
  img->rgb = NULL;
  if (w <= 0 || h <= 0 || w > (1 << 30) || h > (1 << 30) || (size_t)w * (size_t)h > OXRT_IMAGE_MAX_PIXELS)
    return "image dimensions out of the supported range";
  img->width = (int)w, img->height = (int)h;
  img->rgb = malloc((size_t)w * (size_t)h * 3);
  return img->rgb ? NULL : "out of memory for the decoded image";
}

typedef enum { FMT_RGB, FMT_BGR, FMT_GRAY } pixel_format;

static oxrt_status *image_decoder_prepare(const oxrt_prepare_ctx *pc, void **state) {
  const oxrt_node *node = pc->node;
  int opset = pc->opset;
  (void)opset;
  const char *pf = oxrt_attr_string(node, "pixel_format", "RGB");
  pixel_format f;
  if (!strcmp(pf, "RGB")) f = FMT_RGB;
  else if (!strcmp(pf, "BGR")) f = FMT_BGR;
  else if (!strcmp(pf, "Grayscale")) f = FMT_GRAY;
  else return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "pixel_format '%s': expected RGB, BGR or Grayscale", pf);
  pixel_format *s = malloc(sizeof *s);
  if (!s) return OXRT_OOM();
  *s = f;
  *state = s;
  return NULL;
}

static oxrt_status *image_decoder_run(oxrt_kernel_ctx *ctx) {
  const oxrt_value *x = oxrt_input(ctx, 0);
  OXRT_TRY(oxrt_check_tensor(x, 0, "encoded_stream"));
  if (x->dtype != OXRT_UINT8) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected uint8 bytes");
  if (x->rank != 1) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: expected rank 1, got %d", x->rank);
  pixel_format pf = *(const pixel_format *)ctx->state;
  const uint8_t *d = x->data;
  size_t n = x->count;

  const char *(*dec)(const uint8_t *, size_t, oxrt_image *) = NULL;
  if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) dec = oxrt_decode_png;
  else if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) dec = oxrt_decode_jpeg;
  else if (n >= 2 && d[0] == 'B' && d[1] == 'M') dec = oxrt_decode_bmp;
  else if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6') dec = oxrt_decode_pnm;
  else if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) dec = oxrt_decode_tiff;
  else if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
    dec = oxrt_decode_webp;
  else if ((n >= 12 && !memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12)) || (n >= 4 && !memcmp(d, "\xff\x4f\xff\x51", 4)))
    dec = oxrt_decode_jpeg2k;
  else
    return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: unrecognised image format (%zu bytes)", n);

  oxrt_image img = {0};
  const char *err = dec(d, n, &img);
  if (err) return oxrt_error(OXRT_ERR_INVALID_ARGUMENT, "input 0: cannot decode the image: %s", err);
  int64_t dims[3] = {img.height, img.width, pf == FMT_GRAY ? 1 : 3};
  oxrt_value *y;
  oxrt_status *st = oxrt_output_tensor(ctx, 0, OXRT_UINT8, 3, dims, &y);
  if (!st) {
    size_t np = (size_t)img.width * (size_t)img.height;
    uint8_t *o = y->data;
    const uint8_t *s = img.rgb;
    if (pf == FMT_RGB) {
      memcpy(o, s, np * 3);
    } else if (pf == FMT_BGR) {
      for (size_t i = 0; i < np; i++) o[3 * i] = s[3 * i + 2], o[3 * i + 1] = s[3 * i + 1], o[3 * i + 2] = s[3 * i];
    } else {
      for (size_t i = 0; i < np; i++)
        o[i] = (uint8_t)((s[3 * i] * 19595u + s[3 * i + 1] * 38470u + s[3 * i + 2] * 7471u + 0x8000u) >> 16);
    }
  }
  free(img.rgb);
  return st;
}

static const oxrt_op_impl image_decoder_impls[] = {
    {.since_version = 20, .type_mask = OXRT_TBIT(OXRT_UINT8), .prepare = image_decoder_prepare, .run = image_decoder_run},
};
OXRT_REGISTER_OP(ImageDecoder) = {"", "ImageDecoder", OXRT_IMPLS(image_decoder_impls)};
