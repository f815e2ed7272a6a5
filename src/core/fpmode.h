/* fpmode.h - the calling thread's floating-point control state (rounding, denormal handling), so pool workers
 * can mirror the caller's, and sessions can flush denormals for the duration of a run. */
#ifndef OXRT_CORE_FPMODE_H
#define OXRT_CORE_FPMODE_H
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
/* MXCSR without the sticky exception flags (bits 0-5). */
static inline unsigned oxrt_fp_mode_get(void) { return _mm_getcsr() & ~0x3fu; }
static inline void oxrt_fp_mode_set(unsigned m) { _mm_setcsr((_mm_getcsr() & 0x3fu) | m); }
#define OXRT_FP_FLUSH_BITS 0x8040u /* FTZ (results) | DAZ (inputs) */
#elif defined(__aarch64__)
static inline unsigned oxrt_fp_mode_get(void) {
  unsigned long v;
  __asm__ volatile("mrs %0, fpcr" : "=r"(v));
  return (unsigned)v;
}
static inline void oxrt_fp_mode_set(unsigned m) { __asm__ volatile("msr fpcr, %0" : : "r"((unsigned long)m)); }
#define OXRT_FP_FLUSH_BITS (1u << 24) /* FZ */
#else
static inline unsigned oxrt_fp_mode_get(void) { return 0; }
static inline void oxrt_fp_mode_set(unsigned m) { (void)m; }
#define OXRT_FP_FLUSH_BITS 0u
#endif
#endif
