/*
 * _oxrt.c - the CPython extension behind the `oxrt` package.
 *
 * A thin layer over the public C API in include/oxrt.h; everything
 * onnxruntime-shaped (NodeArg, SessionOptions, list conversion, provider
 * handling) lives in python/oxrt/__init__.py. This file owns what needs C:
 *  - sessions (created and run with the GIL released),
 *  - turning Python buffers into oxrt values without a copy where the
 *    memory is C-contiguous and aligned (oxrt_value_wrap_tensor),
 *  - turning oxrt values into numpy arrays without a copy: a tensor's memory
 *    is exported through the buffer protocol by a small object that keeps
 *    the value alive, and numpy.asarray views it,
 *  - mapping oxrt status codes to exception classes named like
 *    onnxruntime's (oxrt.capi.onnxruntime_pybind11_state.*).
 *
 * numpy is used only through its Python API (numpy.asarray and friends),
 * so one build works with numpy 1.x and 2.x alike.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "oxrt.h"

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
  Py_INCREF(o);
  return o;
}
static int PyModule_AddObjectRef(PyObject *m, const char *name, PyObject *value) {
  Py_INCREF(value);
  if (PyModule_AddObject(m, name, value) < 0) {
    Py_DECREF(value);
    return -1;
  }
  return 0;
}
#endif

/* ------------------------------------------------------------ exceptions */

/* onnxruntime's status codes and names, used for the message prefix and
 * the exception class, so scripts that parse or catch them keep working. */
enum {
  ORT_FAIL = 1,
  ORT_INVALID_ARGUMENT = 2,
  ORT_NO_SUCHFILE = 3,
  ORT_NO_MODEL = 4,
  ORT_ENGINE_ERROR = 5,
  ORT_RUNTIME_EXCEPTION = 6,
  ORT_INVALID_PROTOBUF = 7,
  ORT_MODEL_LOADED = 8,
  ORT_NOT_IMPLEMENTED = 9,
  ORT_INVALID_GRAPH = 10,
  ORT_EP_FAIL = 11,
  ORT_CODE_COUNT = 12
};

static const struct {
  const char *class_name;
  const char *code_name;
} k_ort_codes[ORT_CODE_COUNT] = {
    [ORT_FAIL] = {"Fail", "FAIL"},
    [ORT_INVALID_ARGUMENT] = {"InvalidArgument", "INVALID_ARGUMENT"},
    [ORT_NO_SUCHFILE] = {"NoSuchFile", "NO_SUCHFILE"},
    [ORT_NO_MODEL] = {"NoModel", "NO_MODEL"},
    [ORT_ENGINE_ERROR] = {"EngineError", "ENGINE_ERROR"},
    [ORT_RUNTIME_EXCEPTION] = {"RuntimeException", "RUNTIME_EXCEPTION"},
    [ORT_INVALID_PROTOBUF] = {"InvalidProtobuf", "INVALID_PROTOBUF"},
    [ORT_MODEL_LOADED] = {"ModelLoaded", "MODEL_LOADED"},
    [ORT_NOT_IMPLEMENTED] = {"NotImplemented", "NOT_IMPLEMENTED"},
    [ORT_INVALID_GRAPH] = {"InvalidGraph", "INVALID_GRAPH"},
    [ORT_EP_FAIL] = {"EPFail", "EP_FAIL"},
};

#define EXC_MODULE "oxrt.capi.onnxruntime_pybind11_state"

static PyObject *g_exc_base;              /* OxrtError(Exception) */
static PyObject *g_exc[ORT_CODE_COUNT];   /* one class per onnxruntime code */
static PyObject *g_np_asarray;            /* numpy.asarray */
static PyObject *g_np_array;              /* numpy.array */
static PyObject *g_np_object;             /* numpy.object_ */
static PyObject *g_np_ndarray;            /* numpy.ndarray: fed as is when its buffer maps to an element type */
static PyObject *g_ml_dtypes;             /* ml_dtypes module or Py_None */

/* A model that fails to parse is InvalidProtobuf in onnxruntime; a model
 * that parses but whose graph is wrong is InvalidGraph. oxrt reports both as
 * INVALID_MODEL, so the message tells them apart. */
static int looks_like_parse_error(const char *msg) {
  static const char *const words[] = {"truncated", "corrupt", "ir_version", "is empty", "buffer is empty",
                                      "wire", "protobuf", "varint"};
  for (size_t i = 0; i < sizeof words / sizeof *words; i++)
    if (strstr(msg, words[i])) return 1;
  return 0;
}

static int ort_code_of(const oxrt_status *st) {
  const char *msg = oxrt_status_get_message(st);
  switch (oxrt_status_get_code(st)) {
  case OXRT_ERR_INVALID_ARGUMENT: return ORT_INVALID_ARGUMENT;
  case OXRT_ERR_INVALID_MODEL: return looks_like_parse_error(msg) ? ORT_INVALID_PROTOBUF : ORT_INVALID_GRAPH;
  case OXRT_ERR_NOT_IMPLEMENTED: return ORT_NOT_IMPLEMENTED;
  case OXRT_ERR_OUT_OF_MEMORY: return ORT_RUNTIME_EXCEPTION;
  case OXRT_ERR_IO: return ORT_NO_SUCHFILE;
  case OXRT_ERR_RUNTIME: return ORT_FAIL;
  default: return ORT_FAIL;
  }
}

/* Raise the Python exception for `st`, free it, return NULL. */
static PyObject *raise_status(oxrt_status *st) {
  int code = ort_code_of(st);
  /* onnxruntime raises Fail for a terminated run; the message also names oxrt's own code */
  const char *why = oxrt_status_get_code(st) == OXRT_ERR_CANCELLED ? "CANCELLED: " : "";
  PyErr_Format(g_exc[code], "[oxrt] : %d : %s : %s%s", code, k_ort_codes[code].code_name, why,
               oxrt_status_get_message(st));
  oxrt_status_free(st);
  return NULL;
}

/* ------------------------------------------------------- value ownership */

/* Owns the root of a tree of oxrt values returned by a run; tensors inside
 * it are exported by TensorView objects that reference this owner. */
typedef struct {
  PyObject_HEAD
  oxrt_value *value;
} OwnerObject;

static void Owner_dealloc(OwnerObject *self) {
  oxrt_value_free(self->value);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject OwnerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "oxrt._oxrt._Owner",
    .tp_basicsize = sizeof(OwnerObject),
    .tp_dealloc = (destructor)Owner_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Owner of values returned by a run (internal).",
};

#define OXRT_MAX_RANK 64

/* Exports one tensor's memory through the buffer protocol. */
typedef struct {
  PyObject_HEAD
  PyObject *owner; /* keeps the memory alive */
  void *data;
  Py_ssize_t nbytes;
  Py_ssize_t itemsize;
  const char *format;
  int ndim;
  Py_ssize_t shape[OXRT_MAX_RANK];
  Py_ssize_t strides[OXRT_MAX_RANK];
} TensorViewObject;

static int TensorView_getbuffer(TensorViewObject *self, Py_buffer *view, int flags) {
  view->obj = (PyObject *)self;
  Py_INCREF(self);
  view->buf = self->data;
  view->len = self->nbytes;
  view->readonly = 0;
  view->itemsize = self->itemsize;
  view->format = (flags & PyBUF_FORMAT) ? (char *)self->format : NULL;
  view->ndim = self->ndim;
  view->shape = (flags & PyBUF_ND) ? self->shape : NULL;
  view->strides = (flags & PyBUF_STRIDES) ? self->strides : NULL;
  view->suboffsets = NULL;
  view->internal = NULL;
  return 0;
}

static PyBufferProcs TensorView_as_buffer = {
    .bf_getbuffer = (getbufferproc)TensorView_getbuffer,
    .bf_releasebuffer = NULL,
};

static void TensorView_dealloc(TensorViewObject *self) {
  Py_XDECREF(self->owner);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject TensorViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "oxrt._oxrt._TensorView",
    .tp_basicsize = sizeof(TensorViewObject),
    .tp_dealloc = (destructor)TensorView_dealloc,
    .tp_as_buffer = &TensorView_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Buffer over a tensor returned by a run (internal).",
};

/* --------------------------------------------------- element type tables */

/* Buffer-protocol format of the memory of each element type, and the
 * ml_dtypes name to view it as where numpy has no type of its own. */
static const char *export_format(oxrt_elem_type t, const char **ml_name) {
  *ml_name = NULL;
  switch (t) {
  case OXRT_FLOAT: return "f";
  case OXRT_DOUBLE: return "d";
  case OXRT_FLOAT16: return "e";
  case OXRT_INT8: return "b";
  case OXRT_UINT8: return "B";
  case OXRT_INT16: return "h";
  case OXRT_UINT16: return "H";
  case OXRT_INT32: return "i";
  case OXRT_UINT32: return "I";
  case OXRT_INT64: return "q";
  case OXRT_UINT64: return "Q";
  case OXRT_BOOL: return "?";
  case OXRT_COMPLEX64: return "Zf";
  case OXRT_COMPLEX128: return "Zd";
  case OXRT_BFLOAT16: *ml_name = "bfloat16"; return "H";
  case OXRT_FLOAT8E4M3FN: *ml_name = "float8_e4m3fn"; return "B";
  case OXRT_FLOAT8E4M3FNUZ: *ml_name = "float8_e4m3fnuz"; return "B";
  case OXRT_FLOAT8E5M2: *ml_name = "float8_e5m2"; return "B";
  case OXRT_FLOAT8E5M2FNUZ: *ml_name = "float8_e5m2fnuz"; return "B";
  case OXRT_FLOAT8E8M0: *ml_name = "float8_e8m0fnu"; return "B";
  case OXRT_FLOAT4E2M1: *ml_name = "float4_e2m1fn"; return "B";
  case OXRT_INT4: *ml_name = "int4"; return "b";
  case OXRT_UINT4: *ml_name = "uint4"; return "B";
  case OXRT_INT2: *ml_name = "int2"; return "b";
  case OXRT_UINT2: *ml_name = "uint2"; return "B";
  default: return NULL;
  }
}

