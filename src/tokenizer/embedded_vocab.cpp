#include "tokenizer/embedded_vocab.hpp"

#include <cstddef>

extern "C" {
extern const char gpt2_embedded_encoder_json[];
extern const char gpt2_embedded_encoder_json_end[];
extern const char gpt2_embedded_vocab_bpe[];
extern const char gpt2_embedded_vocab_bpe_end[];
}

namespace gpt2 {

std::string_view embedded_encoder_json() {
  return {gpt2_embedded_encoder_json,
          static_cast<std::size_t>(gpt2_embedded_encoder_json_end - gpt2_embedded_encoder_json)};
}

std::string_view embedded_vocab_bpe() {
  return {gpt2_embedded_vocab_bpe,
          static_cast<std::size_t>(gpt2_embedded_vocab_bpe_end - gpt2_embedded_vocab_bpe)};
}

}  // namespace gpt2
