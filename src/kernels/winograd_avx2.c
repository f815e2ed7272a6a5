/* winograd_avx2.c - the F(4x4, 3x3) transforms (winograd_body.h) compiled for AVX2 + FMA. */
#include "winograd.h"
#include <stdint.h>
#define WINO_SFX avx2
#include "winograd_body.h"