/* Element type of a buffer-protocol format (numpy's spelling), or
 * OXRT_UNDEFINED. Byte order must be native (little-endian hosts only have
 * '<', '=', '@' or nothing in front). */
static oxrt_elem_type elem_type_of_format(const char *fmt, Py_ssize_t itemsize) {
  if (!fmt) return itemsize == 1 ? OXRT_UINT8 : OXRT_UNDEFINED;
  if (*fmt == '@' || *fmt == '=') fmt++;
#if PY_LITTLE_ENDIAN
  else if (*fmt == '<') fmt++;
#else
  else if (*fmt == '>' || *fmt == '!') fmt++;
#endif
  if (fmt[0] == 'Z' && fmt[1] && !fmt[2]) {
    if (fmt[1] == 'f' && itemsize == 8) return OXRT_COMPLEX64;
    if (fmt[1] == 'd' && itemsize == 16) return OXRT_COMPLEX128;
    return OXRT_UNDEFINED;
  }
  if (!fmt[0] || fmt[1]) return OXRT_UNDEFINED;
  switch (fmt[0]) {
  case 'e': return itemsize == 2 ? OXRT_FLOAT16 : OXRT_UNDEFINED;
  case 'f': return itemsize == 4 ? OXRT_FLOAT : OXRT_UNDEFINED;
  case 'd': return itemsize == 8 ? OXRT_DOUBLE : OXRT_UNDEFINED;
  case '?': return itemsize == 1 ? OXRT_BOOL : OXRT_UNDEFINED;
  case 'b': case 'h': case 'i': case 'l': case 'q': case 'n':
    switch (itemsize) {
    case 1: return OXRT_INT8;
    case 2: return OXRT_INT16;
    case 4: return OXRT_INT32;
    case 8: return OXRT_INT64;
    default: return OXRT_UNDEFINED;
    }
  case 'c': case 'B': case 'H': case 'I': case 'L': case 'Q': case 'N':
    switch (itemsize) {
    case 1: return OXRT_UINT8;
    case 2: return OXRT_UINT16;
    case 4: return OXRT_UINT32;
    case 8: return OXRT_UINT64;
    default: return OXRT_UNDEFINED;
    }
  default: return OXRT_UNDEFINED;
  }
}

/* --------------------------------------------------- Python -> oxrt value */

/* Buffers borrowed for the duration of one run. */
typedef struct {
  Py_buffer *views;
  size_t count, cap;
  Py_buffer *stack; /* the caller's array `views` starts as, if any (never freed here) */
} BufferList;

static void buffers_release(BufferList *b) {
  for (size_t i = 0; i < b->count; i++) PyBuffer_Release(&b->views[i]);
  if (b->views != b->stack) PyMem_Free(b->views);
  b->views = NULL;
  b->count = b->cap = 0;
}

static Py_buffer *buffers_push(BufferList *b) {
  if (b->count == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 8;
    Py_buffer *v = b->views == b->stack ? PyMem_Malloc(cap * sizeof *v) : PyMem_Realloc(b->views, cap * sizeof *v);
    if (!v) {
      PyErr_NoMemory();
      return NULL;
    }
    if (b->views && b->views == b->stack) memcpy(v, b->views, b->count * sizeof *v);
    b->views = v;
    b->cap = cap;
  }
  return &b->views[b->count];
}

static int fail_status(oxrt_status *st) {
  raise_status(st);
  return -1;
}

/* A tensor over the memory of `obj` (anything with the buffer protocol,
 * C-contiguous). `forced` overrides the element type read from the format
 * (bfloat16 and the float8 types reach us as same-sized integer views).
 * No copy unless the memory is misaligned for the element type. */
static int tensor_from_buffer(PyObject *obj, oxrt_elem_type forced, BufferList *bufs, oxrt_value **out) {
  Py_buffer *view = buffers_push(bufs);
  if (!view) return -1;
  if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_Format(PyExc_RuntimeError, "Unable to handle object of type %R as a C-contiguous tensor",
                 (PyObject *)Py_TYPE(obj));
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return -1;
  }
  bufs->count++; /* released with the others, whatever happens next */
  oxrt_elem_type et = forced != OXRT_UNDEFINED ? forced : elem_type_of_format(view->format, view->itemsize);
  if (et == OXRT_UNDEFINED || et == OXRT_STRING) {
    PyErr_Format(PyExc_TypeError, "oxrt cannot make a tensor from a buffer of format '%s' (item size %zd)",
                 view->format ? view->format : "B", view->itemsize);
    return -1;
  }
  size_t esize = oxrt_elem_type_size(et);
  if ((Py_ssize_t)esize != view->itemsize) {
    PyErr_Format(PyExc_TypeError, "buffer item size %zd does not match element type %s (%zu bytes)",
                 view->itemsize, oxrt_elem_type_name(et), esize);
    return -1;
  }
  if (view->ndim > OXRT_MAX_RANK) {
    PyErr_Format(PyExc_ValueError, "tensor rank %d is above oxrt's limit of %d", view->ndim, OXRT_MAX_RANK);
    return -1;
  }
  int64_t dims[OXRT_MAX_RANK];
  for (int i = 0; i < view->ndim; i++) dims[i] = (int64_t)view->shape[i];
  oxrt_status *st;
  size_t align = esize > 8 ? 8 : esize;
  if (view->len == 0 || ((uintptr_t)view->buf % align) == 0) {
    /* An empty tensor still needs a pointer the library may hold. */
    static char empty_data[16];
    void *data = view->len ? view->buf : (void *)empty_data;
    st = oxrt_value_wrap_tensor(et, dims, (size_t)view->ndim, data, (size_t)view->len, out);
  } else {
    st = oxrt_value_create_tensor(et, dims, (size_t)view->ndim, out);
    if (!st) memcpy(oxrt_value_get_mutable_data(*out), view->buf, (size_t)view->len);
  }
  return st ? fail_status(st) : 0;
}

/* A string tensor of `shape` from a flat list of str/bytes. */
static int tensor_from_strings(PyObject *shape, PyObject *items, oxrt_value **out) {
  PyObject *shape_seq = PySequence_Fast(shape, "shape must be a sequence");
  if (!shape_seq) return -1;
  Py_ssize_t rank = PySequence_Fast_GET_SIZE(shape_seq);
  if (rank > OXRT_MAX_RANK) {
    Py_DECREF(shape_seq);
    PyErr_Format(PyExc_ValueError, "tensor rank %zd is above oxrt's limit of %d", rank, OXRT_MAX_RANK);
    return -1;
  }
  int64_t dims[OXRT_MAX_RANK];
  Py_ssize_t count = 1;
  for (Py_ssize_t i = 0; i < rank; i++) {
    long long d = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(shape_seq, i));
    if (d == -1 && PyErr_Occurred()) {
      Py_DECREF(shape_seq);
      return -1;
    }
    dims[i] = d;
    count *= (Py_ssize_t)d;
  }
  Py_DECREF(shape_seq);
  PyObject *seq = PySequence_Fast(items, "string tensor items must be a sequence");
  if (!seq) return -1;
  if (PySequence_Fast_GET_SIZE(seq) != count) {
    Py_DECREF(seq);
    PyErr_Format(PyExc_ValueError, "string tensor has %zd items for %zd elements", PySequence_Fast_GET_SIZE(seq),
                 count);
    return -1;
  }
  oxrt_value *v = NULL;
  oxrt_status *st = oxrt_value_create_tensor(OXRT_STRING, dims, (size_t)rank, &v);
  if (st) {
    Py_DECREF(seq);
    return fail_status(st);
  }
  for (Py_ssize_t i = 0; i < count; i++) {
    PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
    const char *s;
    Py_ssize_t len;
    if (PyUnicode_Check(item)) {
      s = PyUnicode_AsUTF8AndSize(item, &len);
      if (!s) goto fail;
    } else if (PyBytes_Check(item)) {
      s = PyBytes_AS_STRING(item);
      len = PyBytes_GET_SIZE(item);
    } else {
      PyErr_Format(PyExc_TypeError, "string tensor element %zd is %R, not str or bytes", i,
                   (PyObject *)Py_TYPE(item));
      goto fail;
    }
    st = oxrt_value_set_string(v, (size_t)i, s, (size_t)len);
    if (st) {
      fail_status(st);
      goto fail;
    }
  }
  Py_DECREF(seq);
  *out = v;
  return 0;
fail:
  Py_DECREF(seq);
  oxrt_value_free(v);
  return -1;
}

static int value_from_py(PyObject *obj, BufferList *bufs, int depth, oxrt_value **out);

/* Tagged tuples built by __init__.py:
 *   ("t", elem_type, buffer)          tensor, element type given
 *   ("s", shape, [str|bytes, ...])     string tensor
 *   ("seq", elem_type, [item, ...])    sequence
 *   ("map", keys_item, values_item)    map
 *   ("opt", item_or_None)              optional
 * Anything else must export a buffer and becomes a tensor. */
