// test_hpp.cpp - oxrt.hpp against the installed library: RAII, exceptions carrying the status, spans, binding,
// typed sequences and maps.
// Prints "N passed, M failed". Usage: test_hpp <repository root>
#include <oxrt.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

static int passed, failed;
#define EXPECT(cond)                                                                                                   \
  do {                                                                                                                 \
    if (cond) passed++;                                                                                                \
    else {                                                                                                             \
      failed++;                                                                                                        \
      std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                                                    \
    }                                                                                                                  \
  } while (0)

template <typename F> static oxrt_status_code code_of(F f) {
  try {
    f();
  } catch (const oxrt::Error &e) {
    return e.code();
  }
  return OXRT_OK;
}

int main(int argc, char **argv) {
  std::string root = argc > 1 ? argv[1] : ".";
  std::string digits = root + "/examples/digits/model.onnx";
  EXPECT(code_of([] { oxrt::Session s("/nonexistent.onnx"); }) == OXRT_ERR_IO);
  EXPECT(code_of([] { oxrt::SessionOptions o; o.intra_op_threads(-3); }) == OXRT_ERR_INVALID_ARGUMENT);
  EXPECT(code_of([] { oxrt::SessionOptions o; o.opt_level(static_cast<oxrt_opt_level>(7)); }) ==
         OXRT_ERR_INVALID_ARGUMENT);
  try {
    oxrt::Session bad("/nonexistent.onnx");
  } catch (const oxrt::Error &e) {
    EXPECT(std::strstr(e.what(), "/nonexistent.onnx") != nullptr);
  }

  oxrt::ThreadPool pool(2);
  oxrt::SessionOptions opts;
  opts.thread_pool(pool);
  oxrt::Session s(digits, &opts);
  EXPECT(s.input_count() == 1 && s.input(0).name == "image" && s.input(0).shape.size() == 4);
  EXPECT(s.output(0).type_string == "tensor(float)");
  EXPECT(s.meta().opset_count == 1);

  std::vector<float> x(2 * 64);
  for (size_t i = 0; i < x.size(); i++) x[i] = static_cast<float>(i % 9) / 9.0f;
  oxrt::Value in = oxrt::Value::wrap(x, {2, 1, 8, 8});
  std::vector<oxrt::Value> out = s.run({"image"}, {&in}, {"logits"});
  EXPECT(out.size() == 1 && out[0].shape() == (std::vector<int64_t>{2, 10}));
  oxrt::Span<const float> logits = out[0].data<float>();
  EXPECT(logits.size() == 20);
  EXPECT(code_of([&] { out[0].data<int64_t>(); }) == OXRT_ERR_INVALID_ARGUMENT);
  EXPECT(code_of([&] { in.mutable_data<float>(); }) == OXRT_ERR_INVALID_ARGUMENT); // read-only wrap

  // filled in place: a caller buffer
  std::vector<float> buf(20, 0.0f);
  std::vector<oxrt::Value> into;
  into.push_back(oxrt::Value::wrap_mutable(buf.data(), buf.size(), {2, 10}));
  s.run_into({"image"}, {&in}, {"logits"}, into);
  EXPECT(std::memcmp(buf.data(), logits.data(), 80) == 0);
  std::vector<oxrt::Value> wrong;
  wrong.push_back(oxrt::Value::tensor<float>({2, 9}));
  EXPECT(code_of([&] { s.run_into({"image"}, {&in}, {"logits"}, wrong); }) == OXRT_ERR_INVALID_ARGUMENT);

  // io binding, run twice
  oxrt::IoBinding b(s);
  b.bind_input("image", in);
  b.bind_output("logits");
  s.run(b);
  const oxrt_value *first = b.output(0);
  s.run(b);
  EXPECT(b.output(0) == first && std::memcmp(oxrt_value_get_data(first), logits.data(), 80) == 0);

  // run options: terminate from another thread before the run, tag in the message
  oxrt::RunOptions ro;
  ro.tag("cpp").log_level(OXRT_LOG_ERROR);
  std::thread t([&] { ro.terminate(); });
  t.join();
  try {
    s.run({"image"}, {&in}, {"logits"}, &ro);
    EXPECT(false);
  } catch (const oxrt::Error &e) {
    EXPECT(e.code() == OXRT_ERR_CANCELLED && std::strstr(e.what(), "'cpp'"));
  }
  ro.terminate(false);
  EXPECT(s.run({"image"}, {&in}, {"logits"}, &ro).size() == 1);

  // strings keep their bytes
  oxrt::Value str = oxrt::Value::strings({std::string("a\0b", 3), "xyz"}, {2});
  EXPECT(str.string(0).size() == 3 && str.string(0)[2] == 'b' && str.string(1) == "xyz");
  EXPECT(str.type_string() == "tensor(string)");

  // typed sequences and maps: adopted on success only
  std::vector<oxrt::Value> items;
  items.push_back(oxrt::Value::tensor<float>({2}));
  items.push_back(oxrt::Value::tensor<int64_t>({2}));
  EXPECT(code_of([&] { oxrt::Value::sequence(OXRT_FLOAT, std::move(items)); }) == OXRT_ERR_INVALID_ARGUMENT);
  EXPECT(items.size() == 2 && items[0] && items[1]); // still the caller's
  items[1] = oxrt::Value::tensor<float>({3});
  oxrt::Value seq = oxrt::Value::sequence(OXRT_FLOAT, std::move(items));
  EXPECT(!items[0] && !items[1] && seq.item_count() == 2 && seq.type_string() == "seq(tensor(float))");
  oxrt::Value keys = oxrt::Value::tensor<int64_t>({3}), vals = oxrt::Value::tensor<float>({2});
  EXPECT(code_of([&] { oxrt::Value::map(std::move(keys), std::move(vals)); }) == OXRT_ERR_INVALID_ARGUMENT);
  EXPECT(keys && vals);
  vals = oxrt::Value::tensor<float>({3});
  oxrt::Value map = oxrt::Value::map(std::move(keys), std::move(vals));
  EXPECT(!keys && !vals && map.key_type() == OXRT_INT64 && map.elem_type() == OXRT_FLOAT);
  EXPECT(code_of([&] { seq.key_type(); }) == OXRT_ERR_INVALID_ARGUMENT);
  EXPECT(code_of([&] { seq.data<float>(); }) == OXRT_ERR_INVALID_ARGUMENT); // not a tensor
  oxrt::Session iris(root + "/examples/iris/model.onnx");
  oxrt::ValueInfo probs = iris.output(1); // seq(map(int64,tensor(float)))
  EXPECT(probs.kind == OXRT_KIND_SEQUENCE && probs.element_kind == OXRT_KIND_MAP && probs.elem_type == OXRT_FLOAT);
  EXPECT(probs.key_type == OXRT_UNDEFINED && iris.output(0).element_kind == OXRT_KIND_UNKNOWN);
  std::vector<float> flowers = {5.1f, 3.5f, 1.4f, 0.2f};
  oxrt::Value fx = oxrt::Value::wrap(flowers, {1, 4});
  std::vector<oxrt::Value> iris_out = iris.run({"X"}, {&fx}, {iris.output(0).name, probs.name});
  EXPECT(iris_out[1].elem_type() == probs.elem_type && iris_out[1].type_string() == probs.type_string);
  EXPECT(oxrt_value_get_key_type(iris_out[1].item(0)) == OXRT_INT64);

  // moves, no copies
  oxrt::Value moved = std::move(out[0]);
  EXPECT(!out[0] && moved && moved.data<float>().size() == 20);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
