/* qgemm_x86_vec.h - vector operations for qgemm_body.h: QK_V and friends for 256-bit (QK_BITS 256) or 512-bit
 * (QK_BITS 512) integer vectors. */
#include <immintrin.h>
#include <string.h>
#if QK_BITS == 512
#define QK_V __m512i
#define QK_VW 16
#define QK_LOAD(p) _mm512_loadu_si512((const void *)(p))
#define QK_STORE(p, v) _mm512_storeu_si512((void *)(p), (v))
#define QK_SET1(x) _mm512_set1_epi32(x)
#define QK_ZERO() _mm512_setzero_si512()
#else
#define QK_V __m256i
#define QK_VW 8
#define QK_LOAD(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define QK_STORE(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))
#define QK_SET1(x) _mm256_set1_epi32(x)
#define QK_ZERO() _mm256_setzero_si256()
#endif
