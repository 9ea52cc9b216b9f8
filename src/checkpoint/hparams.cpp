#include "gpt2/hparams.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gpt2/errors.hpp"
#include "gpt2/model_names.hpp"

namespace gpt2 {

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
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(source + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw FormatError(source + ": expected a JSON object");
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
  std::ifstream f(file, std::ios::binary);
  if (!f) throw NotFoundError("cannot open " + file.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str(), file.string());
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

}  // namespace gpt2
