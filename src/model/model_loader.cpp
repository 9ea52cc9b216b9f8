#include "gpt2/model_loader.hpp"

#include <ATen/Parallel.h>

#include <chrono>

#include "gpt2/checkpoint.hpp"
#include "gpt2/errors.hpp"
#include "gpt2/model_names.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

std::string LoadedModel::describe() const {
  return "loaded " + dir.string() + " (" + to_string(format) + ", " + std::to_string(hp.n_layer) + " layers, n_embd " +
         std::to_string(hp.n_embd) + ", n_ctx " + std::to_string(hp.n_ctx) + ") as " +
         ops::to_string(model->weight_type()) + " on " + model->device().str() + " in " +
         std::to_string(static_cast<int64_t>(load_ms)) + " ms";
}

fs::path resolve_model_spec_dir(const ModelSpec& spec) {
  const fs::path models_dir = spec.models_dir.empty() ? default_models_dir() : spec.models_dir;
  return resolve_model_dir(spec.model, models_dir);
}

bool has_own_vocabulary(const fs::path& dir) {
  std::error_code ec;
  for (const char* f : {"encoder.json", "vocab.json", "vocab.bpe", "merges.txt"})
    if (fs::exists(dir / f, ec)) return true;
  return false;
}

std::shared_ptr<const Tokenizer> tokenizer_for_model_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw NotFoundError(dir.string() + ": no such model directory");
  // A directory with only one of the two files is incomplete: from_model_dir names the missing one.
  return has_own_vocabulary(dir) ? Tokenizer::from_model_dir(dir) : Tokenizer::builtin();
}

LoadedModel load_model(const ModelSpec& spec) {
  const auto t0 = std::chrono::steady_clock::now();
  if (spec.threads < 0) throw UsageError("--threads must be >= 0 (0: libtorch's default)");
  if (spec.threads > 0) at::set_num_threads(spec.threads);
  ModelOptions mo;
  mo.weight_type = spec.weight_type;
  mo.device = resolve_device(spec.device);
  LoadedModel l;
  l.dir = resolve_model_spec_dir(spec);
  l.tokenizer = tokenizer_for_model_dir(l.dir);
  LoadOptions lo;
  lo.format = spec.format;
  ModelWeights w = load_model_weights(l.dir, lo);
  l.format = w.format;
  l.hp = w.hp;
  if (l.tokenizer->vocab_size() > l.hp.n_vocab)
    throw FormatError(l.dir.string() + ": the vocabulary has " + std::to_string(l.tokenizer->vocab_size()) +
                      " tokens but the model's n_vocab is " + std::to_string(l.hp.n_vocab));
  l.model = GPT2(std::move(w), mo);
  l.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return l;
}

}  // namespace gpt2
