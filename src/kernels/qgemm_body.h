/* qgemm_body.h - the 8-bit GEMM micro-kernel, written once for every instruction set (included by the ISA files
 * qgemm_avx2.c, qgemm_avx512.c, qgemm_avxvnni.c, qgemm_avx512vnni.c, qgemm_bytes_avx2.c after they define):
 *   QK_NAME           function name (oxrt_qukernel signature, see qgemm.h)
 *   QK_ROWS(X)        X(0) X(1) ... X(mr-1), QK_MR = mr
 *   QK_ASTRIDE        optional: rows per A panel when the kernel computes only its first QK_MR rows (the last,
 *                     short panel of A, so its zero padding is not multiplied); default QK_MR
 *   QK_ET, QK_G       packed element type and k-group (int16_t, 2 or uint8_t, 4): one group is 4 bytes
 *   QK_V, QK_VW       int32 vector type and its lanes (nr = 2 * QK_VW columns: two vectors per row)
 *   QK_LOAD(p), QK_STORE(p, v), QK_SET1(i32), QK_ZERO()
 *   QK_MAC(c, a, b)   c + the k-group dot products of broadcast A group a with B vector b, per int32 lane
 *   QK_PF             optional: the function also takes (pf, pfn) and prefetches line kk of pf into L2 at k-group
 *                     kk < pfn (the next packed B panel, spread over the calls that read this one)
 * Accumulators start from C (acc) or zero, so nothing but the final store follows the loop (with a branch there
 * GCC kept stack copies). Each A group is broadcast as one int32. The file may include this twice (two kernels). */
#define QK_DECL(i)                                                                                                     \
  QK_V c##i##a = acc ? QK_LOAD(c + (i) * ldc) : QK_ZERO();                                                             \
  QK_V c##i##b = acc ? QK_LOAD(c + (i) * ldc + QK_VW) : QK_ZERO();
#define QK_STEP(i)                                                                                                     \
  {                                                                                                                    \
    int32_t grp;                                                                                                       \
    memcpy(&grp, a + QK_G * (i), 4);                                                                                   \
    QK_V av = QK_SET1(grp);                                                                                            \
    c##i##a = QK_MAC(c##i##a, av, b0);                                                                                 \
    c##i##b = QK_MAC(c##i##b, av, b1);                                                                                 \
  }
#define QK_STOREROW(i) QK_STORE(c + (i) * ldc, c##i##a), QK_STORE(c + (i) * ldc + QK_VW, c##i##b);

#ifndef QK_ASTRIDE
#define QK_ASTRIDE QK_MR
#endif
#ifdef QK_PF
void QK_NAME(size_t kg, const void *av_, const void *bv_, int32_t *c, size_t ldc, bool acc, const uint8_t *pf,
             size_t pfn) {
#else
void QK_NAME(size_t kg, const void *av_, const void *bv_, int32_t *c, size_t ldc, bool acc) {
#endif
  const QK_ET *a = av_, *b = bv_;
  QK_ROWS(QK_DECL)
  for (size_t kk = 0; kk < kg; kk++) {
#ifdef QK_PF
    if (kk < pfn) _mm_prefetch((const char *)(pf + kk * 64), _MM_HINT_T1);
#endif
    QK_V b0 = QK_LOAD(b), b1 = QK_LOAD(b + QK_VW * QK_G);
    QK_ROWS(QK_STEP)
    a += QK_ASTRIDE * QK_G;
    b += 2 * QK_VW * QK_G;
  }
  QK_ROWS(QK_STOREROW)
}

#undef QK_DECL
#undef QK_STEP
#undef QK_STOREROW
#undef QK_ASTRIDE
#undef QK_PF
