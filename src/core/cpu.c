/* cpu.c - CPU feature detection (CPUID and the OS-enabled register state) and the ISA level (cpu.h). */
#include "cpu.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <cpuid.h>
#define OXRT_CPU_X86 1
#endif

static const char *const g_names[OXRT_CPU_FEATURE_COUNT_] = {
    "avx2", "fma", "f16c", "avxvnni", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vnni", "avx512bf16",
    "avx512fp16", "amxbf16"};

const char *oxrt_cpu_feature_name(oxrt_cpu_feature f) {
  return (unsigned)f < OXRT_CPU_FEATURE_COUNT_ ? g_names[f] : "?";
}

const char *oxrt_isa_name(oxrt_isa isa) {
  switch (isa) {
  case OXRT_ISA_AVX512: return "avx512";
  case OXRT_ISA_AVX2: return "avx2";
  default: return "portable";
  }
}

static unsigned detect_features(void) {
  unsigned f = 0;
#ifdef OXRT_CPU_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
  if (!osxsave || !avx) return 0;
  unsigned xlo, xhi;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  (void)xhi;
  bool ymm = (xlo & 0x6) == 0x6, zmm = ymm && (xlo & 0xe0) == 0xe0; /* the OS saves YMM / ZMM and mask state */
  if (!ymm) return 0;
  unsigned max_leaf = __get_cpuid_max(0, NULL);
  unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
  if (max_leaf >= 7) {
    unsigned sub_max;
    __cpuid_count(7, 0, sub_max, b7, c7, d7);
    if (sub_max >= 1) __cpuid_count(7, 1, a71, b, c, d);
  }
  if (fma) f |= 1u << OXRT_CPU_FMA;
  if (f16c) f |= 1u << OXRT_CPU_F16C;
  if ((b7 >> 5) & 1) f |= 1u << OXRT_CPU_AVX2;
  if ((a71 >> 4) & 1) f |= 1u << OXRT_CPU_AVXVNNI;
  if (zmm) {
    if ((b7 >> 16) & 1) f |= 1u << OXRT_CPU_AVX512F;
    if ((b7 >> 17) & 1) f |= 1u << OXRT_CPU_AVX512DQ;
    if ((b7 >> 30) & 1) f |= 1u << OXRT_CPU_AVX512BW;
    if ((b7 >> 31) & 1) f |= 1u << OXRT_CPU_AVX512VL;
    if ((c7 >> 11) & 1) f |= 1u << OXRT_CPU_AVX512VNNI;
    if ((d7 >> 23) & 1) f |= 1u << OXRT_CPU_AVX512FP16;
    if ((a71 >> 5) & 1) f |= 1u << OXRT_CPU_AVX512BF16;
  }
  if ((d7 >> 22) & 1) f |= 1u << OXRT_CPU_AMXBF16; /* the OS must still grant the tile state before use */
#endif
  return f;
}

static oxrt_isa hw_isa(unsigned f) {
  unsigned avx2 = 1u << OXRT_CPU_AVX2 | 1u << OXRT_CPU_FMA;
  unsigned avx512 = 1u << OXRT_CPU_AVX512F | 1u << OXRT_CPU_AVX512BW | 1u << OXRT_CPU_AVX512DQ | 1u << OXRT_CPU_AVX512VL;
  if ((f & avx2) != avx2) return OXRT_ISA_PORTABLE;
  return (f & avx512) == avx512 ? OXRT_ISA_AVX512 : OXRT_ISA_AVX2;
}

static oxrt_isa env_cap(oxrt_isa hw) {
  const char *env = getenv("OXRT_ISA");
  oxrt_isa cap = hw;
  if (env && *env) {
    if (!strcmp(env, "portable") || !strcmp(env, "generic") || !strcmp(env, "none")) cap = OXRT_ISA_PORTABLE;
    else if (!strcmp(env, "avx2")) cap = OXRT_ISA_AVX2;
    else if (!strcmp(env, "avx512")) cap = OXRT_ISA_AVX512;
  }
  return cap < hw ? cap : hw;
}

/* Detection is deterministic, so a racing first call stores the same values. */
static atomic_int g_features = -1, g_isa = -1;

static unsigned features(void) {
  int v = atomic_load_explicit(&g_features, memory_order_relaxed);
  if (v < 0) {
    v = (int)detect_features();
    atomic_store_explicit(&g_features, v, memory_order_relaxed);
  }
  return (unsigned)v;
}

bool oxrt_cpu_has(oxrt_cpu_feature f) { return (unsigned)f < OXRT_CPU_FEATURE_COUNT_ && (features() >> f) & 1; }

oxrt_isa oxrt_cpu_isa(void) {
  int v = atomic_load_explicit(&g_isa, memory_order_relaxed);
  if (v < 0) {
    v = (int)env_cap(hw_isa(features()));
    atomic_store_explicit(&g_isa, v, memory_order_relaxed);
  }
  return (oxrt_isa)v;
}

oxrt_isa oxrt_cpu_isa_cap(oxrt_isa cap) {
  oxrt_isa hw = env_cap(hw_isa(features())), v = cap < hw ? cap : hw;
  atomic_store_explicit(&g_isa, (int)v, memory_order_relaxed);
  return v;
}

/* Deterministic cache parameters: CPUID leaf 4 (Intel) or 0x8000001D (AMD), the unified or data cache of level 2:
 * ways * partitions * line size * sets. 0 when neither leaf describes one. */
static size_t detect_l2(void) {
#ifdef OXRT_CPU_X86
  unsigned a, b, c, d;
  const unsigned leaves[2] = {4u, 0x8000001Du};
  for (int l = 0; l < 2; l++) {
    unsigned leaf = leaves[l], max = __get_cpuid_max(leaf & 0x80000000u, NULL);
    if (max < leaf) continue;
    for (unsigned i = 0; i < 16; i++) {
      __cpuid_count(leaf, i, a, b, c, d);
      unsigned type = a & 31u, level = (a >> 5) & 7u;
      if (type == 0) break;
      if (level == 2 && (type == 1 || type == 3))
        return (size_t)(((b >> 22) & 1023u) + 1) * (((b >> 12) & 1023u) + 1) * ((b & 4095u) + 1) * ((size_t)c + 1);
    }
  }
  /* AMD before the cache topology leaf: extended leaf 6, ECX[31:16] = L2 KiB */
  if (__get_cpuid_max(0x80000000u, NULL) >= 0x80000006u && __get_cpuid(0x80000006u, &a, &b, &c, &d) && (c >> 16))
    return (size_t)(c >> 16) << 10;
#endif
  return 0;
}

size_t oxrt_cpu_l2_bytes(void) {
  static atomic_size_t l2 = 0; /* 0: not probed yet; probing twice is harmless */
  size_t v = atomic_load_explicit(&l2, memory_order_relaxed);
  if (!v) {
    v = detect_l2();
    if (!v) v = (size_t)1 << 20;
    atomic_store_explicit(&l2, v, memory_order_relaxed);
  }
  return v;
}

bool oxrt_cpu_usable(oxrt_cpu_feature f) {
  if (!oxrt_cpu_has(f)) return false;
  oxrt_isa need = f >= OXRT_CPU_AVX512F && f != OXRT_CPU_AMXBF16 ? OXRT_ISA_AVX512 : OXRT_ISA_AVX2;
  return oxrt_cpu_isa() >= need;
}