static int value_from_tagged(PyObject *tup, BufferList *bufs, int depth, oxrt_value **out) {
  Py_ssize_t n = PyTuple_GET_SIZE(tup);
  const char *tag = n ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(tup, 0)) : NULL;
  if (!tag) {
    PyErr_Clear();
    PyErr_SetString(PyExc_TypeError, "malformed oxrt input tuple");
    return -1;
  }
  if (!strcmp(tag, "t") && n == 3) {
    long et = PyLong_AsLong(PyTuple_GET_ITEM(tup, 1));
    if (et == -1 && PyErr_Occurred()) return -1;
    if (et <= 0 || et >= OXRT_ELEM_TYPE_COUNT || et == OXRT_STRING) {
      PyErr_Format(PyExc_ValueError, "bad element type %ld", et);
      return -1;
    }
    return tensor_from_buffer(PyTuple_GET_ITEM(tup, 2), (oxrt_elem_type)et, bufs, out);
  }
  if (!strcmp(tag, "s") && n == 3) return tensor_from_strings(PyTuple_GET_ITEM(tup, 1), PyTuple_GET_ITEM(tup, 2), out);
  if (!strcmp(tag, "seq") && n == 3) {
    long et = PyLong_AsLong(PyTuple_GET_ITEM(tup, 1));
    if (et == -1 && PyErr_Occurred()) return -1;
    PyObject *seq = PySequence_Fast(PyTuple_GET_ITEM(tup, 2), "sequence items must be a sequence");
    if (!seq) return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    oxrt_value **items = PyMem_Calloc((size_t)count + 1, sizeof *items);
    if (!items) {
      Py_DECREF(seq);
      PyErr_NoMemory();
      return -1;
    }
    int rc = 0;
    Py_ssize_t made = 0;
    for (; made < count; made++)
      if ((rc = value_from_py(PySequence_Fast_GET_ITEM(seq, made), bufs, depth + 1, &items[made])) < 0) break;
    Py_DECREF(seq);
    if (rc == 0) {
      /* An empty sequence takes its element type from the model. */
      if (et <= 0 && count > 0) et = (long)oxrt_value_get_elem_type(items[0]);
      oxrt_status *st = oxrt_value_create_sequence((oxrt_elem_type)et, items, (size_t)count, out);
      if (!st) {
        PyMem_Free(items);
        return 0;
      }
      fail_status(st);
    }
    for (Py_ssize_t i = 0; i < made; i++) oxrt_value_free(items[i]);
    PyMem_Free(items);
    return -1;
  }
  if (!strcmp(tag, "map") && n == 3) {
    oxrt_value *keys = NULL, *values = NULL;
    if (value_from_py(PyTuple_GET_ITEM(tup, 1), bufs, depth + 1, &keys) < 0) return -1;
    if (value_from_py(PyTuple_GET_ITEM(tup, 2), bufs, depth + 1, &values) < 0) {
      oxrt_value_free(keys);
      return -1;
    }
    oxrt_status *st = oxrt_value_create_map(keys, values, out);
    if (st) {
      /* The map did not adopt them. */
      oxrt_value_free(keys);
      oxrt_value_free(values);
      return fail_status(st);
    }
    return 0;
  }
  if (!strcmp(tag, "opt") && n == 2) {
    oxrt_value *item = NULL;
    PyObject *inner = PyTuple_GET_ITEM(tup, 1);
    if (inner != Py_None && value_from_py(inner, bufs, depth + 1, &item) < 0) return -1;
    oxrt_status *st = oxrt_value_create_optional(item, out);
    if (st) {
      oxrt_value_free(item);
      return fail_status(st);
    }
    return 0;
  }
  PyErr_Format(PyExc_TypeError, "malformed oxrt input tuple with tag '%s'", tag);
  return -1;
}

static int value_from_py(PyObject *obj, BufferList *bufs, int depth, oxrt_value **out) {
  if (depth > 32) {
    PyErr_SetString(PyExc_ValueError, "input nested more than 32 levels deep");
    return -1;
  }
  if (PyTuple_Check(obj)) return value_from_tagged(obj, bufs, depth, out);
  return tensor_from_buffer(obj, OXRT_UNDEFINED, bufs, out);
}

/* --------------------------------------------------- oxrt value -> Python */

static PyObject *py_from_value(PyObject *owner, const oxrt_value *v, int depth);

static PyObject *tensor_to_numpy(PyObject *owner, const oxrt_value *v) {
  oxrt_elem_type et = oxrt_value_get_elem_type(v);
  size_t rank = oxrt_value_get_rank(v);
  const int64_t *dims = oxrt_value_get_dims(v);
  if (rank > OXRT_MAX_RANK) {
    PyErr_Format(PyExc_ValueError, "output rank %zu is above the binding's limit of %d", rank, OXRT_MAX_RANK);
    return NULL;
  }
  if (et == OXRT_STRING) {
    size_t count = oxrt_value_get_elem_count(v);
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (!list) return NULL;
    for (size_t i = 0; i < count; i++) {
      size_t len = 0;
      const char *s = oxrt_value_get_string(v, i, &len);
      PyObject *str = PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)(s ? len : 0), "surrogateescape");
      if (!str) {
        Py_DECREF(list);
        return NULL;
      }
      PyList_SET_ITEM(list, (Py_ssize_t)i, str);
    }
    PyObject *shape = PyTuple_New((Py_ssize_t)rank);
    if (!shape) {
      Py_DECREF(list);
      return NULL;
    }
    for (size_t i = 0; i < rank; i++) PyTuple_SET_ITEM(shape, (Py_ssize_t)i, PyLong_FromLongLong(dims[i]));
    /* Build a 1-D object array first so numpy never guesses nested shapes. */
    PyObject *flat = PyObject_CallFunction(g_np_array, "OO", list, g_np_object);
    Py_DECREF(list);
    /* CallMethodObjArgs: a lone tuple argument would be taken as the argument list. */
    PyObject *res = NULL;
    if (flat) {
      PyObject *name = PyUnicode_FromString("reshape");
      res = name ? PyObject_CallMethodObjArgs(flat, name, shape, NULL) : NULL;
      Py_XDECREF(name);
    }
    Py_XDECREF(flat);
    Py_DECREF(shape);
    return res;
  }
  const char *ml_name;
  const char *fmt = export_format(et, &ml_name);
  if (!fmt) {
    PyErr_Format(PyExc_TypeError, "output element type %s has no numpy equivalent", oxrt_elem_type_name(et));
    return NULL;
  }
  TensorViewObject *tv = PyObject_New(TensorViewObject, &TensorViewType);
  if (!tv) return NULL;
  Py_INCREF(owner);
  tv->owner = owner;
  static char empty_data[16];
  tv->itemsize = (Py_ssize_t)oxrt_elem_type_size(et);
  tv->nbytes = (Py_ssize_t)oxrt_value_get_elem_count(v) * tv->itemsize;
  tv->data = (void *)oxrt_value_get_data(v); /* results the library made: writable */
  if (!tv->data || tv->nbytes == 0) tv->data = empty_data;
  tv->format = fmt;
  tv->ndim = (int)rank;
  Py_ssize_t stride = tv->itemsize;
  for (size_t i = rank; i-- > 0;) {
    tv->shape[i] = (Py_ssize_t)dims[i];
    tv->strides[i] = stride;
    stride *= dims[i] > 0 ? (Py_ssize_t)dims[i] : 1;
  }
  PyObject *arr = PyObject_CallFunctionObjArgs(g_np_asarray, (PyObject *)tv, NULL);
  Py_DECREF(tv);
  if (!arr || !ml_name || g_ml_dtypes == Py_None) return arr;
  /* bfloat16 / float8: view with ml_dtypes' type when it is installed. */
  PyObject *dt = PyObject_GetAttrString(g_ml_dtypes, ml_name);
  if (!dt) {
    PyErr_Clear();
    return arr;
  }
  PyObject *viewed = PyObject_CallMethod(arr, "view", "(O)", dt);
  Py_DECREF(dt);
  if (!viewed) {
    PyErr_Clear();
    return arr;
  }
  Py_DECREF(arr);
  return viewed;
}

/* A tensor as a list of Python scalars (map keys and values). */
static PyObject *tensor_to_list(PyObject *owner, const oxrt_value *v) {
  PyObject *arr = tensor_to_numpy(owner, v);
  if (!arr) return NULL;
  PyObject *flat = PyObject_CallMethod(arr, "ravel", NULL);
  Py_DECREF(arr);
  if (!flat) return NULL;
  PyObject *list = PyObject_CallMethod(flat, "tolist", NULL);
  Py_DECREF(flat);
  return list;
}

static PyObject *map_to_dict(PyObject *owner, const oxrt_value *v, int depth) {
  if (oxrt_value_get_item_count(v) != 2) {
    PyErr_SetString(PyExc_RuntimeError, "malformed map value");
    return NULL;
  }
  const oxrt_value *kv = oxrt_value_get_item(v, 0), *vv = oxrt_value_get_item(v, 1);
  PyObject *keys = tensor_to_list(owner, kv);
  if (!keys) return NULL;
  PyObject *values = oxrt_value_get_kind(vv) == OXRT_KIND_TENSOR ? tensor_to_list(owner, vv)
                                                                  : py_from_value(owner, vv, depth + 1);
  if (!values) {
    Py_DECREF(keys);
    return NULL;
  }
  PyObject *dict = NULL;
  if (!PyList_Check(values) || PyList_GET_SIZE(values) != PyList_GET_SIZE(keys)) {
    PyErr_SetString(PyExc_RuntimeError, "map keys and values differ in length");
    goto out;
  }
  dict = PyDict_New();
  if (!dict) goto out;
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++)
    if (PyDict_SetItem(dict, PyList_GET_ITEM(keys, i), PyList_GET_ITEM(values, i)) < 0) {
      Py_CLEAR(dict);
      break;
    }
out:
  Py_DECREF(keys);
  Py_DECREF(values);
  return dict;
}

