// libFuzzer target: the safetensors writer against its reader. Any header the
// reader accepts is written again with st::make_header (same tensors, same
// order, same metadata) and read back: the names, dtypes, shapes, sizes and
// metadata must survive unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpt2::st::Header h;
  try {
    h = gpt2::st::parse_header(data, size, "fuzz");
  } catch (const gpt2::Error&) {
    return 0;
  }
  // Tensors in file order, pointing at their bytes in the input.
  std::vector<const gpt2::st::TensorInfo*> order;
  for (const auto& t : h.tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  std::vector<gpt2::st::TensorData> tensors;
  std::string body;
  for (const auto* t : order) {
    tensors.push_back({t->name, t->dtype, t->shape, data + t->begin, t->nbytes()});
    body.append(reinterpret_cast<const char*>(data + t->begin), t->nbytes());
  }
  std::string file;
  try {
    file = gpt2::st::make_header(tensors, h.metadata) + body;
  } catch (const gpt2::Error&) {
    __builtin_trap();  // the reader accepted these tensors: the writer must too
  }
  const gpt2::st::Header back =
      gpt2::st::parse_header(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "round trip");
  if (back.tensors.size() != h.tensors.size() || back.metadata != h.metadata) __builtin_trap();
  for (const auto& t : h.tensors) {
    const gpt2::st::TensorInfo* u = back.find(t.name);
    if (u == nullptr || u->dtype != t.dtype || u->shape != t.shape || u->nbytes() != t.nbytes()) __builtin_trap();
    if (std::string(reinterpret_cast<const char*>(data + t.begin), t.nbytes()) !=
        file.substr(u->begin, u->nbytes()))
      __builtin_trap();
  }
  return 0;
}
