// Hugging Face config.json -> hparams.json (the released layout).
#pragma once

#include <string>

#include "gpt2/hparams.hpp"

namespace gpt2::download_detail {

// n_vocab = vocab_size, n_ctx = n_ctx (or n_positions), n_embd, n_head, n_layer.
// Throws FormatError naming config.json for bad JSON or missing/invalid fields.
HParams hparams_from_hf_config(const std::string& config_json_text);

}  // namespace gpt2::download_detail
