/* dtype.h - element type table and scalar conversions (fp16, bf16, fp8, fp4, int4). */
#ifndef OXRT_CORE_DTYPE_H
#define OXRT_CORE_DTYPE_H
#include "oxrt.h"
#include <stdbool.h>
#include <stdint.h>

/* Bit of an element type in a type mask. */
#define OXRT_TBIT(t) (1ull << (t))
#define OXRT_TMASK_FLOATS (OXRT_TBIT(OXRT_FLOAT) | OXRT_TBIT(OXRT_DOUBLE) | OXRT_TBIT(OXRT_FLOAT16) | OXRT_TBIT(OXRT_BFLOAT16))
#define OXRT_TMASK_SINTS (OXRT_TBIT(OXRT_INT8) | OXRT_TBIT(OXRT_INT16) | OXRT_TBIT(OXRT_INT32) | OXRT_TBIT(OXRT_INT64))
#define OXRT_TMASK_UINTS (OXRT_TBIT(OXRT_UINT8) | OXRT_TBIT(OXRT_UINT16) | OXRT_TBIT(OXRT_UINT32) | OXRT_TBIT(OXRT_UINT64))
#define OXRT_TMASK_INTS (OXRT_TMASK_SINTS | OXRT_TMASK_UINTS)
#define OXRT_TMASK_NUMERIC (OXRT_TMASK_FLOATS | OXRT_TMASK_INTS)
#define OXRT_TMASK_FLOAT8 (OXRT_TBIT(OXRT_FLOAT8E4M3FN) | OXRT_TBIT(OXRT_FLOAT8E4M3FNUZ) | OXRT_TBIT(OXRT_FLOAT8E5M2) | OXRT_TBIT(OXRT_FLOAT8E5M2FNUZ))
#define OXRT_TMASK_ALL (~0ull)

bool oxrt_dtype_is_float(oxrt_elem_type t);   /* float, double, f16, bf16, fp8, fp4 */
bool oxrt_dtype_is_signed_int(oxrt_elem_type t);
bool oxrt_dtype_is_unsigned_int(oxrt_elem_type t); /* includes bool? no */
bool oxrt_dtype_is_valid(int t);

float oxrt_f16_to_f32(uint16_t h);
uint16_t oxrt_f32_to_f16(float f); /* round to nearest even, inf/nan kept */
/* n values at a time, with F16C where the CPU has it and OXRT_ISA is not portable (else the scalar conversions). */
void oxrt_f16_to_f32_n(const uint16_t *src, float *dst, size_t n);
void oxrt_f32_to_f16_n(const float *src, uint16_t *dst, size_t n);
/* For tests: 0 forces the scalar loops, 1 F16C where the CPU has it, -1 back to the automatic choice. Returns the
 * previous setting. Call it only while no conversion runs. */
int oxrt_dtype_use_f16c(int on);
/* internal: the F16C loops (dtype_f16c.c, x86 only) */
void oxrt_f16_to_f32_f16c(const uint16_t *src, float *dst, size_t n);
void oxrt_f32_to_f16_f16c(const float *src, uint16_t *dst, size_t n);
float oxrt_bf16_to_f32(uint16_t h);
uint16_t oxrt_f32_to_bf16(float f); /* round to nearest even */
/* n values at a time: AVX-512 where the CPU has it and OXRT_ISA allows it, else portable branch-free loops
 * (vectorised by the compiler); the same results as the scalar conversions. */
void oxrt_bf16_to_f32_n(const uint16_t *src, float *dst, size_t n);
void oxrt_f32_to_bf16_n(const float *src, uint16_t *dst, size_t n);
/* For tests: 0 forces the portable loops, 1 AVX-512 where the CPU has it, -1 back to the automatic choice.
 * Returns the previous setting. Call it only while no conversion runs. */
int oxrt_dtype_use_bf16_avx512(int on);
/* internal: the AVX-512 loops (dtype_bf16_avx512.c, x86 only) */
void oxrt_bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t n);
void oxrt_f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n);
/* fp8 / fp4 (ONNX float8 types); `saturate` as in ONNX Cast. */
float oxrt_f8_to_f32(oxrt_elem_type t, uint8_t v);
uint8_t oxrt_f32_to_f8(oxrt_elem_type t, float f, bool saturate);

/* Generic element access through double: slow, but covers every numeric
 * type (including bool, f16, bf16, fp8, int4). Used where a kernel has no
 * native path for a type. int64/uint64 values beyond 2^53 lose precision:
 * kernels that must be exact on them use native paths. */
double oxrt_load_f64(oxrt_elem_type t, const void *base, size_t i);
void oxrt_store_f64(oxrt_elem_type t, void *base, size_t i, double v);
/* Exact integer access for integer and bool types. */
int64_t oxrt_load_i64(oxrt_elem_type t, const void *base, size_t i);
void oxrt_store_i64(oxrt_elem_type t, void *base, size_t i, int64_t v);

/* Convert `n` elements between types with ONNX Cast semantics (strings
 * parse/print numbers; `saturate` applies to fp8 targets). Returns false if
 * the pair is not supported. */
bool oxrt_convert(oxrt_elem_type dst_t, void *dst, oxrt_elem_type src_t, const void *src, size_t n, bool saturate);

#endif