static PyObject *py_from_value(PyObject *owner, const oxrt_value *v, int depth) {
  if (!v) Py_RETURN_NONE;
  if (depth > 32) {
    PyErr_SetString(PyExc_RuntimeError, "output nested more than 32 levels deep");
    return NULL;
  }
  switch (oxrt_value_get_kind(v)) {
  case OXRT_KIND_TENSOR: return tensor_to_numpy(owner, v);
  case OXRT_KIND_SEQUENCE: {
    size_t n = oxrt_value_get_item_count(v);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (!list) return NULL;
    for (size_t i = 0; i < n; i++) {
      PyObject *item = py_from_value(owner, oxrt_value_get_item(v, i), depth + 1);
      if (!item) {
        Py_DECREF(list);
        return NULL;
      }
      PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
  }
  case OXRT_KIND_MAP: return map_to_dict(owner, v, depth);
  case OXRT_KIND_OPTIONAL:
    if (oxrt_value_get_item_count(v) == 0) Py_RETURN_NONE;
    return py_from_value(owner, oxrt_value_get_item(v, 0), depth + 1);
  default:
    PyErr_Format(PyExc_TypeError, "outputs of kind %d are not supported by the Python binding",
                 (int)oxrt_value_get_kind(v));
    return NULL;
  }
}

/* ---------------------------------------------------------------- session */

typedef struct {
  PyObject_HEAD
  oxrt_session *session;
} SessionObject;

static void log_to_stderr(void *user, oxrt_log_level level, const char *message) {
  (void)user;
  static const char letters[] = "VIWEF";
  char c = (level >= 0 && level <= 4) ? letters[level] : '?';
  /* Called from any thread, without the GIL: plain stdio only. */
  fprintf(stderr, "[oxrt %c] %s\n", c, message);
}

static int Session_init(SessionObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"model", "intra_op_num_threads", "optimization_level", "log_severity_level",
                           "optimized_model_filepath", "profile_file_prefix", "denormal_as_zero", "disabled_passes", "bf16_compute", "mem_pattern", NULL};
  PyObject *model;
  int threads = 0, level = OXRT_OPT_ALL, log_level = OXRT_LOG_WARNING;
  const char *optimized_path = NULL, *profile_prefix = NULL;
  int denormal_as_zero = 0, bf16_compute = 0, mem_pattern = -1; /* -1: the library's default (OXRT_MEM_PLAN) */
  const char *disabled_passes = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|iiizzpzii", kwlist, &model, &threads, &level, &log_level,
                                   &optimized_path, &profile_prefix, &denormal_as_zero, &disabled_passes, &bf16_compute,
                                   &mem_pattern))
    return -1;
  if (self->session) {
    PyErr_SetString(PyExc_RuntimeError, "session already initialised");
    return -1;
  }
  oxrt_session_options *opts = NULL;
  oxrt_status *st = oxrt_session_options_create(&opts);
  if (st) return fail_status(st);
  oxrt_session_options_set_intra_op_threads(opts, threads);
  oxrt_session_options_set_opt_level(opts, (oxrt_opt_level)level);
  oxrt_session_options_set_denormal_as_zero(opts, denormal_as_zero);
  if (mem_pattern >= 0) oxrt_session_options_set_memory_pattern(opts, mem_pattern != 0);
  if ((st = oxrt_session_options_set_bf16_compute(opts, bf16_compute))) {
    oxrt_session_options_free(opts);
    return fail_status(st);
  }
  if (optimized_path && *optimized_path && (st = oxrt_session_options_set_optimized_model_path(opts, optimized_path))) {
    oxrt_session_options_free(opts);
    return fail_status(st);
  }
  if (disabled_passes && (st = oxrt_session_options_set_disabled_passes(opts, disabled_passes))) {
    oxrt_session_options_free(opts);
    return fail_status(st);
  }
  if (profile_prefix && (st = oxrt_session_options_enable_profiling(opts, profile_prefix))) {
    oxrt_session_options_free(opts);
    return fail_status(st);
  }
  if (log_level >= OXRT_LOG_VERBOSE && log_level <= OXRT_LOG_FATAL)
    oxrt_session_options_set_log(opts, log_to_stderr, NULL, (oxrt_log_level)log_level);
  oxrt_session *s = NULL;
  if (PyUnicode_Check(model) || PyObject_HasAttrString(model, "__fspath__")) {
    PyObject *path = NULL;
    if (!PyUnicode_FSConverter(model, &path)) {
      oxrt_session_options_free(opts);
      return -1;
    }
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    st = oxrt_session_create(p, opts, &s);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
  } else if (PyObject_CheckBuffer(model)) {
    Py_buffer view;
    if (PyObject_GetBuffer(model, &view, PyBUF_SIMPLE) < 0) {
      oxrt_session_options_free(opts);
      return -1;
    }
    Py_BEGIN_ALLOW_THREADS
    st = oxrt_session_create_from_memory(view.buf, (size_t)view.len, opts, &s);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
  } else {
    oxrt_session_options_free(opts);
    PyErr_Format(PyExc_TypeError, "Unable to load from type '%R'", (PyObject *)Py_TYPE(model));
    return -1;
  }
  oxrt_session_options_free(opts);
  if (st) return fail_status(st);
  self->session = s;
  return 0;
}

