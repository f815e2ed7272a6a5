// oxrt.hpp - header-only C++17 wrapper over the C API in oxrt.h.
//
//  - Every object (Session, SessionOptions, RunOptions, Value, IoBinding, ThreadPool) owns its C handle and frees
//    it in its destructor; objects move, never copy.
//  - A failing call throws oxrt::Error, which carries the status code and the message (what and where).
//  - Tensor data is seen through oxrt::Span<T> (pointer + size), checked against the element type.
//
//    oxrt::Session session("model.onnx");
//    std::vector<float> x(64);
//    auto input = oxrt::Value::wrap<float>(x, {1, 1, 8, 8});
//    auto out = session.run({"image"}, {&input}, {"logits"});
//    oxrt::Span<const float> logits = out[0].data<float>();
#ifndef OXRT_HPP
#define OXRT_HPP

#include "oxrt.h"

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace oxrt {

// An error from the library: code() is the oxrt_status_code, what() the message.
class Error : public std::runtime_error {
public:
  Error(oxrt_status_code code, const std::string &message) : std::runtime_error(message), code_(code) {}
  oxrt_status_code code() const noexcept { return code_; }
  const char *code_name() const noexcept { return oxrt_status_code_name(code_); }

private:
  oxrt_status_code code_;
};

// Throws for a non-NULL status (and frees it).
inline void check(oxrt_status *st) {
  if (!st) return;
  oxrt_status_code code = oxrt_status_get_code(st);
  std::string message = oxrt_status_get_message(st);
  oxrt_status_free(st);
  throw Error(code, message);
}

// A view of contiguous elements, as std::span (C++20) would give.
template <typename T> class Span {
public:
  Span() = default;
  Span(T *data, size_t size) : data_(data), size_(size) {}
  T *data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T &operator[](size_t i) const noexcept { return data_[i]; }
  T *begin() const noexcept { return data_; }
  T *end() const noexcept { return data_ + size_; }

private:
  T *data_ = nullptr;
  size_t size_ = 0;
};

// The element type of a C++ type, for checked data access.
template <typename T> struct ElemType;
#define OXRT_HPP_ELEM(T, E)                                                                                            \
  template <> struct ElemType<T> {                                                                                     \
    static constexpr oxrt_elem_type value = E;                                                                         \
  };
OXRT_HPP_ELEM(float, OXRT_FLOAT)
OXRT_HPP_ELEM(double, OXRT_DOUBLE)
OXRT_HPP_ELEM(int8_t, OXRT_INT8)
OXRT_HPP_ELEM(uint8_t, OXRT_UINT8)
OXRT_HPP_ELEM(int16_t, OXRT_INT16)
OXRT_HPP_ELEM(uint16_t, OXRT_UINT16)
OXRT_HPP_ELEM(int32_t, OXRT_INT32)
OXRT_HPP_ELEM(uint32_t, OXRT_UINT32)
OXRT_HPP_ELEM(int64_t, OXRT_INT64)
OXRT_HPP_ELEM(uint64_t, OXRT_UINT64)
OXRT_HPP_ELEM(bool, OXRT_BOOL)
#undef OXRT_HPP_ELEM

namespace detail {
// Owner of a C handle with its free function.
template <typename T, void (*Free)(T *)> class Handle {
public:
  Handle() = default;
  explicit Handle(T *p) : p_(p) {}
  Handle(const Handle &) = delete;
  Handle &operator=(const Handle &) = delete;
  Handle(Handle &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Handle &operator=(Handle &&o) noexcept {
    if (this != &o) reset(std::exchange(o.p_, nullptr));
    return *this;
  }
  ~Handle() { reset(); }
  void reset(T *p = nullptr) noexcept {
    if (p_) Free(p_);
    p_ = p;
  }
  T *get() const noexcept { return p_; }
  T *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

private:
  T *p_ = nullptr;
};
} // namespace detail

// A tensor, sequence, map or optional, owning its C value (borrowed values, such as IoBinding::output's and
// Value::item's, stay `const oxrt_value *`).
class Value {
public:
  Value() = default;
  explicit Value(oxrt_value *v) : h_(v) {}

  // A zero-filled tensor owning its memory.
  static Value tensor(oxrt_elem_type type, const std::vector<int64_t> &dims) {
    oxrt_value *v = nullptr;
    check(oxrt_value_create_tensor(type, dims.data(), dims.size(), &v));
    return Value(v);
  }
  template <typename T> static Value tensor(const std::vector<int64_t> &dims) {
    return tensor(ElemType<T>::value, dims);
  }
  // A read-only tensor over caller memory (no copy); the memory must outlive the value.
  template <typename T> static Value wrap(const T *data, size_t count, const std::vector<int64_t> &dims) {
    oxrt_value *v = nullptr;
    check(oxrt_value_wrap_tensor(ElemType<T>::value, dims.data(), dims.size(), data, count * sizeof(T), &v));
    return Value(v);
  }
  template <typename T> static Value wrap(const std::vector<T> &data, const std::vector<int64_t> &dims) {
    return wrap(data.data(), data.size(), dims);
  }
  // A writable tensor over caller memory, which can receive outputs in place.
  template <typename T> static Value wrap_mutable(T *data, size_t count, const std::vector<int64_t> &dims) {
    oxrt_value *v = nullptr;
    check(oxrt_value_wrap_mutable_tensor(ElemType<T>::value, dims.data(), dims.size(), data, count * sizeof(T), &v));
    return Value(v);
  }
  // A string tensor from UTF-8 (or any bytes, NULs included).
  static Value strings(const std::vector<std::string> &items, const std::vector<int64_t> &dims) {
    Value v = tensor(OXRT_STRING, dims);
    if (v.element_count() != items.size()) throw Error(OXRT_ERR_INVALID_ARGUMENT, "string count does not match dims");
    for (size_t i = 0; i < items.size(); i++) check(oxrt_value_set_string(v.get(), i, items[i].data(), items[i].size()));
    return v;
  }

  // A sequence adopting `items` (all of one kind; tensors of `elem_type`, OXRT_UNDEFINED: the first item's).
  // On success `items` is left holding empty values; on failure it keeps them all and Error is thrown.
  static Value sequence(oxrt_elem_type elem_type, std::vector<Value> &&items) {
    std::vector<oxrt_value *> raw;
    for (const Value &v : items) raw.push_back(v.get());
    oxrt_value *out = nullptr;
    check(oxrt_value_create_sequence(elem_type, raw.data(), raw.size(), &out));
    for (Value &v : items) v.release();
    return Value(out);
  }
  // A map from a 1-D keys tensor to a 1-D values tensor of as many elements; adopts both on success only.
  static Value map(Value &&keys, Value &&values) {
    oxrt_value *out = nullptr;
    check(oxrt_value_create_map(keys.get(), values.get(), &out));
    keys.release();
    values.release();
    return Value(out);
  }

  oxrt_value *get() const noexcept { return h_.get(); }
  oxrt_value *release() noexcept { return h_.release(); }
  explicit operator bool() const noexcept { return static_cast<bool>(h_); }

  oxrt_value_kind kind() const noexcept { return oxrt_value_get_kind(get()); }
  // The innermost tensors' element type (a map's values; for a sequence of maps, the maps' values).
  oxrt_elem_type elem_type() const noexcept { return oxrt_value_get_elem_type(get()); }
  // A map's key type; throws for any other kind of value.
  oxrt_elem_type key_type() const {
    oxrt_elem_type k = OXRT_UNDEFINED;
    check(oxrt_value_map_types(get(), &k, nullptr));
    return k;
  }
  std::vector<int64_t> shape() const {
    oxrt_elem_type t;
    size_t rank = 0;
    const int64_t *dims = nullptr;
    check(oxrt_value_tensor_shape(get(), &t, &rank, &dims));
    return std::vector<int64_t>(dims, dims + rank);
  }
  size_t element_count() const noexcept { return oxrt_value_get_elem_count(get()); }
  std::string type_string() const {
    char buf[512];
    check(oxrt_value_type_string(get(), buf, sizeof buf));
    return buf;
  }

  // Tensor data as T; throws if the value is not a tensor of T.
  template <typename T> Span<const T> data() const {
    const void *d = nullptr;
    size_t nbytes = 0;
    check(oxrt_value_tensor_data(get(), &d, &nbytes));
    check_type<T>();
    return Span<const T>(static_cast<const T *>(d), nbytes / sizeof(T));
  }
  template <typename T> Span<T> mutable_data() {
    void *d = nullptr;
    size_t nbytes = 0;
    check(oxrt_value_tensor_mutable_data(get(), &d, &nbytes));
    check_type<T>();
    return Span<T>(static_cast<T *>(d), nbytes / sizeof(T));
  }
  // Element i of a string tensor, with its exact length.
  std::string_view string(size_t i) const {
    const char *s = nullptr;
    size_t len = 0;
    check(oxrt_value_string_at(get(), i, &s, &len));
    return std::string_view(s, len);
  }
  // Items of a sequence, optional or map (borrowed: valid while this value lives).
  size_t item_count() const noexcept { return oxrt_value_get_item_count(get()); }
  const oxrt_value *item(size_t i) const {
    const oxrt_value *it = nullptr;
    check(oxrt_value_item_at(get(), i, &it));
    return it;
  }

private:
  template <typename T> void check_type() const {
    if (elem_type() != ElemType<T>::value)
      throw Error(OXRT_ERR_INVALID_ARGUMENT, std::string("tensor holds ") + oxrt_elem_type_name(elem_type()) +
                                                 ", not " + oxrt_elem_type_name(ElemType<T>::value));
  }
  detail::Handle<oxrt_value, oxrt_value_free> h_;
};

// An intra-op pool several sessions share.
class ThreadPool {
public:
  explicit ThreadPool(int threads = 0) {
    oxrt_thread_pool *p = nullptr;
    check(oxrt_thread_pool_create(threads, &p));
    h_.reset(p);
  }
  int size() const noexcept { return oxrt_thread_pool_get_size(h_.get()); }
  oxrt_thread_pool *get() const noexcept { return h_.get(); }

private:
  detail::Handle<oxrt_thread_pool, oxrt_thread_pool_free> h_;
};

class SessionOptions {
public:
  SessionOptions() {
    oxrt_session_options *o = nullptr;
    check(oxrt_session_options_create(&o));
    h_.reset(o);
  }
  SessionOptions &intra_op_threads(int n) { return apply(oxrt_session_options_set_intra_op_threads(get(), n)); }
  SessionOptions &opt_level(oxrt_opt_level level) { return apply(oxrt_session_options_set_opt_level(get(), level)); }
  SessionOptions &log(oxrt_log_fn fn, void *user, oxrt_log_level min_level) {
    return apply(oxrt_session_options_set_log(get(), fn, user, min_level));
  }
  SessionOptions &load_only(bool on) { return apply(oxrt_session_options_set_load_only(get(), on ? 1 : 0)); }
  SessionOptions &denormal_as_zero(bool on) {
    return apply(oxrt_session_options_set_denormal_as_zero(get(), on ? 1 : 0));
  }
  SessionOptions &thread_pool(const ThreadPool &p) { return apply(oxrt_session_options_set_thread_pool(get(), p.get())); }
  oxrt_session_options *get() const noexcept { return h_.get(); }

private:
  SessionOptions &apply(oxrt_status *st) {
    check(st);
    return *this;
  }
  detail::Handle<oxrt_session_options, oxrt_session_options_free> h_;
};

class RunOptions {
public:
  RunOptions() {
    oxrt_run_options *r = nullptr;
    check(oxrt_run_options_create(&r));
    h_.reset(r);
  }
  RunOptions &tag(const std::string &t) { return apply(oxrt_run_options_set_tag(get(), t.c_str())); }
  std::string tag() const { return oxrt_run_options_get_tag(get()); }
  RunOptions &log_level(oxrt_log_level l) { return apply(oxrt_run_options_set_log_level(get(), l)); }
  RunOptions &time_limit_ms(int64_t ms) { return apply(oxrt_run_options_set_time_limit_ms(get(), ms)); }
  RunOptions &config(const std::string &key, const std::string &value) {
    return apply(oxrt_run_options_add_config_entry(get(), key.c_str(), value.c_str()));
  }
  // Thread-safe: another thread may call it while a run uses these options.
  void terminate(bool on = true) const { check(oxrt_run_options_set_terminate(get(), on ? 1 : 0)); }
  oxrt_run_options *get() const noexcept { return h_.get(); }

private:
  RunOptions &apply(oxrt_status *st) {
    check(st);
    return *this;
  }
  detail::Handle<oxrt_run_options, oxrt_run_options_free> h_;
};

class Session;

class IoBinding {
public:
  explicit IoBinding(const Session &s);
  // The value is borrowed: it must outlive the runs.
  void bind_input(const std::string &name, const Value &v) { check(oxrt_io_binding_bind_input(get(), name.c_str(), v.get())); }
  // A writable tensor filled in place, or (no value) one the binding allocates once and reuses.
  void bind_output(const std::string &name, Value &v) { check(oxrt_io_binding_bind_output(get(), name.c_str(), v.get())); }
  void bind_output(const std::string &name) { check(oxrt_io_binding_bind_output(get(), name.c_str(), nullptr)); }
  size_t output_count() const noexcept { return oxrt_io_binding_get_output_count(get()); }
  std::string output_name(size_t i) const {
    const char *n = oxrt_io_binding_get_output_name(get(), i);
    return n ? n : "";
  }
  // Borrowed from the binding.
  const oxrt_value *output(size_t i) const noexcept { return oxrt_io_binding_get_output(get(), i); }
  oxrt_io_binding *get() const noexcept { return h_.get(); }

private:
  detail::Handle<oxrt_io_binding, oxrt_io_binding_free> h_;
};

struct ValueInfo {
  std::string name;
  oxrt_value_kind kind;
  oxrt_elem_type elem_type; // the innermost tensors' (as Value::elem_type)
  std::vector<int64_t> shape; // -1 where not fixed; empty with has_shape false when unknown
  bool has_shape;
  std::string type_string;
  oxrt_elem_type key_type;      // a map's, else OXRT_UNDEFINED
  oxrt_value_kind element_kind; // what a sequence or optional holds (a map's values: TENSOR), else UNKNOWN
};

class Session {
public:
  explicit Session(const std::string &path, const SessionOptions *opts = nullptr) {
    oxrt_session *s = nullptr;
    check(oxrt_session_create(path.c_str(), opts ? opts->get() : nullptr, &s));
    h_.reset(s);
  }
  Session(const void *data, size_t size, const SessionOptions *opts = nullptr) {
    oxrt_session *s = nullptr;
    check(oxrt_session_create_from_memory(data, size, opts ? opts->get() : nullptr, &s));
    h_.reset(s);
  }

  size_t input_count() const noexcept { return oxrt_session_get_input_count(get()); }
  size_t output_count() const noexcept { return oxrt_session_get_output_count(get()); }
  ValueInfo input(size_t i) const { return info(i, false); }
  ValueInfo output(size_t i) const { return info(i, true); }

  // Runs; outputs[i] is a new value for each name. Inputs are borrowed.
  std::vector<Value> run(const std::vector<std::string> &input_names, const std::vector<const Value *> &inputs,
                         const std::vector<std::string> &output_names, const RunOptions *ro = nullptr) const {
    std::vector<Value> outs(output_names.size());
    run_into(input_names, inputs, output_names, outs, ro);
    return outs;
  }
  // Runs into `outputs` (one per name): empty values receive new ones, tensors are filled in place.
  void run_into(const std::vector<std::string> &input_names, const std::vector<const Value *> &inputs,
                const std::vector<std::string> &output_names, std::vector<Value> &outputs,
                const RunOptions *ro = nullptr) const {
    if (input_names.size() != inputs.size() || output_names.size() != outputs.size())
      throw Error(OXRT_ERR_INVALID_ARGUMENT, "names and values differ in count");
    std::vector<const char *> in_n, out_n;
    std::vector<const oxrt_value *> in_v;
    std::vector<oxrt_value *> out_v;
    for (size_t i = 0; i < inputs.size(); i++) {
      in_n.push_back(input_names[i].c_str());
      in_v.push_back(inputs[i] ? inputs[i]->get() : nullptr);
    }
    for (size_t i = 0; i < outputs.size(); i++) {
      out_n.push_back(output_names[i].c_str());
      out_v.push_back(outputs[i].get());
    }
    check(oxrt_session_run(get(), ro ? ro->get() : nullptr, in_n.data(), in_v.data(), in_v.size(), out_n.data(),
                           out_v.size(), out_v.data()));
    for (size_t i = 0; i < outputs.size(); i++)
      if (!outputs[i]) outputs[i] = Value(out_v[i]);
  }
  void run(IoBinding &b, const RunOptions *ro = nullptr) const {
    check(oxrt_session_run_with_binding(get(), ro ? ro->get() : nullptr, b.get()));
  }

  oxrt_model_meta meta() const {
    oxrt_model_meta m{};
    m.size = sizeof m;
    check(oxrt_session_get_model_meta(get(), &m));
    return m;
  }
  oxrt_session *get() const noexcept { return h_.get(); }

private:
  ValueInfo info(size_t i, bool output) const {
    oxrt_value_info v{};
    v.size = sizeof v;
    check(output ? oxrt_session_get_output_info(get(), i, &v) : oxrt_session_get_input_info(get(), i, &v));
    ValueInfo r{v.name,     v.kind, v.elem_type, {}, v.rank >= 0, v.type_string, v.key_type,
                v.element ? v.element->kind : OXRT_KIND_UNKNOWN};
    if (v.rank > 0) r.shape.assign(v.dims, v.dims + v.rank);
    return r;
  }
  detail::Handle<oxrt_session, oxrt_session_free> h_;
};

inline IoBinding::IoBinding(const Session &s) {
  oxrt_io_binding *b = nullptr;
  check(oxrt_io_binding_create(s.get(), &b));
  h_.reset(b);
}

} // namespace oxrt

#endif // OXRT_HPP
