// libFuzzer target: a safetensors file (length prefix, JSON header, data).
// Any input must either parse or throw gpt2::FormatError.
#include <cstddef>
#include <cstdint>

#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gpt2::st::Header h = gpt2::st::parse_header(data, size, "fuzz.safetensors");
    for (const auto& t : h.tensors) {
      // Every accepted tensor lies inside the input.
      if (t.begin < h.data_start || t.end > size || t.begin > t.end) __builtin_trap();
      if (h.find(t.name) != &t) __builtin_trap();
    }
  } catch (const gpt2::FormatError&) {
  }
  return 0;
}
