/* svm_avx512.c - SVM support-vector sums (svm_body.h) with 16-lane AVX-512 vectors. */
#include <immintrin.h>

#define SVM_SUMS oxrt_svm_sums_avx512
#define SVM_VW 16
#define SVM_V __m512
#define SVM_SET1 _mm512_set1_ps
#define SVM_ZERO _mm512_setzero_ps
#define SVM_LOADU _mm512_loadu_ps
#define SVM_STOREU _mm512_storeu_ps
#define SVM_SUB _mm512_sub_ps
#define SVM_FMA _mm512_fmadd_ps
#include "svm_body.h"
