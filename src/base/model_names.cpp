#include "gpt2/base/model_names.hpp"

#include <cstdlib>

#include "gpt2/base/errors.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

const std::vector<std::string>& released_model_names() {
  static const std::vector<std::string> names = {"124M", "355M", "774M", "1558M"};
  return names;
}

std::string canonical_model_name(const std::string& name) {
  if (name == "117M") return "124M";
  if (name == "345M") return "355M";
  return name;
}

bool is_released_model(const std::string& name) {
  const std::string c = canonical_model_name(name);
  for (const auto& n : released_model_names())
    if (n == c) return true;
  return false;
}

fs::path default_models_dir() {
  const char* env = std::getenv("GPT2_MODELS_DIR");
  if (env != nullptr && *env != '\0') return fs::path(env);
  return fs::path("models");
}

fs::path models_dir_or_default(const std::string& option_value) {
  return option_value.empty() ? default_models_dir() : fs::path(option_value);
}

namespace {
bool looks_like_path(const std::string& model) {
  return model.find('/') != std::string::npos || model == "." || model == "..";
}
}  // namespace

std::optional<fs::path> find_model_dir(const std::string& model, const fs::path& models_dir) {
  std::error_code ec;
  if (looks_like_path(model)) {
    if (fs::is_directory(model, ec)) return fs::path(model);
    return std::nullopt;
  }
  const fs::path p = models_dir / canonical_model_name(model);
  if (fs::is_directory(p, ec)) return p;
  return std::nullopt;
}

fs::path resolve_model_dir(const std::string& model, const fs::path& models_dir) {
  if (auto p = find_model_dir(model, models_dir)) return *p;
  if (looks_like_path(model))
    throw NotFoundError("model directory '" + model + "' does not exist");
  const std::string c = canonical_model_name(model);
  const fs::path p = models_dir / c;
  if (is_released_model(c)) {
    std::string cmd = "gpt2 download " + c;
    if (models_dir != fs::path("models")) cmd += " --models-dir " + models_dir.string();
    throw NotFoundError("model " + c + " not found in " + p.string() + "; fetch it with `" + cmd + "`");
  }
  std::string valid;
  for (const auto& n : released_model_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw NotFoundError("model '" + model + "' not found in " + p.string() +
                      " (released models: " + valid + "; or pass a directory path)");
}

}  // namespace gpt2
