// classify.cpp - the C++ wrapper (oxrt.hpp) on a model with one float input: prints each output's shape and values.
//   c++ -std=c++17 classify.cpp $(pkg-config --cflags --libs oxrt) -o classify && ./classify model.onnx
#include <oxrt.hpp>

#include <cstdio>
#include <vector>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.onnx\n", argv[0]);
    return 2;
  }
  try {
    oxrt::SessionOptions opts;
    opts.intra_op_threads(1);
    oxrt::Session session(argv[1], &opts);
    oxrt::ValueInfo in = session.input(0);
    std::vector<int64_t> dims = in.shape;
    size_t count = 1;
    for (auto &d : dims) {
      if (d < 0) d = 1; // a free dimension: batch of one
      count *= static_cast<size_t>(d);
    }
    std::vector<float> x(count);
    for (size_t i = 0; i < count; i++) x[i] = static_cast<float>(i % 7) / 7.0f;
    oxrt::Value input = oxrt::Value::wrap(x, dims);
    std::vector<std::string> out_names;
    for (size_t i = 0; i < session.output_count(); i++) out_names.push_back(session.output(i).name);
    std::vector<oxrt::Value> outs = session.run({in.name}, {&input}, out_names);
    for (size_t i = 0; i < outs.size(); i++) {
      std::printf("%s: %s", out_names[i].c_str(), outs[i].type_string().c_str());
      if (outs[i].kind() == oxrt::Value().kind() || outs[i].kind() != OXRT_KIND_TENSOR) {
        std::printf(" (%zu items)\n", outs[i].item_count());
        continue;
      }
      if (outs[i].elem_type() == OXRT_FLOAT)
        for (float v : outs[i].data<float>()) std::printf(" %g", v);
      else if (outs[i].elem_type() == OXRT_INT64)
        for (int64_t v : outs[i].data<int64_t>()) std::printf(" %lld", static_cast<long long>(v));
      std::printf("\n");
    }
  } catch (const oxrt::Error &e) {
    std::fprintf(stderr, "error (%s): %s\n", e.code_name(), e.what());
    return 1;
  }
  return 0;
}
