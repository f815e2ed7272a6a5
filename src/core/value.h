/* value.h - the runtime value: tensor, sequence, map or optional. */
#ifndef OXRT_CORE_VALUE_H
#define OXRT_CORE_VALUE_H
#include "oxrt.h"
#include "status.h"
#include <stdbool.h>

#define OXRT_MAX_RANK 16

struct oxrt_value {
  oxrt_value_kind kind;
  oxrt_elem_type dtype; /* tensor element type; for sequences the items' type */
  int rank;
  int64_t dims[OXRT_MAX_RANK];
  size_t count;  /* elements (tensor) */
  void *data;    /* tensor data; strings: char *[count], each NUL-terminated */
  size_t nbytes;
  bool owns_data; /* data (and for strings every string) freed with the value */
  bool read_only; /* wraps caller memory the library must not write (oxrt_value_wrap_tensor) */
  size_t *str_lens; /* string tensors: byte length of each string, kept only once one holds a NUL; else NULL */
  int arena_slot;   /* a run's planned tensor: its 1-based slot in the run's memory plan (exec/mem_plan.h), else 0 */
  /* sequence items, optional (0 or 1 item), map (keys, values) */
  size_t n_items;
  struct oxrt_value **items;
};

/* Overflow-checked product of dims into *count; false on overflow or a negative dim. */
bool oxrt_dims_count(const int64_t *dims, int rank, size_t *count);

/* New tensor value owning uninitialised (strings: empty) memory, 64-byte aligned. */
oxrt_status *oxrt_tensor_new(oxrt_elem_type t, int rank, const int64_t *dims, oxrt_value **out);
/* Same, zero-filled. */
oxrt_status *oxrt_tensor_new_zero(oxrt_elem_type t, int rank, const int64_t *dims, oxrt_value **out);
/* A tensor header borrowing `data` (not freed with the value). */
oxrt_status *oxrt_tensor_view(oxrt_elem_type t, int rank, const int64_t *dims, void *data, oxrt_value **out);
/* Deep copy of any value (strings and items copied). */
oxrt_status *oxrt_value_clone(const oxrt_value *v, oxrt_value **out);
/* Empty sequence/optional/map value of a given kind with room for `n` items. */
oxrt_status *oxrt_value_new_container(oxrt_value_kind kind, oxrt_elem_type dtype, size_t n, oxrt_value **out);

/* Copies `src` into `dst` in place: same kind, element type and shape required (else an error naming both);
 * `dst` must be writable. Sequences, maps and optionals are not filled in place. */
oxrt_status *oxrt_value_copy_into(oxrt_value *dst, const oxrt_value *src);

/* Tensor memory, through the allocator hooks (oxrt_set_allocator). */
void *oxrt_aligned_alloc(size_t nbytes);
/* Prepare mode (per thread; returns the previous setting): blocks allocated are about to be written whole (their
 * pages are taken in one call) and large blocks freed are kept a while for the next allocation of about their
 * size (weight copies released as their packs are made); oxrt_alloc_prepare_end frees what is kept. */
bool oxrt_alloc_prepare_mode(bool on);
void oxrt_alloc_prepare_end(void);
void oxrt_aligned_free(void *p);

/* "float[2,3]", "seq(float)" etc. into buf, for messages. */
const char *oxrt_value_describe(const oxrt_value *v, char *buf, size_t cap);
const char *oxrt_dims_str(const int64_t *dims, int rank, char *buf, size_t cap);

#endif
