/* cpu.h - the one place that asks the CPU what it can do, and the ISA level every kernel family runs at.
 *
 * Kernel families (float GEMM and convolution, int8 GEMM, half-precision conversions, bf16 compute) pick their
 * code from oxrt_cpu_isa() and oxrt_cpu_usable(); OXRT_ISA=portable|avx2|avx512 in the environment caps them
 * all at once, and tests cap them in-process with oxrt_cpu_isa_cap to run every level the machine has. */
#ifndef OXRT_CORE_CPU_H
#define OXRT_CORE_CPU_H
#include <stdbool.h>
#include <stddef.h>

typedef enum oxrt_isa { OXRT_ISA_PORTABLE = 0, OXRT_ISA_AVX2 = 1, OXRT_ISA_AVX512 = 2 } oxrt_isa;

typedef enum oxrt_cpu_feature {
  OXRT_CPU_AVX2 = 0,  /* with FMA: the AVX2 level */
  OXRT_CPU_FMA,
  OXRT_CPU_F16C,
  OXRT_CPU_AVXVNNI,   /* VEX-encoded VNNI (Alder Lake and later) */
  OXRT_CPU_AVX512F,   /* the AVX-512 level: F, BW, DQ and VL together */
  OXRT_CPU_AVX512BW,
  OXRT_CPU_AVX512DQ,
  OXRT_CPU_AVX512VL,
  OXRT_CPU_AVX512VNNI,
  OXRT_CPU_AVX512BF16,
  OXRT_CPU_AVX512FP16,
  OXRT_CPU_AMXBF16,
  OXRT_CPU_FEATURE_COUNT_
} oxrt_cpu_feature;

/* What the hardware (and the OS, for the wide register state) supports, whatever the cap. */
bool oxrt_cpu_has(oxrt_cpu_feature f);
/* The level kernels run at: the highest the hardware has, capped by OXRT_ISA and oxrt_cpu_isa_cap. */
oxrt_isa oxrt_cpu_isa(void);
/* A feature kernels may use: present, and its level (AVX2 for the VEX features, AVX-512 for the EVEX ones) not
 * above oxrt_cpu_isa(). */
bool oxrt_cpu_usable(oxrt_cpu_feature f);
/* Caps the level for every kernel family (tests; call only while no kernel runs); returns the level in force. */
oxrt_isa oxrt_cpu_isa_cap(oxrt_isa cap);
const char *oxrt_isa_name(oxrt_isa isa);
/* Bytes of one core's level-2 cache (CPUID's cache descriptors; 1 MiB when the CPU does not say), for blocking. */
size_t oxrt_cpu_l2_bytes(void);
const char *oxrt_cpu_feature_name(oxrt_cpu_feature f);

#endif
