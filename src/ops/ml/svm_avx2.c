/* svm_avx2.c - SVM support-vector sums (svm_body.h) with 8-lane AVX2 vectors and FMA. */
#include <immintrin.h>

#define SVM_SUMS oxrt_svm_sums_avx2
#define SVM_VW 8
#define SVM_V __m256
#define SVM_SET1 _mm256_set1_ps
#define SVM_ZERO _mm256_setzero_ps
#define SVM_LOADU _mm256_loadu_ps
#define SVM_STOREU _mm256_storeu_ps
#define SVM_SUB _mm256_sub_ps
#define SVM_FMA _mm256_fmadd_ps
#include "svm_body.h"