static void Session_dealloc(SessionObject *self) {
  if (self->session) {
    oxrt_session *s = self->session;
    self->session = NULL;
    Py_BEGIN_ALLOW_THREADS
    oxrt_session_free(s);
    Py_END_ALLOW_THREADS
  }
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static int check_open(SessionObject *self) {
  if (!self->session) {
    PyErr_SetString(PyExc_RuntimeError, "session is not initialised");
    return -1;
  }
  return 0;
}

static PyObject *str_or_empty(const char *s) { return PyUnicode_DecodeUTF8(s ? s : "", s ? (Py_ssize_t)strlen(s) : 0, "replace"); }

/* (name, type_string, shape, kind, elem_type); shape is a list of ints,
 * strings (symbolic) and None (unknown), or [] when the rank is unknown,
 * as onnxruntime reports it. */
static PyObject *info_tuple(const oxrt_value_info *info) {
  PyObject *shape = PyList_New(info->rank > 0 ? info->rank : 0);
  if (!shape) return NULL;
  for (int i = 0; i < info->rank; i++) {
    PyObject *d;
    if (info->dims && info->dims[i] >= 0) d = PyLong_FromLongLong(info->dims[i]);
    else if (info->dim_names && info->dim_names[i] && info->dim_names[i][0]) d = str_or_empty(info->dim_names[i]);
    else d = Py_NewRef(Py_None);
    if (!d) {
      Py_DECREF(shape);
      return NULL;
    }
    PyList_SET_ITEM(shape, i, d);
  }
  return Py_BuildValue("(NNNii)", str_or_empty(info->name), str_or_empty(info->type_string), shape,
                       (int)info->kind, (int)info->elem_type);
}

static PyObject *describe_list(SessionObject *self, int outputs) {
  if (check_open(self) < 0) return NULL;
  size_t n = outputs ? oxrt_session_get_output_count(self->session) : oxrt_session_get_input_count(self->session);
  PyObject *list = PyList_New((Py_ssize_t)n);
  if (!list) return NULL;
  for (size_t i = 0; i < n; i++) {
    oxrt_value_info info = OXRT_INIT(oxrt_value_info);
    oxrt_status *st = outputs ? oxrt_session_get_output_info(self->session, i, &info)
                              : oxrt_session_get_input_info(self->session, i, &info);
    if (st) {
      Py_DECREF(list);
      return raise_status(st);
    }
    PyObject *t = info_tuple(&info);
    if (!t) {
      Py_DECREF(list);
      return NULL;
    }
    PyList_SET_ITEM(list, (Py_ssize_t)i, t);
  }
  return list;
}

static PyObject *Session_inputs(SessionObject *self, PyObject *unused) {
  (void)unused;
  return describe_list(self, 0);
}

static PyObject *Session_outputs(SessionObject *self, PyObject *unused) {
  (void)unused;
  return describe_list(self, 1);
}

static int dict_set_steal(PyObject *d, const char *key, PyObject *v) {
  if (!v) return -1;
  int rc = PyDict_SetItemString(d, key, v);
  Py_DECREF(v);
  return rc;
}

static PyObject *Session_meta(SessionObject *self, PyObject *unused) {
  (void)unused;
  if (check_open(self) < 0) return NULL;
  oxrt_model_meta m = OXRT_INIT(oxrt_model_meta);
  oxrt_status *st = oxrt_session_get_model_meta(self->session, &m);
  if (st) return raise_status(st);
  PyObject *d = PyDict_New();
  if (!d) return NULL;
  PyObject *custom = PyDict_New(), *opsets = PyDict_New();
  if (!custom || !opsets) goto fail;
  for (size_t i = 0; i < m.custom_count; i++) {
    PyObject *k = str_or_empty(m.custom_keys[i]), *v = str_or_empty(m.custom_values[i]);
    int rc = (k && v) ? PyDict_SetItem(custom, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    if (rc < 0) goto fail;
  }
  for (size_t i = 0; i < m.opset_count; i++) {
    PyObject *k = str_or_empty(m.opset_domains[i]), *v = PyLong_FromLongLong(m.opset_versions[i]);
    int rc = (k && v) ? PyDict_SetItem(opsets, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    if (rc < 0) goto fail;
  }
  if (dict_set_steal(d, "ir_version", PyLong_FromLongLong(m.ir_version)) < 0 ||
      dict_set_steal(d, "producer_name", str_or_empty(m.producer_name)) < 0 ||
      dict_set_steal(d, "producer_version", str_or_empty(m.producer_version)) < 0 ||
      dict_set_steal(d, "domain", str_or_empty(m.domain)) < 0 ||
      dict_set_steal(d, "version", PyLong_FromLongLong(m.model_version)) < 0 ||
      dict_set_steal(d, "description", str_or_empty(m.description)) < 0 ||
      dict_set_steal(d, "graph_name", str_or_empty(m.graph_name)) < 0 ||
      dict_set_steal(d, "graph_description", str_or_empty(m.graph_description)) < 0 ||
      PyDict_SetItemString(d, "custom_metadata_map", custom) < 0 || PyDict_SetItemString(d, "opsets", opsets) < 0)
    goto fail;
  Py_DECREF(custom);
  Py_DECREF(opsets);
  return d;
fail:
  Py_XDECREF(custom);
  Py_XDECREF(opsets);
  Py_DECREF(d);
  return NULL;
}

static PyObject *Session_stats(SessionObject *self, PyObject *unused) {
  (void)unused;
  if (check_open(self) < 0) return NULL;
  oxrt_model_stats m = OXRT_INIT(oxrt_model_stats);
  oxrt_status *st = oxrt_session_get_model_stats(self->session, &m);
  if (st) return raise_status(st);
  PyObject *ops = PyDict_New();
  if (!ops) return NULL;
  for (size_t i = 0; i < m.op_type_count; i++) {
    PyObject *v = PyLong_FromSize_t(m.op_counts[i]);
    if (!v || PyDict_SetItemString(ops, m.op_types[i], v) < 0) {
      Py_XDECREF(v);
      Py_DECREF(ops);
      return NULL;
    }
    Py_DECREF(v);
  }
  return Py_BuildValue("{s:n,s:N,s:n,s:K,s:K}", "node_count", (Py_ssize_t)m.node_count, "op_types", ops,
                       "initializer_count", (Py_ssize_t)m.initializer_count, "parameter_count",
                       (unsigned long long)m.parameter_count, "parameter_bytes",
                       (unsigned long long)m.parameter_bytes);
}

/* Fill names[] with borrowed UTF-8 pointers into the str objects of `seq`
 * (a list/tuple kept alive by the caller). */
static int borrow_names(PyObject *seq, const char **names, const char *what) {
  Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
  for (Py_ssize_t i = 0; i < n; i++) {
    PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyUnicode_Check(o)) {
      PyErr_Format(PyExc_TypeError, "%s %zd must be str, not %R", what, i, (PyObject *)Py_TYPE(o));
      return -1;
    }
    names[i] = PyUnicode_AsUTF8(o);
    if (!names[i]) return -1;
  }
  return 0;
}

/* run(input_names, inputs, output_names_or_None) -> list */
/* ------------------------------------------------------------- run options */
/* oxrt_run_options behind onnxruntime.RunOptions (python/oxrt/_session.py); `terminate` may be set from any
 * thread while a run that uses it is in progress (the run releases the GIL). */
typedef struct {
  PyObject_HEAD
  oxrt_run_options *ro;
} RunOptionsObject;

static int RunOptions_init(RunOptionsObject *self, PyObject *args, PyObject *kwds) {
  (void)args, (void)kwds;
  if (self->ro) return 0;
  oxrt_status *st = oxrt_run_options_create(&self->ro);
  return st ? fail_status(st) : 0;
}

static void RunOptions_dealloc(RunOptionsObject *self) {
  oxrt_run_options_free(self->ro);
  Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *status_none(oxrt_status *st) {
  if (st) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *RunOptions_set_tag(RunOptionsObject *self, PyObject *arg) {
  const char *tag = PyUnicode_AsUTF8(arg);
  return tag ? status_none(oxrt_run_options_set_tag(self->ro, tag)) : NULL;
}
static PyObject *RunOptions_set_log_level(RunOptionsObject *self, PyObject *arg) {
  long v = PyLong_AsLong(arg);
  if (v == -1 && PyErr_Occurred()) return NULL;
  return status_none(oxrt_run_options_set_log_level(self->ro, (oxrt_log_level)v));
}
static PyObject *RunOptions_set_terminate(RunOptionsObject *self, PyObject *arg) {
  int on = PyObject_IsTrue(arg);
  if (on < 0) return NULL;
  return status_none(oxrt_run_options_set_terminate(self->ro, on));
}
static PyObject *RunOptions_get_terminate(RunOptionsObject *self, PyObject *unused) {
  (void)unused;
  return PyBool_FromLong(oxrt_run_options_get_terminate(self->ro));
}
static PyObject *RunOptions_set_time_limit_ms(RunOptionsObject *self, PyObject *arg) {
  long long v = PyLong_AsLongLong(arg);
  if (v == -1 && PyErr_Occurred()) return NULL;
  return status_none(oxrt_run_options_set_time_limit_ms(self->ro, (int64_t)v));
}
static PyObject *RunOptions_add_config_entry(RunOptionsObject *self, PyObject *args) {
  const char *k, *v;
  if (!PyArg_ParseTuple(args, "ss", &k, &v)) return NULL;
  return status_none(oxrt_run_options_add_config_entry(self->ro, k, v));
}

static PyMethodDef RunOptions_methods[] = {
    {"set_tag", (PyCFunction)RunOptions_set_tag, METH_O, "Run tag for log messages and errors."},
    {"set_log_level", (PyCFunction)RunOptions_set_log_level, METH_O, "Log level of this run (0 verbose .. 4 fatal)."},
    {"set_terminate", (PyCFunction)RunOptions_set_terminate, METH_O, "Stop runs using these options (any thread)."},
    {"get_terminate", (PyCFunction)RunOptions_get_terminate, METH_NOARGS, "The terminate flag."},
    {"set_time_limit_ms", (PyCFunction)RunOptions_set_time_limit_ms, METH_O, "Wall-clock limit per run; 0: none."},
    {"add_config_entry", (PyCFunction)RunOptions_add_config_entry, METH_VARARGS, "Run configuration entry."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RunOptionsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "oxrt._oxrt.RunOptions",
    .tp_basicsize = sizeof(RunOptionsObject),
    .tp_dealloc = (destructor)RunOptions_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "oxrt_run_options: tag, log level, terminate flag, time limit, config entries.",
    .tp_methods = RunOptions_methods,
    .tp_init = (initproc)RunOptions_init,
    .tp_new = PyType_GenericNew,
};

/* A writable C-contiguous buffer as an oxrt tensor that receives an output in place. */
static int tensor_into_buffer(PyObject *obj, BufferList *bufs, oxrt_value **out) {
  Py_buffer *view = buffers_push(bufs);
  if (!view) return -1;
  if (PyObject_GetBuffer(obj, view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
  bufs->count++;
  oxrt_elem_type et = elem_type_of_format(view->format, view->itemsize);
  if (et == OXRT_UNDEFINED || et == OXRT_STRING) {
    PyErr_Format(PyExc_TypeError, "output buffer of format '%s' cannot receive a tensor", view->format);
    return -1;
  }
  if (view->ndim > 16) {
    PyErr_SetString(PyExc_ValueError, "output buffer has too many dimensions");
    return -1;
  }
  int64_t dims[16];
  for (int i = 0; i < view->ndim; i++) dims[i] = (int64_t)view->shape[i];
  static char empty_data[16];
  void *data = view->len ? view->buf : (void *)empty_data;
  oxrt_status *st = oxrt_value_wrap_mutable_tensor(et, dims, (size_t)view->ndim, data, (size_t)view->len, out);
  return st ? fail_status(st) : 0;
}

/* The run's outputs as a list; outputs[i] pass to their Python owners. `given` (may be NULL): the caller's output
 * buffers, whose arrays, filled in place, are the results where given. */
static PyObject *results_list(oxrt_value **outputs, Py_ssize_t n_out, PyObject *given_seq) {
  PyObject *result = PyList_New(n_out);
  for (Py_ssize_t i = 0; result && i < n_out; i++) {
    PyObject *given = given_seq ? PySequence_GetItem(given_seq, i) : NULL;
    if (given && given != Py_None) {
      PyList_SET_ITEM(result, i, given);
      continue;
    }
    Py_XDECREF(given);
    OwnerObject *owner = PyObject_New(OwnerObject, &OwnerType);
    if (!owner) {
      Py_CLEAR(result);
      break;
    }
    owner->value = outputs[i];
    outputs[i] = NULL; /* the owner frees it */
    PyObject *item = py_from_value((PyObject *)owner, owner->value, 0);
    Py_DECREF(owner);
    if (!item) {
      Py_CLEAR(result);
      break;
    }
    PyList_SET_ITEM(result, i, item);
  }
  return result;
}

static PyObject *Session_run(SessionObject *self, PyObject *args) {
  PyObject *in_names_obj, *in_values_obj, *out_names_obj, *ro_obj = Py_None, *out_bufs_obj = Py_None;
  if (!PyArg_ParseTuple(args, "OOO|OO", &in_names_obj, &in_values_obj, &out_names_obj, &ro_obj, &out_bufs_obj))
    return NULL;
  if (check_open(self) < 0) return NULL;
  if (ro_obj != Py_None && !PyObject_TypeCheck(ro_obj, &RunOptionsType))
    return PyErr_Format(PyExc_TypeError, "run_options must be an oxrt._oxrt.RunOptions");
  const oxrt_run_options *run_opts = ro_obj != Py_None ? ((RunOptionsObject *)ro_obj)->ro : NULL;
  PyObject *in_names = PySequence_Fast(in_names_obj, "input names must be a sequence");
  PyObject *in_values = in_names ? PySequence_Fast(in_values_obj, "inputs must be a sequence") : NULL;
  PyObject *out_names = NULL;
  if (in_values && out_names_obj != Py_None) out_names = PySequence_Fast(out_names_obj, "output names must be a sequence");
  PyObject *result = NULL;
  const char **inames = NULL, **onames = NULL;
  oxrt_value **inputs = NULL, **outputs = NULL;
  BufferList bufs = {0};
  Py_ssize_t n_in = 0, n_out = 0;
  if (!in_values || (out_names_obj != Py_None && !out_names)) goto done;
  n_in = PySequence_Fast_GET_SIZE(in_names);
  if (PySequence_Fast_GET_SIZE(in_values) != n_in) {
    PyErr_SetString(PyExc_ValueError, "input names and values differ in length");
    goto done;
  }
  n_out = out_names ? PySequence_Fast_GET_SIZE(out_names) : (Py_ssize_t)oxrt_session_get_output_count(self->session);
  inames = PyMem_Calloc((size_t)n_in + 1, sizeof *inames);
  inputs = PyMem_Calloc((size_t)n_in + 1, sizeof *inputs);
  onames = PyMem_Calloc((size_t)n_out + 1, sizeof *onames);
  outputs = PyMem_Calloc((size_t)n_out + 1, sizeof *outputs);
  if (!inames || !inputs || !onames || !outputs) {
    PyErr_NoMemory();
    goto done;
  }
  if (borrow_names(in_names, inames, "input name") < 0) goto done;
  if (out_names && borrow_names(out_names, onames, "output name") < 0) goto done;
  for (Py_ssize_t i = 0; i < n_in; i++)
    if (value_from_py(PySequence_Fast_GET_ITEM(in_values, i), &bufs, 0, &inputs[i]) < 0) {
      /* Name the input in the message; keep the exception's type. */
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      PyErr_NormalizeException(&type, &value, &tb);
      /* Only for exception types built from one message string. */
      int plain = type == PyExc_TypeError || type == PyExc_ValueError || type == PyExc_RuntimeError;
      PyObject *msg = plain && value ? PyObject_Str(value) : NULL;
      if (msg) {
        PyErr_Format(type, "%U (input '%s')", msg, inames[i]);
        Py_DECREF(msg);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
      } else {
        PyErr_Restore(type, value, tb);
      }
      goto done;
    }
  /* optional writable arrays that receive outputs in place (io binding); None entries get new arrays */
  if (out_bufs_obj != Py_None) {
    if (!PySequence_Check(out_bufs_obj) || PySequence_Size(out_bufs_obj) != n_out) {
      PyErr_SetString(PyExc_ValueError, "output buffers must be a sequence with one entry per output");
      goto done;
    }
    for (Py_ssize_t i = 0; i < n_out; i++) {
      PyObject *b = PySequence_GetItem(out_bufs_obj, i);
      if (!b) goto done;
      int rc = b == Py_None ? 0 : tensor_into_buffer(b, &bufs, &outputs[i]);
      Py_DECREF(b);
      if (rc < 0) goto done;
    }
  }
  oxrt_status *st;
  {
    oxrt_session *s = self->session;
    const char *const *on = out_names ? onames : NULL;
    Py_BEGIN_ALLOW_THREADS
    st = oxrt_session_run(s, run_opts, inames, (const oxrt_value *const *)inputs, (size_t)n_in, on, (size_t)n_out,
                          outputs);
    Py_END_ALLOW_THREADS
  }
  if (st) {
    raise_status(st);
    goto done;
  }
  result = results_list(outputs, n_out, out_bufs_obj != Py_None ? out_bufs_obj : NULL);
done:
  if (outputs)
    for (Py_ssize_t i = 0; i < n_out; i++) oxrt_value_free(outputs[i]);
  if (inputs)
    for (Py_ssize_t i = 0; i < n_in; i++) oxrt_value_free(inputs[i]);
  buffers_release(&bufs);
  PyMem_Free(inames);
  PyMem_Free(onames);
  PyMem_Free(inputs);
  PyMem_Free(outputs);
  Py_XDECREF(in_names);
  Py_XDECREF(in_values);
  Py_XDECREF(out_names);
  return result;
}

/* An exact numpy.ndarray whose buffer is C-contiguous, native and of a plain element type, wrapped without a copy
 * (the common feed): 1. 0 when the array needs the Python conversion (strings, objects, ml_dtypes, other layouts),
 * with no exception set. -1 on error. */
static int try_plain_ndarray(PyObject *obj, BufferList *bufs, oxrt_value **out) {
  if ((PyObject *)Py_TYPE(obj) != g_np_ndarray) return 0;
  Py_buffer *view = buffers_push(bufs);
  if (!view) return -1;
  if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
    PyErr_Clear();
    return 0;
  }
  oxrt_elem_type et = elem_type_of_format(view->format, view->itemsize);
  size_t align = view->itemsize > 8 ? 8 : (size_t)view->itemsize;
  if (et == OXRT_UNDEFINED || et == OXRT_STRING || view->ndim > OXRT_MAX_RANK ||
      (Py_ssize_t)oxrt_elem_type_size(et) != view->itemsize || view->len == 0 || ((uintptr_t)view->buf % align)) {
    PyBuffer_Release(view);
    return 0;
  }
  bufs->count++;
  int64_t dims[OXRT_MAX_RANK];
  for (int i = 0; i < view->ndim; i++) dims[i] = (int64_t)view->shape[i];
  oxrt_status *st = oxrt_value_wrap_tensor(et, dims, (size_t)view->ndim, view->buf, (size_t)view->len, out);
  return st ? fail_status(st) : 1;
}

/* Outputs of a finished run as a new list (numpy arrays, lists, dicts); takes the values. */
enum { FEED_STACK = 16 };

/* run_feed(feed_dict, output_names_or_None, run_options_or_None, convert) -> list: InferenceSession.run's path.
 * Plain numpy arrays go straight to the library; any other value goes through convert(name, value) (the Python
 * conversion of _session.py) first. Arrays of names and values live on the stack for up to FEED_STACK entries. */
static PyObject *Session_run_feed(SessionObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 4) return PyErr_Format(PyExc_TypeError, "run_feed takes 4 arguments, got %zd", nargs);
  PyObject *feed = args[0], *out_names_obj = args[1], *ro_obj = args[2], *convert = args[3];
  if (check_open(self) < 0) return NULL;
  if (!PyDict_Check(feed)) return PyErr_Format(PyExc_TypeError, "input feed must be a dict, not %R", Py_TYPE(feed));
  if (ro_obj != Py_None && !PyObject_TypeCheck(ro_obj, &RunOptionsType))
    return PyErr_Format(PyExc_TypeError, "run_options must be an oxrt._oxrt.RunOptions");
  const oxrt_run_options *run_opts = ro_obj != Py_None ? ((RunOptionsObject *)ro_obj)->ro : NULL;
  PyObject *out_names = NULL;
  if (out_names_obj != Py_None && !(out_names = PySequence_Fast(out_names_obj, "output names must be a sequence")))
    return NULL;
  const Py_ssize_t n_in = PyDict_GET_SIZE(feed);
  const Py_ssize_t n_out =
      out_names ? PySequence_Fast_GET_SIZE(out_names) : (Py_ssize_t)oxrt_session_get_output_count(self->session);
  const char *inames_s[FEED_STACK], *onames_s[FEED_STACK];
  oxrt_value *inputs_s[FEED_STACK] = {0}, *outputs_s[FEED_STACK] = {0};
  Py_buffer views_s[FEED_STACK];
  const char **inames = inames_s, **onames = onames_s;
  oxrt_value **inputs = inputs_s, **outputs = outputs_s;
  PyObject *result = NULL, *keep = NULL; /* keep: converted values, alive until the run is over */
  BufferList bufs = {0};
  if (n_in > FEED_STACK || n_out > FEED_STACK) {
    inames = PyMem_Calloc((size_t)n_in + 1, sizeof *inames);
    inputs = PyMem_Calloc((size_t)n_in + 1, sizeof *inputs);
    onames = PyMem_Calloc((size_t)n_out + 1, sizeof *onames);
    outputs = PyMem_Calloc((size_t)n_out + 1, sizeof *outputs);
    if (!inames || !inputs || !onames || !outputs) {
      PyErr_NoMemory();
      goto done;
    }
  } else {
    bufs.views = bufs.stack = views_s; /* buffers_push moves to the heap only past FEED_STACK */
    bufs.cap = FEED_STACK;
  }
  if (out_names && borrow_names(out_names, onames, "output name") < 0) goto done;
  Py_ssize_t pos = 0, i = 0;
  PyObject *key, *value;
  while (PyDict_Next(feed, &pos, &key, &value)) {
    if (!PyUnicode_Check(key)) {
      PyErr_Format(PyExc_TypeError, "input name must be str, not %R", (PyObject *)Py_TYPE(key));
      goto done;
    }
    if (!(inames[i] = PyUnicode_AsUTF8(key))) goto done;
    int rc = try_plain_ndarray(value, &bufs, &inputs[i]);
    if (rc == 0) {
      PyObject *conv = PyObject_CallFunctionObjArgs(convert, key, value, NULL);
      if (!conv || ((!keep && !(keep = PyList_New(0))) || PyList_Append(keep, conv) < 0)) {
        Py_XDECREF(conv);
        goto done;
      }
      Py_DECREF(conv);
      rc = value_from_py(conv, &bufs, 0, &inputs[i]) < 0 ? -1 : 1;
      if (rc < 0) {
        PyObject *type, *val, *tb;
        PyErr_Fetch(&type, &val, &tb);
        PyErr_NormalizeException(&type, &val, &tb);
        int plain = type == PyExc_TypeError || type == PyExc_ValueError || type == PyExc_RuntimeError;
        PyObject *msg = plain && val ? PyObject_Str(val) : NULL;
        if (msg) { /* name the input; keep the exception's type */
          PyErr_Format(type, "%U (input '%s')", msg, inames[i]);
          Py_DECREF(msg);
          Py_XDECREF(type);
          Py_XDECREF(val);
          Py_XDECREF(tb);
        } else {
          PyErr_Restore(type, val, tb);
        }
      }
    }
    if (rc < 0) goto done;
    i++;
  }
  oxrt_status *st;
  {
    oxrt_session *s = self->session;
    const char *const *on = out_names ? onames : NULL;
    Py_BEGIN_ALLOW_THREADS
    st = oxrt_session_run(s, run_opts, inames, (const oxrt_value *const *)inputs, (size_t)n_in, on, (size_t)n_out,
                          outputs);
    Py_END_ALLOW_THREADS
  }
  if (st) {
    raise_status(st);
    goto done;
  }
  result = results_list(outputs, n_out, NULL);
done:
  for (Py_ssize_t k = 0; outputs && k < n_out; k++) oxrt_value_free(outputs[k]);
  for (Py_ssize_t k = 0; inputs && k < n_in; k++) oxrt_value_free(inputs[k]);
  buffers_release(&bufs);
  if (inames != inames_s) {
    PyMem_Free(inames);
    PyMem_Free(onames);
    PyMem_Free(inputs);
    PyMem_Free(outputs);
  }
  Py_XDECREF(keep);
  Py_XDECREF(out_names);
  return result;
}

static PyObject *Session_end_profiling(SessionObject *self, PyObject *unused) {
  (void)unused;
  if (!self->session) return PyErr_Format(PyExc_RuntimeError, "session is closed");
  char path[8192];
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS
  st = oxrt_session_end_profiling(self->session, path, sizeof path);
  Py_END_ALLOW_THREADS
  if (st) {
    fail_status(st);
    return NULL;
  }
  return PyUnicode_DecodeFSDefault(path);
}

static PyObject *Session_profiling_start_ns(SessionObject *self, PyObject *unused) {
  (void)unused;
  if (!self->session) return PyErr_Format(PyExc_RuntimeError, "session is closed");
  return PyLong_FromLongLong((long long)oxrt_session_get_profiling_start_time_ns(self->session));
}

/* [(node_name, op_type, start_ns, duration_ns), ...] recorded since the last end_profiling. */
static PyObject *Session_profile_events(SessionObject *self, PyObject *unused) {
  (void)unused;
  if (!self->session) return PyErr_Format(PyExc_RuntimeError, "session is closed");
  size_t n = oxrt_session_get_profile_count(self->session);
  PyObject *list = PyList_New(0);
  for (size_t i = 0; list && i < n; i++) {
    oxrt_profile_event e = OXRT_INIT(oxrt_profile_event);
    if (oxrt_session_get_profile_event(self->session, i, &e)) break; /* ended meanwhile */
    PyObject *t = Py_BuildValue("(ssLL)", e.node_name, e.op_type, (long long)e.start_ns, (long long)e.duration_ns);
    if (!t || PyList_Append(list, t) < 0) {
      Py_XDECREF(t);
      Py_DECREF(list);
      return NULL;
    }
    Py_DECREF(t);
  }
  return list;
}

static PyMethodDef Session_methods[] = {
    {"end_profiling", (PyCFunction)Session_end_profiling, METH_NOARGS,
     "Write the profile recorded so far (Chrome trace JSON) and return its file name."},
    {"profiling_start_ns", (PyCFunction)Session_profiling_start_ns, METH_NOARGS,
     "Wall-clock ns since the epoch that profile event times count from."},
    {"profile_events", (PyCFunction)Session_profile_events, METH_NOARGS,
     "Profile events recorded since the last end_profiling: (node, op_type, start_ns, duration_ns)."},
    {"inputs", (PyCFunction)Session_inputs, METH_NOARGS,
     "List of (name, type, shape, kind, elem_type) for the model inputs."},
    {"outputs", (PyCFunction)Session_outputs, METH_NOARGS,
     "List of (name, type, shape, kind, elem_type) for the model outputs."},
    {"meta", (PyCFunction)Session_meta, METH_NOARGS, "Model metadata as a dict."},
    {"stats", (PyCFunction)Session_stats, METH_NOARGS, "Node and parameter counts as a dict."},
    {"run_feed", (PyCFunction)(void (*)(void))Session_run_feed, METH_FASTCALL,
     "run_feed(feed_dict, output_names_or_None, run_options_or_None, convert) -> list; the GIL is released while "
     "the model runs."},
    {"run", (PyCFunction)Session_run, METH_VARARGS,
     "run(input_names, inputs, output_names_or_None) -> list; releases the GIL while the model runs."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "oxrt._oxrt.Session",
    .tp_basicsize = sizeof(SessionObject),
    .tp_dealloc = (destructor)Session_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Session(model, intra_op_num_threads=0, optimization_level=99, log_severity_level=2)\n\n"
              "A loaded model. `model` is a path or a bytes-like object holding the ONNX model.",
    .tp_methods = Session_methods,
    .tp_init = (initproc)Session_init,
    .tp_new = PyType_GenericNew,
};

/* ----------------------------------------------------------------- module */

static PyObject *mod_version(PyObject *self, PyObject *unused) {
  (void)self;
  (void)unused;
  return PyUnicode_FromString(oxrt_version());
}

static PyObject *mod_elem_type_name(PyObject *self, PyObject *arg) {
  (void)self;
  long t = PyLong_AsLong(arg);
  if (t == -1 && PyErr_Occurred()) return NULL;
  if (t < 0 || t >= OXRT_ELEM_TYPE_COUNT) {
    PyErr_Format(PyExc_ValueError, "bad element type %ld", t);
    return NULL;
  }
  return PyUnicode_FromString(oxrt_elem_type_name((oxrt_elem_type)t));
}

/* ---- ONNX toolkit (checker, shape inference, text format, opset conversion) over serialized models */
/* check_model(path_or_bytes, full) -> None when valid, else the checker's message. */
static PyObject *mod_check_model(PyObject *self, PyObject *args) {
  PyObject *obj;
  int full = 0;
  if (!PyArg_ParseTuple(args, "Op", &obj, &full)) return NULL;
  unsigned flags = full ? OXRT_CHECK_FULL : 0;
  oxrt_status *st;
  if (PyUnicode_Check(obj)) {
    const char *path = PyUnicode_AsUTF8(obj);
    if (!path) return NULL;
    Py_BEGIN_ALLOW_THREADS st = oxrt_check_model(path, flags);
    Py_END_ALLOW_THREADS
  } else {
    Py_buffer b;
    if (PyObject_GetBuffer(obj, &b, PyBUF_SIMPLE) < 0) return NULL;
    Py_BEGIN_ALLOW_THREADS st = oxrt_check_model_bytes(b.buf, (size_t)b.len, flags);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&b);
  }
  if (!st) Py_RETURN_NONE;
  if (oxrt_status_get_code(st) == OXRT_ERR_IO || oxrt_status_get_code(st) == OXRT_ERR_OUT_OF_MEMORY) return raise_status(st);
  PyObject *msg = PyUnicode_DecodeUTF8(oxrt_status_get_message(st), (Py_ssize_t)strlen(oxrt_status_get_message(st)),
                                       "replace");
  oxrt_status_free(st);
  return msg;
}

/* Wraps a malloc'd result buffer as bytes and frees it. */
static PyObject *take_bytes(oxrt_status *st, void *data, size_t size) {
  if (st) return raise_status(st);
  PyObject *r = PyBytes_FromStringAndSize(data, (Py_ssize_t)size);
  free(data);
  return r;
}

static PyObject *mod_infer_shapes(PyObject *self, PyObject *arg) {
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  void *out = NULL;
  size_t n = 0;
  oxrt_status *st = oxrt_infer_shapes_bytes(b.buf, (size_t)b.len, &out, &n);
  PyBuffer_Release(&b);
  return take_bytes(st, out, n);
}

static PyObject *mod_print_model(PyObject *self, PyObject *arg) {
  Py_buffer b;
  if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
  char *text = NULL;
  oxrt_status *st = oxrt_print_model_bytes(b.buf, (size_t)b.len, &text);
  PyBuffer_Release(&b);
  if (st) return raise_status(st);
  PyObject *r = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
  free(text);
  return r;
}

static PyObject *mod_parse_model(PyObject *self, PyObject *arg) {
  const char *text = PyUnicode_AsUTF8(arg);
  if (!text) return NULL;
  void *out = NULL;
  size_t n = 0;
  oxrt_status *st = oxrt_parse_model_text(text, &out, &n);
  return take_bytes(st, out, n);
}

static PyObject *mod_convert_opset(PyObject *self, PyObject *args) {
  Py_buffer b;
  long long target;
  if (!PyArg_ParseTuple(args, "y*L", &b, &target)) return NULL;
  void *out = NULL;
  size_t n = 0;
  oxrt_status *st = oxrt_convert_opset_bytes(b.buf, (size_t)b.len, (int64_t)target, &out, &n);
  PyBuffer_Release(&b);
  return take_bytes(st, out, n);
}

/* The same from and to files: external data is read from the model's folder (not the current one), and
 * initializers of at least `external_threshold` bytes (0: none) are written to "<out_path>.data". */
/* infer_shapes_file(in_path, out_path, external_threshold=0) -> None */
static PyObject *mod_infer_shapes_file(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out;
  unsigned long long threshold = 0;
  if (!PyArg_ParseTuple(args, "ss|K", &in, &out, &threshold)) return NULL;
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS st = oxrt_infer_shapes_file(in, out, (size_t)threshold);
  Py_END_ALLOW_THREADS
  if (st) return raise_status(st);
  Py_RETURN_NONE;
}

/* print_model_file(path) -> str; external initializers are printed as their entries, never read */
static PyObject *mod_print_model_file(PyObject *self, PyObject *args) {
  (void)self;
  const char *path;
  if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
  char *text = NULL;
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS st = oxrt_print_model_file(path, &text);
  Py_END_ALLOW_THREADS
  if (st) return raise_status(st);
  PyObject *r = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
  free(text);
  return r;
}

/* convert_opset_file(in_path, out_path, target, external_threshold=0) -> None */
static PyObject *mod_convert_opset_file(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out;
  long long target;
  unsigned long long threshold = 0;
  if (!PyArg_ParseTuple(args, "ssL|K", &in, &out, &target, &threshold)) return NULL;
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS st = oxrt_convert_opset_file(in, out, (int64_t)target, (size_t)threshold);
  Py_END_ALLOW_THREADS
  if (st) return raise_status(st);
  Py_RETURN_NONE;
}

/* optimize_passes(in_path, out_path, passes, fixed_point, external_threshold): oxrt.optimizer's engine. */
static PyObject *mod_optimize_passes(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out, *passes;
  int fixed_point = 0;
  unsigned long long threshold = 0;
  if (!PyArg_ParseTuple(args, "sss|pK", &in, &out, &passes, &fixed_point, &threshold)) return NULL;
  oxrt_optimize_options o = {sizeof o, OXRT_OPT_ALL, (size_t)threshold, NULL, NULL, NULL};
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS st = oxrt_optimize_model_file_passes(in, out, passes, fixed_point, &o);
  Py_END_ALLOW_THREADS
  if (st) return raise_status(st);
  Py_RETURN_NONE;
}

/* optimizer_passes(): [(name, summary, alias_of or None, named_only)] of every name optimize_passes takes. */
static PyObject *mod_optimizer_passes(PyObject *self, PyObject *noargs) {
  (void)self, (void)noargs;
  PyObject *list = PyList_New(0);
  const char *summary, *alias;
  oxrt_opt_level level;
  for (size_t i = 0; list && oxrt_opt_pass_info(i, &summary, &level); i++) {
    PyObject *t = Py_BuildValue("(ssOO)", oxrt_opt_pass_info(i, NULL, NULL), summary, Py_None, Py_False);
    if (!t || PyList_Append(list, t) < 0) Py_CLEAR(list);
    Py_XDECREF(t);
  }
  for (size_t i = 0; list && oxrt_opt_named_pass_info(i, &summary, &alias); i++) {
    PyObject *t = Py_BuildValue("(sszO)", oxrt_opt_named_pass_info(i, NULL, NULL), summary, alias, Py_True);
    if (!t || PyList_Append(list, t) < 0) Py_CLEAR(list);
    Py_XDECREF(t);
  }
  return list;
}

/* ------------------------------------------------------- reduced precision */
/* quantize(in_path, out_path, mode, fmt, per_channel, reduce_range, weight_type, activation_type, method,
 *          percentile, op_types, exclude_nodes, batches, progress): batches is a list of (names, arrays). */
static PyObject *mod_quantize(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out, *op_types, *exclude;
  int mode, fmt, per_channel, reduce_range, wt, at, method;
  float pct;
  PyObject *batches_obj, *progress;
  if (!PyArg_ParseTuple(args, "ssiiiiiiifzzOO", &in, &out, &mode, &fmt, &per_channel, &reduce_range, &wt, &at,
                        &method, &pct, &op_types, &exclude, &batches_obj, &progress))
    return NULL;
  PyObject *batches = PySequence_Fast(batches_obj, "batches must be a sequence");
  if (!batches) return NULL;
  Py_ssize_t nb = PySequence_Fast_GET_SIZE(batches), total = 0;
  oxrt_calib_batch *cb = PyMem_Calloc((size_t)nb + 1, sizeof *cb);
  for (Py_ssize_t b = 0; b < nb; b++) {
    PyObject *names = PyTuple_Check(PySequence_Fast_GET_ITEM(batches, b)) ? PyTuple_GetItem(PySequence_Fast_GET_ITEM(batches, b), 0) : NULL;
    total += names ? PySequence_Size(names) : 0;
  }
  const char **names_all = PyMem_Calloc((size_t)total + 1, sizeof(char *));
  oxrt_value **vals_all = PyMem_Calloc((size_t)total + 1, sizeof(oxrt_value *));
  BufferList bufs = {0};
  PyObject *result = NULL;
  Py_ssize_t k = 0;
  if (!cb || !names_all || !vals_all) {
    PyErr_NoMemory();
    goto done;
  }
  for (Py_ssize_t b = 0; b < nb; b++) {
    PyObject *pair = PySequence_Fast_GET_ITEM(batches, b), *names, *values;
    if (!PyTuple_Check(pair) || PyTuple_Size(pair) != 2) {
      PyErr_SetString(PyExc_TypeError, "each calibration batch must be a (names, arrays) tuple");
      goto done;
    }
    names = PyTuple_GET_ITEM(pair, 0), values = PyTuple_GET_ITEM(pair, 1);
    Py_ssize_t n = PySequence_Size(names);
    if (n < 0 || PySequence_Size(values) != n) {
      PyErr_SetString(PyExc_ValueError, "calibration batch: names and arrays differ in length");
      goto done;
    }
    cb[b].size = sizeof *cb;
    cb[b].n_inputs = (size_t)n;
    cb[b].names = names_all + k;
    cb[b].values = (const oxrt_value *const *)(vals_all + k);
    for (Py_ssize_t i = 0; i < n; i++, k++) {
      PyObject *nm = PySequence_GetItem(names, i), *v = PySequence_GetItem(values, i);
      names_all[k] = nm ? PyUnicode_AsUTF8(nm) : NULL; /* kept alive by the batches list */
      int rc = names_all[k] && v ? value_from_py(v, &bufs, 0, &vals_all[k]) : -1;
      Py_XDECREF(nm);
      Py_XDECREF(v);
      if (rc < 0) goto done;
    }
  }
  oxrt_quantize_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.mode = (oxrt_quant_mode)mode, o.format = (oxrt_quant_format)fmt, o.per_channel = per_channel;
  o.reduce_range = reduce_range, o.weight_type = (oxrt_elem_type)wt, o.activation_type = (oxrt_elem_type)at;
  o.method = (oxrt_calib_method)method, o.percentile = pct, o.op_types = op_types, o.exclude_nodes = exclude;
  o.batches = cb, o.n_batches = (size_t)nb;
  (void)progress; /* the Python side draws its own bar while reading batches */
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS
  st = oxrt_quantize_model_file(in, out, &o);
  Py_END_ALLOW_THREADS
  if (st) raise_status(st);
  else result = Py_NewRef(Py_None);
done:
  for (Py_ssize_t i = 0; vals_all && i < total; i++) oxrt_value_free(vals_all[i]);
  buffers_release(&bufs);
  PyMem_Free(cb), PyMem_Free(names_all), PyMem_Free(vals_all);
  Py_DECREF(batches);
  return result;
}

/* convert_float(in_path, out_path, to, keep_io_types, block_ops or None, block_nodes or None) */
static PyObject *mod_convert_float(PyObject *self, PyObject *args) {
  (void)self;
  const char *in, *out, *block_ops, *block_nodes;
  int to, keep;
  if (!PyArg_ParseTuple(args, "ssiizz", &in, &out, &to, &keep, &block_ops, &block_nodes)) return NULL;
  oxrt_convert_options o;
  memset(&o, 0, sizeof o);
  o.size = sizeof o;
  o.to = (oxrt_elem_type)to, o.keep_io_types = keep, o.block_ops = block_ops, o.block_nodes = block_nodes;
  oxrt_status *st;
  Py_BEGIN_ALLOW_THREADS
  st = oxrt_convert_float_model_file(in, out, &o);
  Py_END_ALLOW_THREADS
  if (st) return raise_status(st);
  Py_RETURN_NONE;
}

static PyObject *mod_bf16_info(PyObject *self, PyObject *unused) {
  (void)self, (void)unused;
  return Py_BuildValue("{s:O,s:O,s:s}", "cpu_has_bf16", oxrt_cpu_has_bf16() ? Py_True : Py_False, "native_kernel",
                       oxrt_bf16_compute_native() ? Py_True : Py_False, "default_block_ops",
                       oxrt_convert_default_block_ops());
}

static PyMethodDef module_methods[] = {
    {"quantize", mod_quantize, METH_VARARGS, "8-bit quantization of a model file (oxrt.quantization)."},
    {"convert_float", mod_convert_float, METH_VARARGS, "float16/bfloat16 conversion of a model file (oxrt.float16)."},
    {"bf16_info", mod_bf16_info, METH_NOARGS, "bfloat16 support of this CPU and build."},
    {"optimize_passes", mod_optimize_passes, METH_VARARGS,
     "optimize_passes(in_path, out_path, passes, fixed_point=False, external_threshold=0): run named passes."},
    {"optimizer_passes", mod_optimizer_passes, METH_NOARGS, "[(name, summary, alias_of, named_only)] of every pass."},
    {"check_model", mod_check_model, METH_VARARGS, "check_model(path_or_bytes, full): None if valid, else the message."},
    {"infer_shapes", mod_infer_shapes, METH_O, "Serialized model with inferred value_info."},
    {"print_model", mod_print_model, METH_O, "A serialized model in ONNX's textual syntax."},
    {"parse_model", mod_parse_model, METH_O, "ONNX textual syntax to a serialized model."},
    {"convert_opset", mod_convert_opset, METH_VARARGS, "convert_opset(bytes, target_opset): converted model bytes."},
    {"infer_shapes_file", mod_infer_shapes_file, METH_VARARGS,
     "infer_shapes_file(in_path, out_path, external_threshold=0): the inferred model written to out_path."},
    {"print_model_file", mod_print_model_file, METH_VARARGS, "print_model_file(path): the model file as text."},
    {"convert_opset_file", mod_convert_opset_file, METH_VARARGS,
     "convert_opset_file(in_path, out_path, target_opset, external_threshold=0): the converted model written."},
    {"version", mod_version, METH_NOARGS, "Version string of the C library."},
    {"elem_type_name", mod_elem_type_name, METH_O, "ONNX name of an element type number."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "oxrt._oxrt", "C extension of oxrt (use the `oxrt` package instead).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__oxrt(void) {
  if (PyType_Ready(&OwnerType) < 0 || PyType_Ready(&TensorViewType) < 0 || PyType_Ready(&SessionType) < 0 ||
      PyType_Ready(&RunOptionsType) < 0)
    return NULL;
  PyObject *m = PyModule_Create(&module_def);
  if (!m) return NULL;
  PyObject *np = PyImport_ImportModule("numpy");
  if (!np) goto fail;
  g_np_asarray = PyObject_GetAttrString(np, "asarray");
  g_np_array = PyObject_GetAttrString(np, "array");
  g_np_ndarray = PyObject_GetAttrString(np, "ndarray");
  g_np_object = PyObject_GetAttrString(np, "object_");
  Py_DECREF(np);
  if (!g_np_asarray || !g_np_array || !g_np_object || !g_np_ndarray) goto fail;
  g_ml_dtypes = PyImport_ImportModule("ml_dtypes");
  if (!g_ml_dtypes) {
    PyErr_Clear();
    g_ml_dtypes = Py_NewRef(Py_None);
  }
  PyObject *dict = Py_BuildValue("{s:s}", "__module__", EXC_MODULE);
  if (!dict) goto fail;
  g_exc_base = PyErr_NewExceptionWithDoc(EXC_MODULE ".OxrtError",
                                         "Base of the errors oxrt raises; the subclasses carry onnxruntime's names.",
                                         PyExc_Exception, dict);
  if (!g_exc_base || PyModule_AddObjectRef(m, "OxrtError", g_exc_base) < 0) {
    Py_DECREF(dict);
    goto fail;
  }
  for (int i = 1; i < ORT_CODE_COUNT; i++) {
    char name[128];
    snprintf(name, sizeof name, EXC_MODULE ".%s", k_ort_codes[i].class_name);
    g_exc[i] = PyErr_NewException(name, g_exc_base, dict);
    if (!g_exc[i] || PyModule_AddObjectRef(m, k_ort_codes[i].class_name, g_exc[i]) < 0) {
      Py_DECREF(dict);
      goto fail;
    }
  }
  Py_DECREF(dict);
  if (PyModule_AddObjectRef(m, "Session", (PyObject *)&SessionType) < 0) goto fail;
  if (PyModule_AddObjectRef(m, "RunOptions", (PyObject *)&RunOptionsType) < 0) goto fail;
  if (PyModule_AddStringConstant(m, "__version__", oxrt_version()) < 0) goto fail;
  return m;
fail:
  Py_DECREF(m);
  return NULL;
}
