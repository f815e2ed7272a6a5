/* test_cpu.c - the one CPU probe (core/cpu.h): agrees with the compiler's own probe, and the cap moves every
 * kernel family's level at once. */
#include "../../src/core/cpu.h"
#include "../../src/kernels/gemm.h"
#include "unit.h"
#include <stdio.h>
#include <string.h>

void test_core_cpu_features(void) {
  oxrt_isa start = oxrt_cpu_isa();
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
  /* GCC's __builtin_cpu_supports reads CPUID and the OS state on its own: both probes must agree */
  __builtin_cpu_init();
  CHECK(oxrt_cpu_has(OXRT_CPU_AVX2) == (__builtin_cpu_supports("avx2") != 0));
  CHECK(oxrt_cpu_has(OXRT_CPU_FMA) == (__builtin_cpu_supports("fma") != 0));
  CHECK(oxrt_cpu_has(OXRT_CPU_AVX512F) == (__builtin_cpu_supports("avx512f") != 0));
  CHECK(oxrt_cpu_has(OXRT_CPU_AVX512BW) == (__builtin_cpu_supports("avx512bw") != 0));
  CHECK(oxrt_cpu_has(OXRT_CPU_AVX512VNNI) == (__builtin_cpu_supports("avx512vnni") != 0));
#endif
  /* the L2 size blocking uses: a power of two times a small factor on every CPU made so far, 128 KiB to 64 MiB;
   * Linux reports the same size for cpu0 */
  size_t l2 = oxrt_cpu_l2_bytes();
  CHECK(l2 >= ((size_t)128 << 10) && l2 <= ((size_t)64 << 20));
  FILE *lv = fopen("/sys/devices/system/cpu/cpu0/cache/index2/level", "r");
  int level = 0;
  if (lv) {
    if (fscanf(lv, "%d", &level) != 1) level = 0;
    fclose(lv);
  }
  FILE *f = level == 2 ? fopen("/sys/devices/system/cpu/cpu0/cache/index2/size", "r") : NULL;
  if (f) {
    unsigned kb = 0;
    char unit = 0;
    if (fscanf(f, "%u%c", &kb, &unit) == 2 && unit == 'K') CHECK((size_t)kb << 10 == l2);
    fclose(f);
  }
  /* the level needs all of its features */
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX2) CHECK(oxrt_cpu_has(OXRT_CPU_AVX2) && oxrt_cpu_has(OXRT_CPU_FMA));
  if (oxrt_cpu_isa() >= OXRT_ISA_AVX512)
    CHECK(oxrt_cpu_has(OXRT_CPU_AVX512F) && oxrt_cpu_has(OXRT_CPU_AVX512BW) && oxrt_cpu_has(OXRT_CPU_AVX512VL) &&
          oxrt_cpu_has(OXRT_CPU_AVX512DQ));
  /* capping to portable turns every SIMD feature off for the kernels, not for the hardware report */
  CHECK(oxrt_cpu_isa_cap(OXRT_ISA_PORTABLE) == OXRT_ISA_PORTABLE);
  CHECK(oxrt_cpu_isa() == OXRT_ISA_PORTABLE);
  for (int f = 0; f < OXRT_CPU_FEATURE_COUNT_; f++) CHECK(!oxrt_cpu_usable((oxrt_cpu_feature)f));
  if (start >= OXRT_ISA_AVX2) {
    CHECK(oxrt_cpu_isa_cap(OXRT_ISA_AVX2) == OXRT_ISA_AVX2);
    CHECK(oxrt_cpu_usable(OXRT_CPU_AVX2));
    CHECK(!oxrt_cpu_usable(OXRT_CPU_AVX512F));
    CHECK(oxrt_cpu_usable(OXRT_CPU_F16C) == oxrt_cpu_has(OXRT_CPU_F16C));
  }
  /* a cap above the hardware gives the hardware's level */
  CHECK(oxrt_cpu_isa_cap(OXRT_ISA_AVX512) == start);
  CHECK(oxrt_cpu_usable(OXRT_CPU_AVX512VNNI) == (start >= OXRT_ISA_AVX512 && oxrt_cpu_has(OXRT_CPU_AVX512VNNI)));
  CHECK(!strcmp(oxrt_isa_name(OXRT_ISA_AVX2), "avx2") && !strcmp(oxrt_cpu_feature_name(OXRT_CPU_AMXBF16), "amxbf16"));
}
