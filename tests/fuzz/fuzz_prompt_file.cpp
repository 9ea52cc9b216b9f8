// libFuzzer target: gpt2::parse_prompts (the --prompts file parser) on arbitrary
// bytes, as text and as JSONL. Either it returns prompts (each non-empty, with an
// id) or it throws gpt2::Error; nothing else (no crash, no other exception).
#include <cstddef>
#include <cstdint>
#include <string>

#include "gpt2/base/errors.hpp"
#include "gpt2/dataset/prompt_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool jsonl : {false, true}) {
    try {
      for (const auto& p : gpt2::parse_prompts(text, jsonl, "fuzz")) {
        if (p.text.empty() || p.id.is_discarded() || p.line < 1) __builtin_trap();
      }
    } catch (const gpt2::Error&) {
    }
  }
  return 0;
}
