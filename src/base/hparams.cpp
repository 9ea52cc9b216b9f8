#include "gpt2/base/hparams.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/base/model_names.hpp"

namespace gpt2 {

namespace {

// Parses `text` as a JSON object; FormatError naming `source` otherwise.
nlohmann::json parse_object(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw FormatError(source + ": expected a JSON object");
  return j;
}

}  // namespace

int64_t HParams::num_parameters() const {
  const int64_t C = n_embd;
  const int64_t per_layer = 2 * C            /* ln_1 */
                            + C * 3 * C + 3 * C  /* c_attn */
                            + C * C + C          /* attn c_proj */
                            + 2 * C              /* ln_2 */
                            + C * 4 * C + 4 * C  /* c_fc */
                            + 4 * C * C + C;     /* mlp c_proj */
  return n_vocab * C + n_ctx * C + n_layer * per_layer + 2 * C;
}

HParams HParams::from_json(const std::string& text, const std::string& source) {
  const nlohmann::json j = parse_object(text, source);
  HParams hp;
  auto field = [&](const char* name, int64_t& out) {
    auto it = j.find(name);
    if (it == j.end()) throw FormatError(source + ": missing field '" + name + "'");
    if (!it->is_number_integer()) throw FormatError(source + ": field '" + name + "' must be an integer");
    const int64_t v = it->get<int64_t>();
    if (v <= 0 || v > (int64_t{1} << 24))
      throw FormatError(source + ": field '" + name + "' out of range: " + std::to_string(v));
    out = v;
  };
  field("n_vocab", hp.n_vocab);
  field("n_ctx", hp.n_ctx);
  field("n_embd", hp.n_embd);
  field("n_head", hp.n_head);
  field("n_layer", hp.n_layer);
  if (hp.n_embd % hp.n_head != 0)
    throw FormatError(source + ": n_embd (" + std::to_string(hp.n_embd) + ") is not divisible by n_head (" +
                      std::to_string(hp.n_head) + ")");
  return hp;
}

HParams HParams::load(const std::filesystem::path& file) {
  return from_json(read_file(file, "hparams file"), file.string());
}

HParams HParams::from_hf_config(const std::string& text, const std::string& source) {
  const nlohmann::json j = parse_object(text, source);
  auto string_field = [&](const char* name) -> std::string {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string model_type = string_field("model_type");
  if (!model_type.empty() && model_type != "gpt2")
    throw FormatError(source + ": model_type '" + model_type + "' is not gpt2");
  const std::string act = string_field("activation_function");
  if (!act.empty() && act != "gelu_new" && act != "gelu_pytorch_tanh" && act != "gelu_fast")
    throw FormatError(source + ": activation_function '" + act + "' is not supported (GPT-2 uses gelu_new)");
  for (const char* required : {"vocab_size", "n_embd", "n_head", "n_layer"})
    if (!j.contains(required)) throw FormatError(source + ": missing field '" + required + "'");
  if (!j.contains("n_positions") && !j.contains("n_ctx"))
    throw FormatError(source + ": missing field 'n_positions' (or 'n_ctx')");
  // Rename to the hparams.json fields and reuse its checks.
  nlohmann::json hp = nlohmann::json::object();
  auto copy = [&](const char* from, const char* to) {
    auto it = j.find(from);
    if (it != j.end()) hp[to] = *it;
  };
  copy("vocab_size", "n_vocab");
  copy("n_ctx", "n_ctx");
  copy("n_positions", "n_ctx");  // the size of wpe; wins over n_ctx
  copy("n_embd", "n_embd");
  copy("n_head", "n_head");
  copy("n_layer", "n_layer");
  HParams out = from_json(hp.dump(), source);
  auto inner = j.find("n_inner");
  if (inner != j.end() && !inner->is_null() &&
      !(inner->is_number_integer() && inner->get<int64_t>() == 4 * out.n_embd))
    throw FormatError(source + ": n_inner " + inner->dump() + " is not supported (must be null or 4*n_embd)");
  return out;
}

HParams HParams::load_dir(const std::filesystem::path& model_dir) {
  const auto hparams = model_dir / "hparams.json";
  if (std::filesystem::exists(hparams)) return load(hparams);
  const auto config = model_dir / "config.json";
  if (std::filesystem::exists(config)) {
    return from_hf_config(read_file(config, "config file"), config.string());
  }
  throw NotFoundError(model_dir.string() + ": no hparams.json (or Hugging Face config.json)");
}

HParams HParams::released(const std::string& name) {
  const std::string c = canonical_model_name(name);
  HParams hp;  // 124M defaults
  if (c == "124M") return hp;
  if (c == "355M") { hp.n_embd = 1024; hp.n_head = 16; hp.n_layer = 24; return hp; }
  if (c == "774M") { hp.n_embd = 1280; hp.n_head = 20; hp.n_layer = 36; return hp; }
  if (c == "1558M") { hp.n_embd = 1600; hp.n_head = 25; hp.n_layer = 48; return hp; }
  throw UsageError("unknown model size '" + name + "' (valid: 124M, 355M, 774M, 1558M)");
}

std::string HParams::to_json() const {
  nlohmann::json j = {{"n_vocab", n_vocab}, {"n_ctx", n_ctx}, {"n_embd", n_embd}, {"n_head", n_head},
                      {"n_layer", n_layer}};
  return j.dump();
}

std::string HParams::to_hf_config() const {
  nlohmann::ordered_json j = {
      {"architectures", {"GPT2LMHeadModel"}},
      {"model_type", "gpt2"},
      {"vocab_size", n_vocab},
      {"n_positions", n_ctx},
      {"n_ctx", n_ctx},
      {"n_embd", n_embd},
      {"n_head", n_head},
      {"n_layer", n_layer},
      {"n_inner", nullptr},
      {"activation_function", "gelu_new"},
      {"layer_norm_epsilon", 1e-5},
      {"initializer_range", 0.02},
      {"resid_pdrop", 0.1},
      {"embd_pdrop", 0.1},
      {"attn_pdrop", 0.1},
      {"scale_attn_weights", true},
      {"use_cache", true},
      {"tie_word_embeddings", true},
      {"bos_token_id", n_vocab - 1},
      {"eos_token_id", n_vocab - 1},
      {"torch_dtype", "float32"},
  };
  return j.dump(2) + "\n";
}

}  // namespace gpt2
