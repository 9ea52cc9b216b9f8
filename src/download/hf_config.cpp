#include "download/hf_config.hpp"

#include <nlohmann/json.hpp>

#include "gpt2/errors.hpp"

namespace gpt2::download_detail {

HParams hparams_from_hf_config(const std::string& text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("config.json: not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw FormatError("config.json: expected a JSON object");
  auto pick = [&](std::initializer_list<const char*> names) -> int64_t {
    for (const char* n : names) {
      auto it = j.find(n);
      if (it == j.end() || it->is_null()) continue;
      if (!it->is_number_integer()) throw FormatError(std::string("config.json: field '") + n + "' must be an integer");
      return it->get<int64_t>();
    }
    throw FormatError(std::string("config.json: missing field '") + *names.begin() + "'");
  };
  nlohmann::json hp = {{"n_vocab", pick({"vocab_size", "n_vocab"})},
                       {"n_ctx", pick({"n_ctx", "n_positions"})},
                       {"n_embd", pick({"n_embd", "hidden_size"})},
                       {"n_head", pick({"n_head", "num_attention_heads"})},
                       {"n_layer", pick({"n_layer", "num_hidden_layers"})}};
  // Reuse the hparams.json validation (ranges, n_embd % n_head) with config.json named.
  return HParams::from_json(hp.dump(), "config.json");
}

}  // namespace gpt2::download_detail
