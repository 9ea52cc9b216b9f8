// The released vocabulary files embedded in the binary (embedded_vocab.S.in).
#pragma once

#include <string_view>

namespace gpt2 {

std::string_view embedded_encoder_json();
std::string_view embedded_vocab_bpe();

}  // namespace gpt2
