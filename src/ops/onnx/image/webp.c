/* webp.c - WebP decoder: the RIFF container (simple "VP8 "/"VP8L" files and extended "VP8X" files, whose
 * alpha is ignored; animations are refused), VP8 lossy key frames (RFC 6386) and VP8L lossless images (the
 * WebP lossless bitstream specification).
 *
 * The lossy output is meant to match libwebp's default decoding bit for bit (what Pillow produces): the
 * RFC's exact integer transforms, prediction edges of 127 above and 129 to the left, intra prediction from
 * the unfiltered reconstruction, loop filtering skipped for the whole frame when its base level is 0, the
 * above-right pixels of the last macroblock of a row replicated from the row above, "fancy" chroma
 * upsampling (9-3-3-1 weights computed in two rounding steps), and BT.601 YCbCr->RGB with 14-bit
 * coefficients, results carried with 6 fractional bits. */
#include "image_codecs.h"
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------------------
 * RFC 6386 tables. */

enum { B_DC, B_TM, B_VE, B_HE, B_LD, B_RD, B_VR, B_VL, B_HD, B_HU }; /* subblock modes, RFC order */
enum { M_DC, M_V, M_H, M_TM, M_B };                                 /* macroblock luma/chroma modes */

/* RFC 6386 section 13.4: probabilities that a coefficient probability is updated. */
static const uint8_t coeff_update_probs[4][8][3][11] = {
    {{{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{176, 246, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {223, 241, 252, 255, 255, 255, 255, 255, 255, 255, 255},
      {249, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 244, 252, 255, 255, 255, 255, 255, 255, 255, 255},
      {234, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 246, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {239, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {251, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {251, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 253, 255, 254, 255, 255, 255, 255, 255, 255},
      {250, 255, 254, 255, 254, 255, 255, 255, 255, 255, 255},
      {254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}}},
    {{{217, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {225, 252, 241, 253, 255, 255, 254, 255, 255, 255, 255},
      {234, 250, 241, 250, 253, 255, 253, 254, 255, 255, 255}},
     {{255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {223, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {238, 253, 254, 254, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 248, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {249, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 253, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {247, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {252, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}}},
    {{{186, 251, 250, 255, 255, 255, 255, 255, 255, 255, 255},
      {234, 251, 244, 254, 255, 255, 255, 255, 255, 255, 255},
      {251, 251, 243, 253, 254, 255, 254, 255, 255, 255, 255}},
     {{255, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {236, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {251, 253, 253, 254, 254, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 254, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}}},
    {{{248, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {250, 254, 252, 254, 255, 255, 255, 255, 255, 255, 255},
      {248, 254, 249, 253, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {246, 253, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {252, 254, 251, 254, 254, 255, 255, 255, 255, 255, 255}},
     {{255, 254, 252, 255, 255, 255, 255, 255, 255, 255, 255},
      {248, 254, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {253, 255, 254, 254, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {245, 251, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {253, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 251, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {252, 253, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 254, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 252, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {249, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 254, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 253, 255, 255, 255, 255, 255, 255, 255, 255},
      {250, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
     {{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {254, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
      {255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}}}};

/* RFC 6386 section 13.5: default token probabilities [block type][band][context][node]. */
static const uint8_t default_coeff_probs[4][8][3][11] = {
    {{{128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128},
      {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128},
      {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}},
     {{253, 136, 254, 255, 228, 219, 128, 128, 128, 128, 128},
      {189, 129, 242, 255, 227, 213, 255, 219, 128, 128, 128},
      {106, 126, 227, 252, 214, 209, 255, 255, 128, 128, 128}},
     {{1, 98, 248, 255, 236, 226, 255, 255, 128, 128, 128},
      {181, 133, 238, 254, 221, 234, 255, 154, 128, 128, 128},
      {78, 134, 202, 247, 198, 180, 255, 219, 128, 128, 128}},
     {{1, 185, 249, 255, 243, 255, 128, 128, 128, 128, 128},
      {184, 150, 247, 255, 236, 224, 128, 128, 128, 128, 128},
      {77, 110, 216, 255, 236, 230, 128, 128, 128, 128, 128}},
     {{1, 101, 251, 255, 241, 255, 128, 128, 128, 128, 128},
      {170, 139, 241, 252, 236, 209, 255, 255, 128, 128, 128},
      {37, 116, 196, 243, 228, 255, 255, 255, 128, 128, 128}},
     {{1, 204, 254, 255, 245, 255, 128, 128, 128, 128, 128},
      {207, 160, 250, 255, 238, 128, 128, 128, 128, 128, 128},
      {102, 103, 231, 255, 211, 171, 128, 128, 128, 128, 128}},
     {{1, 152, 252, 255, 240, 255, 128, 128, 128, 128, 128},
      {177, 135, 243, 255, 234, 225, 128, 128, 128, 128, 128},
      {80, 129, 211, 255, 194, 224, 128, 128, 128, 128, 128}},
     {{1, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {246, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {255, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}}},
    {{{198, 35, 237, 223, 193, 187, 162, 160, 145, 155, 62},
      {131, 45, 198, 221, 172, 176, 220, 157, 252, 221, 1},
      {68, 47, 146, 208, 149, 167, 221, 162, 255, 223, 128}},
     {{1, 149, 241, 255, 221, 224, 255, 255, 128, 128, 128},
      {184, 141, 234, 253, 222, 220, 255, 199, 128, 128, 128},
      {81, 99, 181, 242, 176, 190, 249, 202, 255, 255, 128}},
     {{1, 129, 232, 253, 214, 197, 242, 196, 255, 255, 128},
      {99, 121, 210, 250, 201, 198, 255, 202, 128, 128, 128},
      {23, 91, 163, 242, 170, 187, 247, 210, 255, 255, 128}},
     {{1, 200, 246, 255, 234, 255, 128, 128, 128, 128, 128},
      {109, 178, 241, 255, 231, 245, 255, 255, 128, 128, 128},
      {44, 130, 201, 253, 205, 192, 255, 255, 128, 128, 128}},
     {{1, 132, 239, 251, 219, 209, 255, 165, 128, 128, 128},
      {94, 136, 225, 251, 218, 190, 255, 255, 128, 128, 128},
      {22, 100, 174, 245, 186, 161, 255, 199, 128, 128, 128}},
     {{1, 182, 249, 255, 232, 235, 128, 128, 128, 128, 128},
      {124, 143, 241, 255, 227, 234, 128, 128, 128, 128, 128},
      {35, 77, 181, 251, 193, 211, 255, 205, 128, 128, 128}},
     {{1, 157, 247, 255, 236, 231, 255, 255, 128, 128, 128},
      {121, 141, 235, 255, 225, 227, 255, 255, 128, 128, 128},
      {45, 99, 188, 251, 195, 217, 255, 224, 128, 128, 128}},
     {{1, 1, 251, 255, 213, 255, 128, 128, 128, 128, 128},
      {203, 1, 248, 255, 255, 128, 128, 128, 128, 128, 128},
      {137, 1, 177, 255, 224, 255, 128, 128, 128, 128, 128}}},
    {{{253, 9, 248, 251, 207, 208, 255, 192, 128, 128, 128},
      {175, 13, 224, 243, 193, 185, 249, 198, 255, 255, 128},
      {73, 17, 171, 221, 161, 179, 236, 167, 255, 234, 128}},
     {{1, 95, 247, 253, 212, 183, 255, 255, 128, 128, 128},
      {239, 90, 244, 250, 211, 209, 255, 255, 128, 128, 128},
      {155, 77, 195, 248, 188, 195, 255, 255, 128, 128, 128}},
     {{1, 24, 239, 251, 218, 219, 255, 205, 128, 128, 128},
      {201, 51, 219, 255, 196, 186, 128, 128, 128, 128, 128},
      {69, 46, 190, 239, 201, 218, 255, 228, 128, 128, 128}},
     {{1, 191, 251, 255, 255, 128, 128, 128, 128, 128, 128},
      {223, 165, 249, 255, 213, 255, 128, 128, 128, 128, 128},
      {141, 124, 248, 255, 255, 128, 128, 128, 128, 128, 128}},
     {{1, 16, 248, 255, 255, 128, 128, 128, 128, 128, 128},
      {190, 36, 230, 255, 236, 255, 128, 128, 128, 128, 128},
      {149, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128}},
     {{1, 226, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {247, 192, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {240, 128, 255, 128, 128, 128, 128, 128, 128, 128, 128}},
     {{1, 134, 252, 255, 255, 128, 128, 128, 128, 128, 128},
      {213, 62, 250, 255, 255, 128, 128, 128, 128, 128, 128},
      {55, 93, 255, 128, 128, 128, 128, 128, 128, 128, 128}},
     {{128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128},
      {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128},
      {128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128}}},
    {{{202, 24, 213, 235, 186, 191, 220, 160, 240, 175, 255},
      {126, 38, 182, 232, 169, 184, 228, 174, 255, 187, 128},
      {61, 46, 138, 219, 151, 178, 240, 170, 255, 216, 128}},
     {{1, 112, 230, 250, 199, 191, 247, 159, 255, 255, 128},
      {166, 109, 228, 252, 211, 215, 255, 174, 128, 128, 128},
      {39, 77, 162, 232, 172, 180, 245, 178, 255, 255, 128}},
     {{1, 52, 220, 246, 198, 199, 249, 220, 255, 255, 128},
      {124, 74, 191, 243, 183, 193, 250, 221, 255, 255, 128},
      {24, 71, 130, 219, 154, 170, 243, 182, 255, 255, 128}},
     {{1, 182, 225, 249, 219, 240, 255, 224, 128, 128, 128},
      {149, 150, 226, 252, 216, 205, 255, 171, 128, 128, 128},
      {28, 108, 170, 242, 183, 194, 254, 223, 255, 255, 128}},
     {{1, 81, 230, 252, 204, 203, 255, 192, 128, 128, 128},
      {123, 102, 209, 247, 188, 196, 255, 233, 128, 128, 128},
      {20, 95, 153, 243, 164, 173, 255, 203, 128, 128, 128}},
     {{1, 222, 248, 255, 216, 213, 128, 128, 128, 128, 128},
      {168, 175, 246, 252, 235, 205, 255, 255, 128, 128, 128},
      {47, 116, 215, 255, 211, 212, 255, 255, 128, 128, 128}},
     {{1, 121, 236, 253, 212, 214, 255, 255, 128, 128, 128},
      {141, 84, 213, 252, 201, 202, 255, 219, 128, 128, 128},
      {42, 80, 160, 240, 162, 185, 255, 205, 128, 128, 128}},
     {{1, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {244, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128},
      {238, 1, 255, 128, 128, 128, 128, 128, 128, 128, 128}}}};

/* RFC 6386 section 11.5: key-frame subblock mode probabilities [above mode][left mode][tree node]. */
static const uint8_t kf_bmode_probs[10][10][9] = {
    {{231, 120, 48, 89, 115, 113, 120, 152, 112},
     {152, 179, 64, 126, 170, 118, 46, 70, 95},
     {175, 69, 143, 80, 85, 82, 72, 155, 103},
     {56, 58, 10, 171, 218, 189, 17, 13, 152},
     {144, 71, 10, 38, 171, 213, 144, 34, 26},
     {114, 26, 17, 163, 44, 195, 21, 10, 173},
     {121, 24, 80, 195, 26, 62, 44, 64, 85},
     {170, 46, 55, 19, 136, 160, 33, 206, 71},
     {63, 20, 8, 114, 114, 208, 12, 9, 226},
     {81, 40, 11, 96, 182, 84, 29, 16, 36}},
    {{134, 183, 89, 137, 98, 101, 106, 165, 148},
     {72, 187, 100, 130, 157, 111, 32, 75, 80},
     {66, 102, 167, 99, 74, 62, 40, 234, 128},
     {41, 53, 9, 178, 241, 141, 26, 8, 107},
     {104, 79, 12, 27, 217, 255, 87, 17, 7},
     {74, 43, 26, 146, 73, 166, 49, 23, 157},
     {65, 38, 105, 160, 51, 52, 31, 115, 128},
     {87, 68, 71, 44, 114, 51, 15, 186, 23},
     {47, 41, 14, 110, 182, 183, 21, 17, 194},
     {66, 45, 25, 102, 197, 189, 23, 18, 22}},
    {{88, 88, 147, 150, 42, 46, 45, 196, 205},
     {43, 97, 183, 117, 85, 38, 35, 179, 61},
     {39, 53, 200, 87, 26, 21, 43, 232, 171},
     {56, 34, 51, 104, 114, 102, 29, 93, 77},
     {107, 54, 32, 26, 51, 1, 81, 43, 31},
     {39, 28, 85, 171, 58, 165, 90, 98, 64},
     {34, 22, 116, 206, 23, 34, 43, 166, 73},
     {68, 25, 106, 22, 64, 171, 36, 225, 114},
     {34, 19, 21, 102, 132, 188, 16, 76, 124},
     {62, 18, 78, 95, 85, 57, 50, 48, 51}},
    {{193, 101, 35, 159, 215, 111, 89, 46, 111},
     {60, 148, 31, 172, 219, 228, 21, 18, 111},
     {112, 113, 77, 85, 179, 255, 38, 120, 114},
     {40, 42, 1, 196, 245, 209, 10, 25, 109},
     {100, 80, 8, 43, 154, 1, 51, 26, 71},
     {88, 43, 29, 140, 166, 213, 37, 43, 154},
     {61, 63, 30, 155, 67, 45, 68, 1, 209},
     {142, 78, 78, 16, 255, 128, 34, 197, 171},
     {41, 40, 5, 102, 211, 183, 4, 1, 221},
     {51, 50, 17, 168, 209, 192, 23, 25, 82}},
    {{125, 98, 42, 88, 104, 85, 117, 175, 82},
     {95, 84, 53, 89, 128, 100, 113, 101, 45},
     {75, 79, 123, 47, 51, 128, 81, 171, 1},
     {57, 17, 5, 71, 102, 57, 53, 41, 49},
     {115, 21, 2, 10, 102, 255, 166, 23, 6},
     {38, 33, 13, 121, 57, 73, 26, 1, 85},
     {41, 10, 67, 138, 77, 110, 90, 47, 114},
     {101, 29, 16, 10, 85, 128, 101, 196, 26},
     {57, 18, 10, 102, 102, 213, 34, 20, 43},
     {117, 20, 15, 36, 163, 128, 68, 1, 26}},
    {{138, 31, 36, 171, 27, 166, 38, 44, 229},
     {67, 87, 58, 169, 82, 115, 26, 59, 179},
     {63, 59, 90, 180, 59, 166, 93, 73, 154},
     {40, 40, 21, 116, 143, 209, 34, 39, 175},
     {57, 46, 22, 24, 128, 1, 54, 17, 37},
     {47, 15, 16, 183, 34, 223, 49, 45, 183},
     {46, 17, 33, 183, 6, 98, 15, 32, 183},
     {65, 32, 73, 115, 28, 128, 23, 128, 205},
     {40, 3, 9, 115, 51, 192, 18, 6, 223},
     {87, 37, 9, 115, 59, 77, 64, 21, 47}},
    {{104, 55, 44, 218, 9, 54, 53, 130, 226},
     {64, 90, 70, 205, 40, 41, 23, 26, 57},
     {54, 57, 112, 184, 5, 41, 38, 166, 213},
     {30, 34, 26, 133, 152, 116, 10, 32, 134},
     {75, 32, 12, 51, 192, 255, 160, 43, 51},
     {39, 19, 53, 221, 26, 114, 32, 73, 255},
     {31, 9, 65, 234, 2, 15, 1, 118, 73},
     {88, 31, 35, 67, 102, 85, 55, 186, 85},
     {56, 21, 23, 111, 59, 205, 45, 37, 192},
     {55, 38, 70, 124, 73, 102, 1, 34, 98}},
    {{102, 61, 71, 37, 34, 53, 31, 243, 192},
     {69, 60, 71, 38, 73, 119, 28, 222, 37},
     {68, 45, 128, 34, 1, 47, 11, 245, 171},
     {62, 17, 19, 70, 146, 85, 55, 62, 70},
     {75, 15, 9, 9, 64, 255, 184, 119, 16},
     {37, 43, 37, 154, 100, 163, 85, 160, 1},
     {63, 9, 92, 136, 28, 64, 32, 201, 85},
     {86, 6, 28, 5, 64, 255, 25, 248, 1},
     {56, 8, 17, 132, 137, 255, 55, 116, 128},
     {58, 15, 20, 82, 135, 57, 26, 121, 40}},
    {{164, 50, 31, 137, 154, 133, 25, 35, 218},
     {51, 103, 44, 131, 131, 123, 31, 6, 158},
     {86, 40, 64, 135, 148, 224, 45, 183, 128},
     {22, 26, 17, 131, 240, 154, 14, 1, 209},
     {83, 12, 13, 54, 192, 255, 68, 47, 28},
     {45, 16, 21, 91, 64, 222, 7, 1, 197},
     {56, 21, 39, 155, 60, 138, 23, 102, 213},
     {85, 26, 85, 85, 128, 128, 32, 146, 171},
     {18, 11, 7, 63, 144, 171, 4, 4, 246},
     {35, 27, 10, 146, 174, 171, 12, 26, 128}},
    {{190, 80, 35, 99, 180, 80, 126, 54, 45},
     {85, 126, 47, 87, 176, 51, 41, 20, 32},
     {101, 75, 128, 139, 118, 146, 116, 128, 85},
     {56, 41, 15, 176, 236, 85, 37, 9, 62},
     {146, 36, 19, 30, 171, 255, 97, 27, 20},
     {71, 30, 17, 119, 118, 255, 17, 18, 138},
     {101, 38, 60, 138, 55, 70, 43, 26, 142},
     {138, 45, 61, 62, 219, 1, 81, 188, 64},
     {32, 41, 20, 117, 151, 142, 20, 21, 163},
     {112, 19, 12, 61, 195, 128, 48, 4, 24}}};

/* RFC 6386 section 14.1. */
static const uint8_t dc_qlookup[128] = {
    4,   5,   6,   7,   8,   9,   10,  10,  11,  12,  13,  14,  15,  16,  17,  17,  18,  19,  20,  20,  21,  21,
    22,  22,  23,  23,  24,  25,  25,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  37,  38,  39,
    40,  41,  42,  43,  44,  45,  46,  46,  47,  48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  59,  60,
    61,  62,  63,  64,  65,  66,  67,  68,  69,  70,  71,  72,  73,  74,  75,  76,  76,  77,  78,  79,  80,  81,
    82,  83,  84,  85,  86,  87,  88,  89,  91,  93,  95,  96,  98,  100, 101, 102, 104, 106, 108, 110, 112, 114,
    116, 118, 122, 124, 126, 128, 130, 132, 134, 136, 138, 140, 143, 145, 148, 151, 154, 157};
static const uint16_t ac_qlookup[128] = {
    4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,
    26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,
    48,  49,  50,  51,  52,  53,  54,  55,  56,  57,  58,  60,  62,  64,  66,  68,  70,  72,  74,  76,  78,  80,
    82,  84,  86,  88,  90,  92,  94,  96,  98,  100, 102, 104, 106, 108, 110, 112, 114, 116, 119, 122, 125, 128,
    131, 134, 137, 140, 143, 146, 149, 152, 155, 158, 161, 164, 167, 170, 173, 177, 181, 185, 189, 193, 197, 201,
    205, 209, 213, 217, 221, 225, 229, 234, 239, 245, 249, 254, 259, 264, 269, 274, 279, 284};

/* RFC 6386 section 13: coefficient position -> band, scan order, and the extra-bit probabilities of the
 * dct_cat3..dct_cat6 tokens (cat1 and cat2 are read inline). */
static const uint8_t coeff_bands[16] = {0, 1, 2, 3, 6, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7};
static const uint8_t zigzag[16] = {0, 1, 4, 8, 5, 2, 3, 6, 9, 12, 13, 10, 7, 11, 14, 15};
static const uint8_t pcat3[] = {173, 148, 140, 0};
static const uint8_t pcat4[] = {176, 155, 140, 135, 0};
static const uint8_t pcat5[] = {180, 157, 141, 134, 130, 0};
static const uint8_t pcat6[] = {254, 254, 243, 230, 196, 177, 153, 140, 133, 130, 129, 0};

/* ---------------------------------------------------------------------------------------------------------
 * Boolean entropy decoder (RFC 6386 section 7). Past the end it reads zeros and counts them, so a truncated
 * partition is noticed without reading outside the buffer. */

typedef struct {
  const uint8_t *p, *end;
  uint32_t value; /* a 16-bit window whose top byte is compared against the split */
  uint32_t range; /* 128..255 after normalisation */
  int bit_count;
  int fake; /* zero bytes supplied past the end */
} bool_dec;

static uint32_t next_byte(bool_dec *d) {
  if (d->p < d->end) return *d->p++;
  d->fake++;
  return 0;
}

static void bool_init(bool_dec *d, const uint8_t *p, size_t n) {
  d->p = p, d->end = p + n, d->fake = 0;
  d->value = next_byte(d) << 8;
  d->value |= next_byte(d);
  d->range = 255, d->bit_count = 0;
}

/* More than one invented byte means the data really ended early (the reader runs a byte ahead). */
static bool bool_overrun(const bool_dec *d) { return d->fake > 1; }

static int get_bit(bool_dec *d, int prob) {
  uint32_t split = 1 + (((d->range - 1) * (uint32_t)prob) >> 8), bigsplit = split << 8;
  int bit;
  if (d->value >= bigsplit) {
    bit = 1;
    d->range -= split;
    d->value -= bigsplit;
  } else {
    bit = 0;
    d->range = split;
  }
  while (d->range < 128) {
    d->value <<= 1;
    d->range <<= 1;
    if (++d->bit_count == 8) {
      d->bit_count = 0;
      d->value |= next_byte(d);
    }
  }
  return bit;
}

static int get_literal(bool_dec *d, int n) {
  int v = 0;
  while (n-- > 0) v = (v << 1) | get_bit(d, 128);
  return v;
}

/* An n-bit magnitude followed by a sign flag, present only when a flag bit says so. */
static int get_signed_opt(bool_dec *d, int n) {
  if (!get_bit(d, 128)) return 0;
  int v = get_literal(d, n);
  return get_bit(d, 128) ? -v : v;
}

/* ---------------------------------------------------------------------------------------------------------
 * Frame state. */

typedef struct {
  int16_t y1[2], y2[2], uv[2]; /* [0]: DC factor, [1]: AC factor */
} quant;

typedef struct {
  int width, height, mbw, mbh;
  /* header */
  bool seg_enabled, seg_update_map, seg_absolute;
  int8_t seg_quant[4], seg_lf[4];
  uint8_t seg_probs[3];
  bool simple_filter;
  int filter_level, sharpness;
  bool lf_delta;
  int8_t ref_lf_delta[4], mode_lf_delta[4];
  quant q[4];
  uint8_t coeff_probs[4][8][3][11];
  bool use_skip;
  int skip_prob;
  bool_dec hdr;
  int nparts;
  bool_dec parts[8];
  /* reconstruction: macroblock-aligned planes, unfiltered until the whole frame is decoded */
  uint8_t *y, *u, *v;
  int ys, uvs; /* strides */
  uint8_t *lf_level, *lf_inner; /* per macroblock */
  /* contexts */
  uint8_t *above_bmodes; /* 4 per macroblock column */
  uint8_t *above_nz;     /* 9 per column: 4 Y, 2 U, 2 V, 1 Y2 */
} vp8_dec;

static const char *parse_header(vp8_dec *d, const uint8_t *data, size_t size) {
  if (size < 10) return "webp: truncated VP8 frame header";
  uint32_t tag = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16;
  if (tag & 1) return "webp: VP8 data is not a key frame";
  if (((tag >> 1) & 7) > 3) return "webp: unknown VP8 profile";
  if (!((tag >> 4) & 1)) return "webp: VP8 frame is not shown";
  size_t first_size = tag >> 5;
  if (data[3] != 0x9d || data[4] != 0x01 || data[5] != 0x2a) return "webp: bad VP8 start code";
  d->width = (data[6] | data[7] << 8) & 0x3fff; /* the 2-bit upscaling hints are for display only */
  d->height = (data[8] | data[9] << 8) & 0x3fff;
  if (!d->width || !d->height) return "webp: zero VP8 frame size";
  d->mbw = (d->width + 15) >> 4, d->mbh = (d->height + 15) >> 4;
  data += 10, size -= 10;
  if (first_size > size) return "webp: truncated VP8 first partition";

  bool_dec *b = &d->hdr;
  bool_init(b, data, first_size);
  get_literal(b, 2); /* colour space and clamping type: libwebp ignores both and always clamps */
  d->seg_enabled = get_bit(b, 128);
  memset(d->seg_probs, 255, 3);
  if (d->seg_enabled) {
    d->seg_update_map = get_bit(b, 128);
    if (get_bit(b, 128)) { /* update segment feature data */
      d->seg_absolute = get_bit(b, 128);
      for (int i = 0; i < 4; i++) d->seg_quant[i] = (int8_t)get_signed_opt(b, 7);
      for (int i = 0; i < 4; i++) d->seg_lf[i] = (int8_t)get_signed_opt(b, 6);
    }
    if (d->seg_update_map)
      for (int i = 0; i < 3; i++) d->seg_probs[i] = get_bit(b, 128) ? (uint8_t)get_literal(b, 8) : 255;
  }
  d->simple_filter = get_bit(b, 128);
  d->filter_level = get_literal(b, 6);
  d->sharpness = get_literal(b, 3);
  d->lf_delta = get_bit(b, 128);
  if (d->lf_delta && get_bit(b, 128)) { /* deltas are updated */
    for (int i = 0; i < 4; i++) d->ref_lf_delta[i] = (int8_t)get_signed_opt(b, 6);
    for (int i = 0; i < 4; i++) d->mode_lf_delta[i] = (int8_t)get_signed_opt(b, 6);
  }
  d->nparts = 1 << get_literal(b, 2);

  /* token partitions: 3-byte sizes of all but the last, which takes the rest (sizes clipped like libwebp) */
  const uint8_t *sizes = data + first_size;
  size_t left = size - first_size, nsz = 3 * (size_t)(d->nparts - 1);
  if (left < nsz) return "webp: truncated VP8 partition table";
  const uint8_t *pp = sizes + nsz;
  left -= nsz;
  for (int i = 0; i < d->nparts; i++) {
    size_t ps = left;
    if (i < d->nparts - 1) {
      ps = (size_t)sizes[3 * i] | (size_t)sizes[3 * i + 1] << 8 | (size_t)sizes[3 * i + 2] << 16;
      if (ps > left) ps = left;
    } else if (!left) {
      return "webp: truncated VP8 token partition";
    }
    bool_init(&d->parts[i], pp, ps);
    pp += ps, left -= ps;
  }

  int base_q = get_literal(b, 7);
  int dq_y1dc = get_signed_opt(b, 4), dq_y2dc = get_signed_opt(b, 4), dq_y2ac = get_signed_opt(b, 4);
  int dq_uvdc = get_signed_opt(b, 4), dq_uvac = get_signed_opt(b, 4);
  for (int s = 0; s < 4; s++) {
    int q = base_q;
    if (d->seg_enabled) q = d->seg_quant[s] + (d->seg_absolute ? 0 : base_q);
#define QI(x) ((x) < 0 ? 0 : (x) > 127 ? 127 : (x))
    quant *m = &d->q[s];
    m->y1[0] = dc_qlookup[QI(q + dq_y1dc)];
    m->y1[1] = (int16_t)ac_qlookup[QI(q)];
    m->y2[0] = (int16_t)(dc_qlookup[QI(q + dq_y2dc)] * 2);
    int y2ac = ac_qlookup[QI(q + dq_y2ac)] * 155 / 100;
    m->y2[1] = (int16_t)(y2ac < 8 ? 8 : y2ac);
    int uvdc = dc_qlookup[QI(q + dq_uvdc)];
    m->uv[0] = (int16_t)(uvdc > 132 ? 132 : uvdc);
    m->uv[1] = (int16_t)ac_qlookup[QI(q + dq_uvac)];
#undef QI
  }
  get_bit(b, 128); /* refresh_entropy_probs: meaningless for a single frame */
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 8; j++)
      for (int k = 0; k < 3; k++)
        for (int l = 0; l < 11; l++)
          d->coeff_probs[i][j][k][l] = get_bit(b, coeff_update_probs[i][j][k][l]) ? (uint8_t)get_literal(b, 8)
                                                                                   : default_coeff_probs[i][j][k][l];
  d->use_skip = get_bit(b, 128);
  d->skip_prob = d->use_skip ? get_literal(b, 8) : 0;
  if (bool_overrun(b)) return "webp: truncated VP8 frame header";
  return NULL;
}

/* ---------------------------------------------------------------------------------------------------------
 * Coefficients. */

/* Reads one block's tokens from position `n` into out (natural order, dequantised, 16-bit like the RFC's
 * stores) and returns the position after the last token read: 0..16. */
static int read_coeffs(bool_dec *br, uint8_t (*probs)[3][11], int ctx, const int16_t dq[2], int n,
                       int16_t *out) {
  const uint8_t *p = probs[coeff_bands[n]][ctx];
  for (; n < 16; n++) {
    if (!get_bit(br, p[0])) return n; /* end of block */
    while (!get_bit(br, p[1])) {      /* DCT_0: the next token cannot be end of block */
      if (++n == 16) return 16;
      p = probs[coeff_bands[n]][0];
    }
    int v, next_ctx;
    if (!get_bit(br, p[2])) {
      v = 1, next_ctx = 1;
    } else {
      next_ctx = 2;
      if (!get_bit(br, p[3])) {
        v = !get_bit(br, p[4]) ? 2 : 3 + get_bit(br, p[5]);
      } else if (!get_bit(br, p[6])) {
        if (!get_bit(br, p[7])) v = 5 + get_bit(br, 159); /* cat1 */
        else v = 7 + 2 * get_bit(br, 165) + get_bit(br, 145); /* cat2 */
      } else {
        const uint8_t *cat;
        int base;
        if (!get_bit(br, p[8])) {
          if (!get_bit(br, p[9])) cat = pcat3, base = 11;
          else cat = pcat4, base = 19;
        } else {
          if (!get_bit(br, p[10])) cat = pcat5, base = 35;
          else cat = pcat6, base = 67;
        }
        int extra = 0;
        for (; *cat; cat++) extra = 2 * extra + get_bit(br, *cat);
        v = base + extra;
      }
    }
    if (get_bit(br, 128)) v = -v;
    int32_t dqv = v * dq[n > 0];
    out[zigzag[n]] = (int16_t)(((dqv + 32768) & 0xffff) - 32768); /* wrap like a 16-bit store */
    if (n + 1 < 16) p = probs[coeff_bands[n + 1]][next_ctx];
  }
  return 16;
}

/* ---------------------------------------------------------------------------------------------------------
 * Inverse transforms (RFC 6386 section 14). */

static void inv_wht(const int16_t in[16], int16_t out[16]) {
  int t[16];
  for (int i = 0; i < 4; i++) {
    int a1 = in[i] + in[12 + i], b1 = in[4 + i] + in[8 + i];
    int c1 = in[4 + i] - in[8 + i], d1 = in[i] - in[12 + i];
    t[i] = a1 + b1, t[4 + i] = c1 + d1, t[8 + i] = a1 - b1, t[12 + i] = d1 - c1;
  }
  for (int i = 0; i < 4; i++) {
    int a1 = t[4 * i] + t[4 * i + 3], b1 = t[4 * i + 1] + t[4 * i + 2];
    int c1 = t[4 * i + 1] - t[4 * i + 2], d1 = t[4 * i] - t[4 * i + 3];
    out[4 * i] = (int16_t)((a1 + b1 + 3) >> 3);
    out[4 * i + 1] = (int16_t)((c1 + d1 + 3) >> 3);
    out[4 * i + 2] = (int16_t)((a1 - b1 + 3) >> 3);
    out[4 * i + 3] = (int16_t)((d1 - c1 + 3) >> 3);
  }
}

/* x * sqrt(2) * cos(pi/8) and x * sqrt(2) * sin(pi/8) in 16-bit fixed point (64-bit to avoid overflow). */
static int mul_c(int x) { return (int)(((int64_t)x * 20091) >> 16) + x; }
static int mul_s(int x) { return (int)(((int64_t)x * 35468) >> 16); }

static uint8_t clamp255(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Adds the inverse DCT of in (natural order) to the 4x4 block at dst. */
static void idct_add(const int16_t in[16], uint8_t *dst, int stride) {
  int t[16];
  for (int i = 0; i < 4; i++) { /* vertical pass */
    int a1 = in[i] + in[8 + i], b1 = in[i] - in[8 + i];
    int c1 = mul_s(in[4 + i]) - mul_c(in[12 + i]);
    int d1 = mul_c(in[4 + i]) + mul_s(in[12 + i]);
    t[i] = a1 + d1, t[12 + i] = a1 - d1, t[4 + i] = b1 + c1, t[8 + i] = b1 - c1;
  }
  for (int i = 0; i < 4; i++) { /* horizontal pass */
    const int *r = t + 4 * i;
    int a1 = r[0] + r[2], b1 = r[0] - r[2];
    int c1 = mul_s(r[1]) - mul_c(r[3]);
    int d1 = mul_c(r[1]) + mul_s(r[3]);
    uint8_t *o = dst + i * stride;
    o[0] = clamp255(o[0] + ((a1 + d1 + 4) >> 3));
    o[3] = clamp255(o[3] + ((a1 - d1 + 4) >> 3));
    o[1] = clamp255(o[1] + ((b1 + c1 + 4) >> 3));
    o[2] = clamp255(o[2] + ((b1 - c1 + 4) >> 3));
  }
}

static bool block_nonzero(const int16_t c[16]) {
  for (int i = 0; i < 16; i++)
    if (c[i]) return true;
  return false;
}

/* ---------------------------------------------------------------------------------------------------------
 * Intra prediction (RFC 6386 section 12). The frame is framed by 127 above (the corner too) and 129 to the
 * left. */

/* Edges of the n x n block at (x0, y0): above[0..n-1], left[0..n-1] and the corner. */
static void block_edges(const uint8_t *pl, int stride, int x0, int y0, int n, uint8_t *above, uint8_t *left,
                        uint8_t *corner) {
  for (int i = 0; i < n; i++) {
    above[i] = y0 ? pl[(size_t)(y0 - 1) * stride + x0 + i] : 127;
    left[i] = x0 ? pl[(size_t)(y0 + i) * stride + x0 - 1] : 129;
  }
  *corner = !y0 ? 127 : !x0 ? 129 : pl[(size_t)(y0 - 1) * stride + x0 - 1];
}

/* Whole-block modes for luma (n = 16) and chroma (n = 8); DC uses only the edges inside the frame. */
static void predict_block(uint8_t *pl, int stride, int x0, int y0, int n, int mode) {
  uint8_t a[16], l[16], p;
  block_edges(pl, stride, x0, y0, n, a, l, &p);
  uint8_t *dst = pl + (size_t)y0 * stride + x0;
  int shift = n == 16 ? 4 : 3;
  for (int r = 0; r < n; r++) {
    uint8_t *o = dst + (size_t)r * stride;
    switch (mode) {
    case M_DC: {
      if (r == 0) {
        int s = 0;
        if (x0 && y0) {
          for (int i = 0; i < n; i++) s += a[i] + l[i];
          p = (uint8_t)((s + n) >> (shift + 1));
        } else if (y0) {
          for (int i = 0; i < n; i++) s += a[i];
          p = (uint8_t)((s + n / 2) >> shift);
        } else if (x0) {
          for (int i = 0; i < n; i++) s += l[i];
          p = (uint8_t)((s + n / 2) >> shift);
        } else {
          p = 128;
        }
      }
      memset(o, p, (size_t)n);
      break;
    }
    case M_V: memcpy(o, a, (size_t)n); break;
    case M_H: memset(o, l[r], (size_t)n); break;
    default:
      for (int c = 0; c < n; c++) o[c] = clamp255(l[r] + a[c] - p);
      break;
    }
  }
}

static uint8_t avg3(int x, int y, int z) { return (uint8_t)((x + 2 * y + z + 2) >> 2); }
static uint8_t avg2(int x, int y) { return (uint8_t)((x + y + 1) >> 1); }

/* One 4x4 luma subblock: A[-1] is the corner, A[0..7] the row above (4 of them above and right), L[0..3]
 * the column to the left. */
static void predict_sub(uint8_t *dst, int stride, const uint8_t *A, const uint8_t *L, int mode) {
  uint8_t B[4][4];
  uint8_t E[9]; /* the edge from bottom-left, through the corner, to top-right */
  E[0] = L[3], E[1] = L[2], E[2] = L[1], E[3] = L[0], E[4] = A[-1];
  E[5] = A[0], E[6] = A[1], E[7] = A[2], E[8] = A[3];
  switch (mode) {
  case B_DC: {
    int v = 4;
    for (int i = 0; i < 4; i++) v += A[i] + L[i];
    memset(B, v >> 3, sizeof B);
    break;
  }
  case B_TM:
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++) B[r][c] = clamp255(L[r] + A[c] - A[-1]);
    break;
  case B_VE:
    for (int c = 0; c < 4; c++) B[0][c] = B[1][c] = B[2][c] = B[3][c] = avg3(A[c - 1], A[c], A[c + 1]);
    break;
  case B_HE: {
    uint8_t v[4] = {avg3(A[-1], L[0], L[1]), avg3(L[0], L[1], L[2]), avg3(L[1], L[2], L[3]),
                    avg3(L[2], L[3], L[3])};
    for (int r = 0; r < 4; r++) memset(B[r], v[r], 4);
    break;
  }
  case B_LD:
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++)
        B[r][c] = r + c == 6 ? avg3(A[6], A[7], A[7]) : avg3(A[r + c], A[r + c + 1], A[r + c + 2]);
    break;
  case B_RD: /* lines of slope 1 through the edge: (r, c) takes E around index 4 - r + c */
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 4; c++) {
        int k = 4 - r + c;
        B[r][c] = avg3(E[k - 1], E[k], E[k + 1]);
      }
    break;
  case B_VR:
    B[3][0] = avg3(E[1], E[2], E[3]);
    B[2][0] = avg3(E[2], E[3], E[4]);
    B[3][1] = B[1][0] = avg3(E[3], E[4], E[5]);
    B[2][1] = B[0][0] = avg2(E[4], E[5]);
    B[3][2] = B[1][1] = avg3(E[4], E[5], E[6]);
    B[2][2] = B[0][1] = avg2(E[5], E[6]);
    B[3][3] = B[1][2] = avg3(E[5], E[6], E[7]);
    B[2][3] = B[0][2] = avg2(E[6], E[7]);
    B[1][3] = avg3(E[6], E[7], E[8]);
    B[0][3] = avg2(E[7], E[8]);
    break;
  case B_VL:
    B[0][0] = avg2(A[0], A[1]);
    B[1][0] = avg3(A[0], A[1], A[2]);
    B[2][0] = B[0][1] = avg2(A[1], A[2]);
    B[1][1] = B[3][0] = avg3(A[1], A[2], A[3]);
    B[2][1] = B[0][2] = avg2(A[2], A[3]);
    B[3][1] = B[1][2] = avg3(A[2], A[3], A[4]);
    B[2][2] = B[0][3] = avg2(A[3], A[4]);
    B[3][2] = B[1][3] = avg3(A[3], A[4], A[5]);
    B[2][3] = avg3(A[4], A[5], A[6]);
    B[3][3] = avg3(A[5], A[6], A[7]);
    break;
  case B_HD:
    B[3][0] = avg2(E[0], E[1]);
    B[3][1] = avg3(E[0], E[1], E[2]);
    B[2][0] = B[3][2] = avg2(E[1], E[2]);
    B[2][1] = B[3][3] = avg3(E[1], E[2], E[3]);
    B[2][2] = B[1][0] = avg2(E[2], E[3]);
    B[2][3] = B[1][1] = avg3(E[2], E[3], E[4]);
    B[1][2] = B[0][0] = avg2(E[3], E[4]);
    B[1][3] = B[0][1] = avg3(E[3], E[4], E[5]);
    B[0][2] = avg3(E[4], E[5], E[6]);
    B[0][3] = avg3(E[5], E[6], E[7]);
    break;
  default: /* B_HU */
    B[0][0] = avg2(L[0], L[1]);
    B[0][1] = avg3(L[0], L[1], L[2]);
    B[0][2] = B[1][0] = avg2(L[1], L[2]);
    B[0][3] = B[1][1] = avg3(L[1], L[2], L[3]);
    B[1][2] = B[2][0] = avg2(L[2], L[3]);
    B[1][3] = B[2][1] = avg3(L[2], L[3], L[3]);
    B[2][2] = B[2][3] = B[3][0] = B[3][1] = B[3][2] = B[3][3] = L[3];
    break;
  }
  for (int r = 0; r < 4; r++) memcpy(dst + (size_t)r * stride, B[r], 4);
}

/* ---------------------------------------------------------------------------------------------------------
 * Macroblocks. */

static int read_bmode(bool_dec *b, const uint8_t *p) {
  if (!get_bit(b, p[0])) return B_DC;
  if (!get_bit(b, p[1])) return B_TM;
  if (!get_bit(b, p[2])) return B_VE;
  if (!get_bit(b, p[3])) {
    if (!get_bit(b, p[4])) return B_HE;
    return get_bit(b, p[5]) ? B_VR : B_RD;
  }
  if (!get_bit(b, p[6])) return B_LD;
  if (!get_bit(b, p[7])) return B_VL;
  return get_bit(b, p[8]) ? B_HU : B_HD;
}

static void decode_mb(vp8_dec *d, int mx, int my, uint8_t *left_bmodes, uint8_t *left_nz, bool_dec *tb) {
  bool_dec *b = &d->hdr;
  int seg = 0;
  if (d->seg_update_map) seg = !get_bit(b, d->seg_probs[0]) ? get_bit(b, d->seg_probs[1])
                                                           : 2 + get_bit(b, d->seg_probs[2]);
  bool skip = d->use_skip ? get_bit(b, d->skip_prob) : false;

  /* prediction modes */
  uint8_t *above_b = d->above_bmodes + 4 * mx;
  uint8_t bmodes[16];
  int ymode;
  if (!get_bit(b, 145)) {
    ymode = M_B;
    for (int by = 0; by < 4; by++)
      for (int bx = 0; bx < 4; bx++) {
        int a = by ? bmodes[4 * (by - 1) + bx] : above_b[bx];
        int l = bx ? bmodes[4 * by + bx - 1] : left_bmodes[by];
        bmodes[4 * by + bx] = (uint8_t)read_bmode(b, kf_bmode_probs[a][l]);
      }
  } else {
    if (!get_bit(b, 156)) ymode = get_bit(b, 163) ? M_V : M_DC;
    else ymode = get_bit(b, 128) ? M_TM : M_H;
    static const uint8_t implied[4] = {B_DC, B_VE, B_HE, B_TM};
    memset(bmodes, implied[ymode], 16);
  }
  for (int i = 0; i < 4; i++) above_b[i] = bmodes[12 + i], left_bmodes[i] = bmodes[4 * i + 3];
  int uvmode = !get_bit(b, 142) ? M_DC : !get_bit(b, 114) ? M_V : !get_bit(b, 183) ? M_H : M_TM;

  /* residual tokens */
  int16_t coef[25][16];
  memset(coef, 0, sizeof coef);
  uint8_t *above_nz = d->above_nz + 9 * mx;
  const quant *q = &d->q[seg];
  bool any = false; /* whether any block has data: the inner edges of such macroblocks are filtered */
  if (!skip) {
    int first = 0;
    uint8_t(*yprobs)[3][11] = d->coeff_probs[3];
    if (ymode != M_B) {
      int16_t y2[16] = {0};
      int nz = read_coeffs(tb, d->coeff_probs[1], above_nz[8] + left_nz[8], q->y2, 0, y2);
      above_nz[8] = left_nz[8] = nz > 0;
      int16_t dc[16];
      inv_wht(y2, dc);
      for (int i = 0; i < 16; i++) coef[i][0] = dc[i];
      first = 1;
      yprobs = d->coeff_probs[0];
    }
    for (int by = 0; by < 4; by++)
      for (int bx = 0; bx < 4; bx++) {
        int16_t *c = coef[4 * by + bx];
        int nz = read_coeffs(tb, yprobs, above_nz[bx] + left_nz[by], q->y1, first, c);
        above_nz[bx] = left_nz[by] = nz > first;
        if (nz > 1 || c[0]) any = true;
      }
    for (int pl = 0; pl < 2; pl++)
      for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 2; bx++) {
          int16_t *c = coef[16 + 4 * pl + 2 * by + bx];
          int nz = read_coeffs(tb, d->coeff_probs[2], above_nz[4 + 2 * pl + bx] + left_nz[4 + 2 * pl + by], q->uv,
                               0, c);
          above_nz[4 + 2 * pl + bx] = left_nz[4 + 2 * pl + by] = nz > 0;
          if (nz) any = true;
        }
  } else {
    /* a skipped macroblock resets the contexts, except Y2's when it has no Y2 block */
    memset(above_nz, 0, 8), memset(left_nz, 0, 8);
    if (ymode != M_B) above_nz[8] = left_nz[8] = 0;
  }

  /* reconstruction */
  int x0 = 16 * mx, y0 = 16 * my, ys = d->ys;
  if (ymode == M_B) {
    for (int by = 0; by < 4; by++)
      for (int bx = 0; bx < 4; bx++) {
        int x = x0 + 4 * bx, y = y0 + 4 * by;
        uint8_t edge[9], *A = edge + 1, L[4];
        block_edges(d->y, ys, x, y, 4, A, L, &edge[0]);
        /* above-right: from the row above the macroblock for the right column; 127 on the first row;
         * the last macroblock of a row repeats the pixel above its top-right corner */
        if (by == 0 || bx < 3) {
          int ay = bx == 3 ? y0 - 1 : y - 1;
          for (int i = 0; i < 4; i++) {
            int ax = x + 4 + i;
            if (ay < 0) A[4 + i] = 127;
            else if (ax >= 16 * d->mbw) A[4 + i] = d->y[(size_t)ay * ys + 16 * d->mbw - 1];
            else A[4 + i] = d->y[(size_t)ay * ys + ax];
          }
        } else {
          for (int i = 0; i < 4; i++) {
            int ax = x0 + 16 + i;
            if (y0 == 0) A[4 + i] = 127;
            else if (ax >= 16 * d->mbw) A[4 + i] = d->y[(size_t)(y0 - 1) * ys + 16 * d->mbw - 1];
            else A[4 + i] = d->y[(size_t)(y0 - 1) * ys + ax];
          }
        }
        uint8_t *dst = d->y + (size_t)y * ys + x;
        predict_sub(dst, ys, A, L, bmodes[4 * by + bx]);
        if (block_nonzero(coef[4 * by + bx])) idct_add(coef[4 * by + bx], dst, ys);
      }
  } else {
    predict_block(d->y, ys, x0, y0, 16, ymode);
    for (int i = 0; i < 16; i++)
      if (block_nonzero(coef[i])) idct_add(coef[i], d->y + (size_t)(y0 + 4 * (i >> 2)) * ys + x0 + 4 * (i & 3), ys);
  }
  for (int pl = 0; pl < 2; pl++) {
    uint8_t *plane = pl ? d->v : d->u;
    predict_block(plane, d->uvs, x0 / 2, y0 / 2, 8, uvmode);
    for (int i = 0; i < 4; i++) {
      const int16_t *c = coef[16 + 4 * pl + i];
      if (block_nonzero(c))
        idct_add(c, plane + (size_t)(y0 / 2 + 4 * (i >> 1)) * d->uvs + x0 / 2 + 4 * (i & 1), d->uvs);
    }
  }

  /* loop filter strength of this macroblock */
  int level = d->filter_level;
  if (d->seg_enabled) level = d->seg_lf[seg] + (d->seg_absolute ? 0 : d->filter_level);
  if (d->lf_delta) {
    level += d->ref_lf_delta[0]; /* intra frame */
    if (ymode == M_B) level += d->mode_lf_delta[0];
  }
  size_t mi = (size_t)my * d->mbw + mx;
  d->lf_level[mi] = (uint8_t)(level < 0 ? 0 : level > 63 ? 63 : level);
  d->lf_inner[mi] = ymode == M_B || any;
}

/* ---------------------------------------------------------------------------------------------------------
 * Loop filter (RFC 6386 section 15). `step` goes across the edge, `along` along it. */

static int sclamp(int v) { return v < -128 ? -128 : v > 127 ? 127 : v; }
static int iabs(int v) { return v < 0 ? -v : v; }

/* The common adjustment of p0/q0; returns a for the callers that go on. */
static int common_adjust(uint8_t *px, int step, bool outer) {
  int p1 = px[-2 * step] - 128, p0 = px[-step] - 128, q0 = px[0] - 128, q1 = px[step] - 128;
  int a = sclamp((outer ? sclamp(p1 - q1) : 0) + 3 * (q0 - p0));
  int b = sclamp(a + 3) >> 3;
  a = sclamp(a + 4) >> 3;
  px[0] = (uint8_t)(sclamp(q0 - a) + 128);
  px[-step] = (uint8_t)(sclamp(p0 + b) + 128);
  return a;
}

static bool simple_ok(const uint8_t *px, int step, int edge) {
  return iabs(px[-step] - px[0]) * 2 + iabs(px[-2 * step] - px[step]) / 2 <= edge;
}

static bool normal_ok(const uint8_t *px, int step, int edge, int interior) {
  int p3 = px[-4 * step], p2 = px[-3 * step], p1 = px[-2 * step], p0 = px[-step];
  int q0 = px[0], q1 = px[step], q2 = px[2 * step], q3 = px[3 * step];
  return iabs(p0 - q0) * 2 + iabs(p1 - q1) / 2 <= edge && iabs(p3 - p2) <= interior && iabs(p2 - p1) <= interior &&
         iabs(p1 - p0) <= interior && iabs(q3 - q2) <= interior && iabs(q2 - q1) <= interior &&
         iabs(q1 - q0) <= interior;
}

static bool high_variance(const uint8_t *px, int step, int thresh) {
  return iabs(px[-2 * step] - px[-step]) > thresh || iabs(px[step] - px[0]) > thresh;
}

static void filter_simple(uint8_t *px, int step, int along, int n, int edge) {
  for (int i = 0; i < n; i++, px += along)
    if (simple_ok(px, step, edge)) common_adjust(px, step, true);
}

static void filter_subblock(uint8_t *px, int step, int along, int n, int edge, int interior, int hev) {
  for (int i = 0; i < n; i++, px += along) {
    if (!normal_ok(px, step, edge, interior)) continue;
    bool hv = high_variance(px, step, hev);
    int a = (common_adjust(px, step, hv) + 1) >> 1;
    if (!hv) {
      px[step] = (uint8_t)(sclamp(px[step] - 128 - a) + 128);
      px[-2 * step] = (uint8_t)(sclamp(px[-2 * step] - 128 + a) + 128);
    }
  }
}

static void filter_mb_edge(uint8_t *px, int step, int along, int n, int edge, int interior, int hev) {
  for (int i = 0; i < n; i++, px += along) {
    if (!normal_ok(px, step, edge, interior)) continue;
    if (high_variance(px, step, hev)) {
      common_adjust(px, step, true);
      continue;
    }
    int p2 = px[-3 * step] - 128, p1 = px[-2 * step] - 128, p0 = px[-step] - 128;
    int q0 = px[0] - 128, q1 = px[step] - 128, q2 = px[2 * step] - 128;
    int w = sclamp(sclamp(p1 - q1) + 3 * (q0 - p0));
    int a = sclamp((27 * w + 63) >> 7);
    px[0] = (uint8_t)(sclamp(q0 - a) + 128), px[-step] = (uint8_t)(sclamp(p0 + a) + 128);
    a = sclamp((18 * w + 63) >> 7);
    px[step] = (uint8_t)(sclamp(q1 - a) + 128), px[-2 * step] = (uint8_t)(sclamp(p1 + a) + 128);
    a = sclamp((9 * w + 63) >> 7);
    px[2 * step] = (uint8_t)(sclamp(q2 - a) + 128), px[-3 * step] = (uint8_t)(sclamp(p2 + a) + 128);
  }
}

static void loop_filter(vp8_dec *d) {
  int ys = d->ys, uvs = d->uvs;
  for (int my = 0; my < d->mbh; my++)
    for (int mx = 0; mx < d->mbw; mx++) {
      size_t mi = (size_t)my * d->mbw + mx;
      int level = d->lf_level[mi];
      if (!level) continue;
      int interior = level;
      if (d->sharpness) {
        interior >>= d->sharpness > 4 ? 2 : 1;
        if (interior > 9 - d->sharpness) interior = 9 - d->sharpness;
      }
      if (!interior) interior = 1;
      int hev = level >= 40 ? 2 : level >= 15 ? 1 : 0;
      int mb_edge = (level + 2) * 2 + interior, sub_edge = level * 2 + interior;
      bool inner = d->lf_inner[mi];
      uint8_t *y = d->y + (size_t)16 * my * ys + 16 * mx;
      uint8_t *u = d->u + (size_t)8 * my * uvs + 8 * mx, *v = d->v + (size_t)8 * my * uvs + 8 * mx;
      if (d->simple_filter) {
        if (mx) filter_simple(y, 1, ys, 16, mb_edge);
        if (inner)
          for (int k = 4; k < 16; k += 4) filter_simple(y + k, 1, ys, 16, sub_edge);
        if (my) filter_simple(y, ys, 1, 16, mb_edge);
        if (inner)
          for (int k = 4; k < 16; k += 4) filter_simple(y + (size_t)k * ys, ys, 1, 16, sub_edge);
        continue;
      }
      if (mx) {
        filter_mb_edge(y, 1, ys, 16, mb_edge, interior, hev);
        filter_mb_edge(u, 1, uvs, 8, mb_edge, interior, hev);
        filter_mb_edge(v, 1, uvs, 8, mb_edge, interior, hev);
      }
      if (inner) {
        for (int k = 4; k < 16; k += 4) filter_subblock(y + k, 1, ys, 16, sub_edge, interior, hev);
        filter_subblock(u + 4, 1, uvs, 8, sub_edge, interior, hev);
        filter_subblock(v + 4, 1, uvs, 8, sub_edge, interior, hev);
      }
      if (my) {
        filter_mb_edge(y, ys, 1, 16, mb_edge, interior, hev);
        filter_mb_edge(u, uvs, 1, 8, mb_edge, interior, hev);
        filter_mb_edge(v, uvs, 1, 8, mb_edge, interior, hev);
      }
      if (inner) {
        for (int k = 4; k < 16; k += 4) filter_subblock(y + (size_t)k * ys, ys, 1, 16, sub_edge, interior, hev);
        filter_subblock(u + (size_t)4 * uvs, uvs, 1, 8, sub_edge, interior, hev);
        filter_subblock(v + (size_t)4 * uvs, uvs, 1, 8, sub_edge, interior, hev);
      }
    }
}

/* ---------------------------------------------------------------------------------------------------------
 * YCbCr -> RGB with libwebp's fancy upsampling. */

/* (v * coeff) >> 8 keeps 6 fractional bits of 14-bit coefficients; the offsets fold in -16, -128 and the
 * rounding half. */
static uint8_t clip_fix6(int v) { return (uint8_t)(v < 0 ? 0 : v > 16383 ? 255 : v >> 6); }

static void yuv_to_rgb(int y, int u, int v, uint8_t *rgb) {
  int yy = (y * 19077) >> 8;
  rgb[0] = clip_fix6(yy + ((v * 26149) >> 8) - 14234);
  rgb[1] = clip_fix6(yy - ((u * 6419) >> 8) - ((v * 13320) >> 8) + 8708);
  rgb[2] = clip_fix6(yy + ((u * 33050) >> 8) - 17685);
}

/* Converts one output row whose chroma lies between chroma row `near` (weight 3) and `far` (weight 1):
 * horizontally, a pair of outputs sits between two chroma samples; the 9-3-3-1 weighting is computed as
 * the mean of a diagonal average and the nearest sample, with libwebp's rounding. */
static void upsample_row(const uint8_t *y, const uint8_t *nu, const uint8_t *nv, const uint8_t *fu,
                         const uint8_t *fv, int w, uint8_t *out) {
  int u0 = (3 * nu[0] + fu[0] + 2) >> 2, v0 = (3 * nv[0] + fv[0] + 2) >> 2;
  yuv_to_rgb(y[0], u0, v0, out);
  int last_pair = (w - 1) >> 1;
  for (int x = 1; x <= last_pair; x++) {
    int cu[2], cv[2];
    for (int k = 0; k < 2; k++) {
      const uint8_t *n = k ? nv : nu, *f = k ? fv : fu;
      int near_l = n[x - 1], near_r = n[x], far_l = f[x - 1], far_r = f[x];
      int avg = near_l + near_r + far_l + far_r + 8;
      int diag_l = (avg + 2 * (near_r + far_l)) >> 3; /* weighted towards near_r and far_l */
      int diag_r = (avg + 2 * (near_l + far_r)) >> 3;
      int left = (diag_l + near_l) >> 1, right = (diag_r + near_r) >> 1;
      if (k) cv[0] = left, cv[1] = right;
      else cu[0] = left, cu[1] = right;
    }
    yuv_to_rgb(y[2 * x - 1], cu[0], cv[0], out + 3 * (2 * x - 1));
    yuv_to_rgb(y[2 * x], cu[1], cv[1], out + 3 * (2 * x));
  }
  if (!(w & 1)) {
    int h = last_pair;
    int ul = (3 * nu[h] + fu[h] + 2) >> 2, vl = (3 * nv[h] + fv[h] + 2) >> 2;
    yuv_to_rgb(y[w - 1], ul, vl, out + 3 * (w - 1));
  }
}

static void convert(const vp8_dec *d, oxrt_image *img) {
  int w = d->width, h = d->height;
  for (int r = 0; r < h; r++) {
    /* odd rows lean on the chroma row above them, even rows on the one below; the first row, and the last
     * one of an even height, have a single chroma row */
    int cn, cf;
    if (r == 0) cn = cf = 0;
    else if (r & 1) cn = r >> 1, cf = r == h - 1 ? cn : cn + 1;
    else cn = r >> 1, cf = cn - 1;
    const uint8_t *nu = d->u + (size_t)cn * d->uvs, *nv = d->v + (size_t)cn * d->uvs;
    const uint8_t *fu = d->u + (size_t)cf * d->uvs, *fv = d->v + (size_t)cf * d->uvs;
    upsample_row(d->y + (size_t)r * d->ys, nu, nv, fu, fv, w, img->rgb + (size_t)r * w * 3);
  }
}

static void free_vp8(vp8_dec *d) {
  free(d->y), free(d->u), free(d->v);
  free(d->lf_level), free(d->lf_inner), free(d->above_bmodes), free(d->above_nz);
}

static const char *decode_vp8(const uint8_t *data, size_t size, oxrt_image *img, int want_w, int want_h) {
  vp8_dec d;
  memset(&d, 0, sizeof d);
  const char *err = parse_header(&d, data, size);
  if (err) return err;
  if (want_w && (d.width != want_w || d.height != want_h)) return "webp: VP8X canvas and frame sizes differ";
  err = oxrt_image_alloc(img, d.width, d.height);
  if (err) return err;
  d.ys = 16 * d.mbw, d.uvs = 8 * d.mbw;
  size_t mbs = (size_t)d.mbw * d.mbh;
  d.y = malloc(mbs * 256), d.u = malloc(mbs * 64), d.v = malloc(mbs * 64);
  d.lf_level = malloc(mbs), d.lf_inner = malloc(mbs);
  d.above_bmodes = calloc((size_t)d.mbw, 4), d.above_nz = calloc((size_t)d.mbw, 9);
  if (!d.y || !d.u || !d.v || !d.lf_level || !d.lf_inner || !d.above_bmodes || !d.above_nz)
    err = "webp: out of memory";
  for (int my = 0; my < d.mbh && !err; my++) {
    uint8_t left_bmodes[4] = {0}, left_nz[9] = {0};
    bool_dec *tb = &d.parts[my & (d.nparts - 1)];
    for (int mx = 0; mx < d.mbw; mx++) decode_mb(&d, mx, my, left_bmodes, left_nz, tb);
    if (bool_overrun(&d.hdr)) err = "webp: truncated VP8 first partition";
    else if (bool_overrun(tb)) err = "webp: truncated VP8 token partition";
  }
  if (!err) {
    if (d.filter_level) loop_filter(&d); /* a zero frame level disables filtering, whatever the segments say */
    convert(&d, img);
  }
  free_vp8(&d);
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}

/* ---------------------------------------------------------------------------------------------------------
 * VP8L lossless (WebP lossless bitstream specification). Pixels are ARGB in a uint32_t. */

typedef struct {
  const uint8_t *p;
  size_t n, pos;   /* bytes */
  uint64_t bits;   /* unread bits, least significant first */
  int nbits;
  bool overrun;    /* bits past the end were asked for: the file is truncated */
} lbits;

static uint32_t read_bits(lbits *b, int n) {
  while (b->nbits < n) {
    if (b->pos < b->n) b->bits |= (uint64_t)b->p[b->pos++] << b->nbits;
    else b->overrun = true;
    b->nbits += 8;
  }
  uint32_t v = (uint32_t)(b->bits & (((uint64_t)1 << n) - 1));
  b->bits >>= n, b->nbits -= n;
  return v;
}

/* A canonical prefix code (codes read most significant bit first, like DEFLATE's). */
typedef struct {
  uint16_t count[16];
  uint16_t *sym; /* symbols ordered by code length, then value */
  int single;    /* >= 0: the only symbol, which takes no bits */
} lcode;

/* Builds a code from lengths; fails unless it is complete or has exactly one symbol. */
static bool build_code(lcode *c, const uint8_t *len, int n) {
  memset(c->count, 0, sizeof c->count);
  int used = 0, last = -1;
  for (int i = 0; i < n; i++)
    if (len[i]) c->count[len[i]]++, used++, last = i;
  c->single = used == 1 ? last : -1;
  if (used == 0) return false;
  int offs[16], left = 1;
  for (int l = 1; l < 16; l++) {
    left = 2 * left - c->count[l];
    if (left < 0) return false;
  }
  if (used > 1 && left) return false;
  offs[1] = 0;
  for (int l = 1; l < 15; l++) offs[l + 1] = offs[l] + c->count[l];
  c->sym = malloc((size_t)used * sizeof *c->sym);
  if (!c->sym) return false;
  for (int i = 0; i < n; i++)
    if (len[i]) c->sym[offs[len[i]]++] = (uint16_t)i;
  return true;
}

static int read_symbol(lbits *b, const lcode *c) {
  if (c->single >= 0) return c->single;
  int code = 0, first = 0, index = 0;
  for (int l = 1; l < 16; l++) {
    code |= (int)read_bits(b, 1);
    int cnt = c->count[l];
    if (code - first < cnt) return c->sym[index + code - first];
    index += cnt, first += cnt;
    first <<= 1, code <<= 1;
  }
  return 0; /* unreachable for a complete code */
}

static const char *read_code(lbits *b, int alphabet, lcode *out) {
  uint8_t *len = calloc((size_t)alphabet, 1);
  if (!len) return "webp: out of memory";
  const char *err = NULL;
  if (read_bits(b, 1)) { /* simple code: one or two symbols */
    int nsym = (int)read_bits(b, 1) + 1;
    int s0 = (int)read_bits(b, read_bits(b, 1) ? 8 : 1);
    if (s0 < alphabet) len[s0] = 1;
    else err = "webp: bad lossless prefix code";
    if (nsym == 2) {
      int s1 = (int)read_bits(b, 8);
      if (s1 < alphabet) len[s1] = 1;
      else err = "webp: bad lossless prefix code";
    }
  } else {
    static const uint8_t order[19] = {17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    uint8_t cl_len[19] = {0};
    int ncl = (int)read_bits(b, 4) + 4;
    for (int i = 0; i < ncl; i++) cl_len[order[i]] = (uint8_t)read_bits(b, 3);
    lcode cl = {.sym = NULL};
    if (!build_code(&cl, cl_len, 19)) {
      err = "webp: bad lossless code-length code";
    } else {
      int max_sym = alphabet;
      if (read_bits(b, 1)) {
        int nb = 2 + 2 * (int)read_bits(b, 3);
        max_sym = 2 + (int)read_bits(b, nb);
        if (max_sym > alphabet) err = "webp: bad lossless code lengths";
      }
      int sym = 0, prev = 8;
      while (!err && sym < alphabet && max_sym-- > 0 && !b->overrun) {
        int v = read_symbol(b, &cl);
        if (v < 16) {
          len[sym++] = (uint8_t)v;
          if (v) prev = v;
          continue;
        }
        int rep = v == 16 ? 3 + (int)read_bits(b, 2) : v == 17 ? 3 + (int)read_bits(b, 3) : 11 + (int)read_bits(b, 7);
        if (sym + rep > alphabet) {
          err = "webp: bad lossless code lengths";
          break;
        }
        memset(len + sym, v == 16 ? prev : 0, (size_t)rep);
        sym += rep;
      }
    }
    free(cl.sym);
  }
  if (!err && b->overrun) err = "webp: truncated lossless data";
  if (!err && !build_code(out, len, alphabet)) err = "webp: bad lossless prefix code";
  free(len);
  return err;
}

/* Offsets (x, y) of the 120 short distance codes. */
static const int8_t dist_map[120][2] = {
    {0, 1},  {1, 0},  {1, 1},  {-1, 1}, {0, 2},  {2, 0},  {1, 2},  {-1, 2}, {2, 1},  {-2, 1}, {2, 2},  {-2, 2},
    {0, 3},  {3, 0},  {1, 3},  {-1, 3}, {3, 1},  {-3, 1}, {2, 3},  {-2, 3}, {3, 2},  {-3, 2}, {0, 4},  {4, 0},
    {1, 4},  {-1, 4}, {4, 1},  {-4, 1}, {3, 3},  {-3, 3}, {2, 4},  {-2, 4}, {4, 2},  {-4, 2}, {0, 5},  {3, 4},
    {-3, 4}, {4, 3},  {-4, 3}, {5, 0},  {1, 5},  {-1, 5}, {5, 1},  {-5, 1}, {2, 5},  {-2, 5}, {5, 2},  {-5, 2},
    {4, 4},  {-4, 4}, {3, 5},  {-3, 5}, {5, 3},  {-5, 3}, {0, 6},  {6, 0},  {1, 6},  {-1, 6}, {6, 1},  {-6, 1},
    {2, 6},  {-2, 6}, {6, 2},  {-6, 2}, {4, 5},  {-4, 5}, {5, 4},  {-5, 4}, {3, 6},  {-3, 6}, {6, 3},  {-6, 3},
    {0, 7},  {7, 0},  {1, 7},  {-1, 7}, {5, 5},  {-5, 5}, {7, 1},  {-7, 1}, {4, 6},  {-4, 6}, {6, 4},  {-6, 4},
    {2, 7},  {-2, 7}, {7, 2},  {-7, 2}, {3, 7},  {-3, 7}, {7, 3},  {-7, 3}, {5, 6},  {-5, 6}, {6, 5},  {-6, 5},
    {8, 0},  {4, 7},  {-4, 7}, {7, 4},  {-7, 4}, {8, 1},  {8, 2},  {6, 6},  {-6, 6}, {8, 3},  {5, 7},  {-5, 7},
    {7, 5},  {-7, 5}, {8, 4},  {6, 7},  {-6, 7}, {7, 6},  {-7, 6}, {8, 5},  {7, 7},  {-7, 7}, {8, 6},  {8, 7}};

/* LZ77 length or distance from its prefix symbol and extra bits. */
static uint32_t prefix_value(lbits *b, int sym) {
  if (sym < 4) return (uint32_t)sym + 1;
  int extra = (sym - 2) >> 1;
  return ((uint32_t)(2 + (sym & 1)) << extra) + read_bits(b, extra) + 1;
}

static int subsample(int size, int bits) { return (size + (1 << bits) - 1) >> bits; }

typedef struct {
  lcode c[5]; /* green+length+cache, red, blue, alpha, distance */
} lgroup;

static void free_groups(lgroup *g, int n) {
  if (!g) return;
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 5; k++) free(g[i].c[k].sym);
  free(g);
}

/* The prefix-coded pixels of a w x h image (the spec's "entropy-coded image"): colour cache, meta codes
 * (main image only), code groups, then the data. */
static const char *decode_stream(lbits *b, int w, int h, bool main, uint32_t **out) {
  *out = NULL;
  const char *err = NULL;
  int cache_bits = 0;
  if (read_bits(b, 1)) {
    cache_bits = (int)read_bits(b, 4);
    if (cache_bits < 1 || cache_bits > 11) return "webp: bad lossless colour cache size";
  }
  uint32_t *meta = NULL;
  int meta_bits = 0, meta_w = 0, ngroups = 1;
  if (main && read_bits(b, 1)) {
    meta_bits = (int)read_bits(b, 3) + 2;
    meta_w = subsample(w, meta_bits);
    err = decode_stream(b, meta_w, subsample(h, meta_bits), false, &meta);
    if (err) return err;
    size_t n = (size_t)meta_w * (size_t)subsample(h, meta_bits);
    for (size_t i = 0; i < n; i++) {
      meta[i] = (meta[i] >> 8) & 0xffff;
      if ((int)meta[i] >= ngroups) ngroups = (int)meta[i] + 1;
    }
  }
  lgroup *g = calloc((size_t)ngroups, sizeof *g);
  uint32_t *px = malloc((size_t)w * (size_t)h * sizeof *px);
  uint32_t *cache = cache_bits ? calloc((size_t)1 << cache_bits, sizeof *cache) : NULL;
  if (!g || !px || (cache_bits && !cache)) err = "webp: out of memory";
  const int alphabets[5] = {256 + 24 + (cache_bits ? 1 << cache_bits : 0), 256, 256, 256, 40};
  for (int i = 0; i < ngroups && !err; i++)
    for (int k = 0; k < 5 && !err; k++) err = read_code(b, alphabets[k], &g[i].c[k]);

  size_t total = (size_t)w * (size_t)h, pos = 0, cached = 0;
  while (!err && pos < total) {
    int x = (int)(pos % (size_t)w), y = (int)(pos / (size_t)w);
    const lgroup *gr = meta ? &g[meta[(size_t)(y >> meta_bits) * meta_w + (x >> meta_bits)]] : g;
    int s = read_symbol(b, &gr->c[0]);
    if (s < 256) {
      uint32_t r = (uint32_t)read_symbol(b, &gr->c[1]), bl = (uint32_t)read_symbol(b, &gr->c[2]);
      uint32_t a = (uint32_t)read_symbol(b, &gr->c[3]);
      px[pos++] = a << 24 | r << 16 | (uint32_t)s << 8 | bl;
    } else if (s < 256 + 24) {
      uint32_t len = prefix_value(b, s - 256);
      uint32_t code = prefix_value(b, read_symbol(b, &gr->c[4]));
      int64_t dist;
      if (code > 120) {
        dist = (int64_t)code - 120;
      } else {
        dist = (int64_t)dist_map[code - 1][1] * w + dist_map[code - 1][0];
        if (dist < 1) dist = 1;
      }
      if ((uint64_t)dist > pos || len > total - pos) {
        err = "webp: bad lossless back reference";
        break;
      }
      for (uint32_t i = 0; i < len; i++, pos++) px[pos] = px[pos - (size_t)dist];
    } else {
      if (!cache) {
        err = "webp: bad lossless symbol";
        break;
      }
      /* bring the cache up to date before looking into it */
      for (; cached < pos; cached++) cache[(0x1e35a7bdu * px[cached]) >> (32 - cache_bits)] = px[cached];
      px[pos++] = cache[s - 280];
    }
    if (cache)
      for (; cached < pos; cached++) cache[(0x1e35a7bdu * px[cached]) >> (32 - cache_bits)] = px[cached];
    if (b->overrun) err = "webp: truncated lossless data";
  }
  free_groups(g, ngroups);
  free(meta), free(cache);
  if (err) {
    free(px);
    return err;
  }
  *out = px;
  return NULL;
}

typedef struct {
  int type, bits, xsize; /* xsize: the image width when the transform was read */
  uint32_t *data;        /* sub-image, or the colour table (256 entries) */
} ltransform;

static uint32_t add_px(uint32_t a, uint32_t b) {
  return (((a & 0xff00ff00u) + (b & 0xff00ff00u)) & 0xff00ff00u) | (((a & 0x00ff00ffu) + (b & 0x00ff00ffu)) & 0x00ff00ffu);
}
static uint32_t avg_px(uint32_t a, uint32_t b) { return (((a ^ b) & 0xfefefefeu) >> 1) + (a & b); }
static int ch(uint32_t p, int s) { return (int)(p >> s) & 0xff; }

static uint32_t predict(int mode, uint32_t L, uint32_t T, uint32_t TR, uint32_t TL) {
  switch (mode) {
  case 1: return L;
  case 2: return T;
  case 3: return TR;
  case 4: return TL;
  case 5: return avg_px(avg_px(L, TR), T);
  case 6: return avg_px(L, TL);
  case 7: return avg_px(L, T);
  case 8: return avg_px(TL, T);
  case 9: return avg_px(T, TR);
  case 10: return avg_px(avg_px(L, TL), avg_px(T, TR));
  case 11: { /* the neighbour nearer to the gradient estimate L + T - TL */
    int pl = 0, pt = 0;
    for (int s = 0; s < 32; s += 8) pl += iabs(ch(T, s) - ch(TL, s)), pt += iabs(ch(L, s) - ch(TL, s));
    return pl < pt ? L : T;
  }
  case 12: {
    uint32_t r = 0;
    for (int s = 0; s < 32; s += 8) r |= (uint32_t)clamp255(ch(L, s) + ch(T, s) - ch(TL, s)) << s;
    return r;
  }
  case 13: {
    uint32_t a = avg_px(L, T), r = 0;
    for (int s = 0; s < 32; s += 8) r |= (uint32_t)clamp255(ch(a, s) + (ch(a, s) - ch(TL, s)) / 2) << s;
    return r;
  }
  default: return 0xff000000u; /* mode 0, and 14-15 which the format leaves unused */
  }
}

static int color_delta(int t, int c) { return ((int)(int8_t)t * (int)(int8_t)c) >> 5; }

/* Undoes one transform in place; colour indexing widens px from t->xsize packed to `w` (px has room). */
static void inverse_transform(const ltransform *t, uint32_t *px, int w, int h) {
  int xs = t->xsize;
  switch (t->type) {
  case 0: { /* predictor */
    int sw = subsample(xs, t->bits);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < xs; x++) {
        size_t i = (size_t)y * xs + x;
        uint32_t pred;
        if (!y) pred = x ? px[i - 1] : 0xff000000u;
        else if (!x) pred = px[i - xs];
        else {
          int mode = (int)(t->data[(size_t)(y >> t->bits) * sw + (x >> t->bits)] >> 8) & 15;
          /* top-right of the last column is the first pixel of the current row: memory order */
          pred = predict(mode, px[i - 1], px[i - xs], px[i - xs + 1], px[i - xs - 1]);
        }
        px[i] = add_px(px[i], pred);
      }
    break;
  }
  case 1: { /* colour transform */
    int sw = subsample(xs, t->bits);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < xs; x++) {
        size_t i = (size_t)y * xs + x;
        uint32_t e = t->data[(size_t)(y >> t->bits) * sw + (x >> t->bits)], p = px[i];
        int g = ch(p, 8), r = ch(p, 16), bl = ch(p, 0);
        r = (r + color_delta(ch(e, 0), g)) & 0xff;
        bl = (bl + color_delta(ch(e, 8), g)) & 0xff;
        bl = (bl + color_delta(ch(e, 16), r)) & 0xff;
        px[i] = (p & 0xff00ff00u) | (uint32_t)r << 16 | (uint32_t)bl;
      }
    break;
  }
  case 2: /* subtract green */
    for (size_t i = 0; i < (size_t)xs * h; i++) {
      uint32_t g = (px[i] >> 8) & 0xff;
      px[i] = add_px(px[i], g << 16 | g);
    }
    break;
  default: { /* colour indexing: expand packed indices, bottom-up and right-to-left so it works in place */
    int pw = subsample(w, t->bits), per = 1 << t->bits, ib = 8 >> t->bits;
    for (int y = h - 1; y >= 0; y--)
      for (int x = w - 1; x >= 0; x--) {
        uint32_t packed = px[(size_t)y * pw + (x >> t->bits)];
        int idx = (int)((packed >> 8) >> ((x & (per - 1)) * ib)) & ((1 << ib) - 1);
        px[(size_t)y * w + x] = t->data[idx];
      }
    break;
  }
  }
}

static const char *decode_vp8l(const uint8_t *data, size_t size, oxrt_image *img, int want_w, int want_h) {
  if (size < 5 || data[0] != 0x2f) return "webp: bad VP8L signature";
  lbits b = {.p = data, .n = size};
  read_bits(&b, 8);
  int w = (int)read_bits(&b, 14) + 1, h = (int)read_bits(&b, 14) + 1;
  read_bits(&b, 1); /* alpha hint */
  if (read_bits(&b, 3)) return "webp: unknown VP8L version";
  if (want_w && (w != want_w || h != want_h)) return "webp: VP8X canvas and image sizes differ";
  const char *err = oxrt_image_alloc(img, w, h);
  if (err) return err;
  ltransform tr[4];
  int ntr = 0, xs = w;
  unsigned seen = 0;
  while (!err && read_bits(&b, 1)) {
    ltransform *t = &tr[ntr];
    t->type = (int)read_bits(&b, 2), t->bits = 0, t->xsize = xs, t->data = NULL;
    if (seen & (1u << t->type)) {
      err = "webp: repeated lossless transform";
      break;
    }
    seen |= 1u << t->type;
    ntr++;
    if (t->type == 0 || t->type == 1) {
      t->bits = (int)read_bits(&b, 3) + 2;
      err = decode_stream(&b, subsample(xs, t->bits), subsample(h, t->bits), false, &t->data);
    } else if (t->type == 3) {
      int n = (int)read_bits(&b, 8) + 1;
      uint32_t *pal = NULL;
      err = decode_stream(&b, n, 1, false, &pal);
      if (!err) {
        t->data = calloc(256, sizeof *t->data); /* indices past the table give transparent black */
        if (!t->data) err = "webp: out of memory";
        else {
          t->data[0] = pal[0];
          for (int i = 1; i < n; i++) t->data[i] = add_px(pal[i], t->data[i - 1]); /* delta-coded */
        }
      }
      free(pal);
      t->bits = n <= 2 ? 3 : n <= 4 ? 2 : n <= 16 ? 1 : 0;
      xs = subsample(xs, t->bits);
    }
  }
  uint32_t *px = NULL;
  if (!err) err = decode_stream(&b, xs, h, true, &px);
  if (!err && xs != w) { /* colour indexing will widen the image in place */
    uint32_t *wide = realloc(px, (size_t)w * (size_t)h * sizeof *px);
    if (!wide) err = "webp: out of memory";
    else px = wide;
  }
  if (!err) {
    for (int i = ntr - 1; i >= 0; i--) inverse_transform(&tr[i], px, tr[i].type == 3 ? w : tr[i].xsize, h);
    for (size_t i = 0; i < (size_t)w * h; i++) {
      img->rgb[3 * i] = (uint8_t)(px[i] >> 16);
      img->rgb[3 * i + 1] = (uint8_t)(px[i] >> 8);
      img->rgb[3 * i + 2] = (uint8_t)px[i];
    }
  }
  for (int i = 0; i < ntr; i++) free(tr[i].data);
  free(px);
  if (err) {
    free(img->rgb);
    img->rgb = NULL;
  }
  return err;
}

/* ---------------------------------------------------------------------------------------------------------
 * RIFF container. */

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

const char *oxrt_decode_webp(const uint8_t *data, size_t size, oxrt_image *img) {
  img->rgb = NULL;
  if (size < 20 || memcmp(data, "RIFF", 4) || memcmp(data + 8, "WEBP", 4)) return "webp: not a RIFF WEBP file";
  size_t riff = le32(data + 4);
  if (riff < 12) return "webp: bad RIFF size";
  if (riff > size - 8) return "webp: truncated file";
  size_t end = riff + 8, pos = 12;
  int want_w = 0, want_h = 0;
  bool first = true;
  while (pos + 8 <= end) {
    const uint8_t *ch = data + pos;
    size_t len = le32(ch + 4);
    if (len > end - pos - 8) return "webp: truncated chunk";
    const uint8_t *body = ch + 8;
    if (!memcmp(ch, "VP8 ", 4)) return decode_vp8(body, len, img, want_w, want_h);
    if (!memcmp(ch, "VP8L", 4)) return decode_vp8l(body, len, img, want_w, want_h);
    if (first) {
      if (memcmp(ch, "VP8X", 4)) return "webp: unknown first chunk";
      if (len < 10) return "webp: truncated VP8X chunk";
      if (body[0] & 2) return "webp: animated WebP is not supported";
      want_w = (int)(1 + (body[4] | body[5] << 8 | body[6] << 16));
      want_h = (int)(1 + (body[7] | body[8] << 8 | body[9] << 16));
    } else if (!memcmp(ch, "ANIM", 4) || !memcmp(ch, "ANMF", 4)) {
      return "webp: animated WebP is not supported";
    } /* ALPH, ICCP, EXIF, XMP and unknown chunks are skipped */
    first = false;
    pos += 8 + len + (len & 1);
  }
  return "webp: no image data";
}
