/* mapfile.c - read-only memory mapping of model and external-data files. */
#include "onnx_reader.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

oxrt_status *oxrt_map_file_fd(const char *path, void **base, size_t *size, int *kind, int *fd_out) {
  *fd_out = -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return oxrt_error(OXRT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  struct stat stt;
  if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
    close(fd);
    return oxrt_error(OXRT_ERR_IO, "'%s' is not a regular file", path);
  }
  size_t n = (size_t)stt.st_size;
  if (n == 0) {
    close(fd);
    *base = NULL;
    *size = 0;
    *kind = 0;
    return NULL;
  }
  void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p != MAP_FAILED) {
    *fd_out = fd;
    *base = p;
    *size = n;
    *kind = 1;
    return NULL;
  }
  /* Fall back to reading (e.g. file systems without mmap). */
  unsigned char *buf = malloc(n);
  if (!buf) {
    close(fd);
    return OXRT_OOM();
  }
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k <= 0) {
      free(buf);
      close(fd);
      return oxrt_error(OXRT_ERR_IO, "cannot read '%s'", path);
    }
    got += (size_t)k;
  }
  close(fd);
  *base = buf;
  *size = n;
  *kind = 2;
  return NULL;
}

oxrt_status *oxrt_map_file(const char *path, void **base, size_t *size, int *kind) {
  int fd;
  OXRT_TRY(oxrt_map_file_fd(path, base, size, kind, &fd));
  if (fd >= 0) close(fd);
  return NULL;
}

void oxrt_unmap_file(void *base, size_t size, int kind) {
  if (kind == 1) munmap(base, size);
  else if (kind == 2) free(base);
}

static void drop_mapped(const void *base, size_t size) {
  long pg = sysconf(_SC_PAGESIZE);
  if (base && pg > 0 && size >= (size_t)pg) (void)madvise((void *)base, size & ~((size_t)pg - 1), MADV_DONTNEED);
}

void oxrt_model_drop_file_pages(oxrt_model *m) {
  if (m->map_kind == 1) drop_mapped(m->map_base, m->map_size);
  for (int i = 0; i < m->n_ext; i++)
    if (m->ext_kind[i] == 1) drop_mapped(m->ext_base[i], m->ext_size[i]);
}

void oxrt_model_dir(const char *path, char *dir, size_t cap) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(dir, cap, ".");
    return;
  }
  size_t n = (size_t)(slash - path);
  snprintf(dir, cap, "%.*s", n ? (int)n : 1, n ? path : "/");
}

oxrt_status *oxrt_load_model_file(const char *path, oxrt_model **out) {
  void *base;
  size_t size;
  int kind, fd;
  OXRT_TRY(oxrt_map_file_fd(path, &base, &size, &kind, &fd));
  char dir[4096];
  oxrt_model_dir(path, dir, sizeof dir);
  oxrt_tensor_src src = {.borrow = true, .base_dir = dir, .file_backed = kind == 1};
  oxrt_status *st = oxrt_read_model_fd(base, size, &src, fd, out);
  if (fd >= 0) close(fd);
  if (st) {
    oxrt_unmap_file(base, size, kind);
    return oxrt_error_prefix(st, "%s: ", path);
  }
  /* the model owns the mapping its initializers borrow from */
  (*out)->map_base = base, (*out)->map_size = size, (*out)->map_kind = kind;
  return NULL;
}
