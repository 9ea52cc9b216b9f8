#include "gpt2/model/model_loader.hpp"

#include <ATen/Parallel.h>

#include <chrono>
#include <future>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/model_names.hpp"
#include "gpt2/model/weight_cache.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

std::string LoadedModel::describe() const {
  return "loaded " + dir.string() + " (" + to_string(format) + ", " + std::to_string(hp.n_layer) + " layers, n_embd " +
         std::to_string(hp.n_embd) + ", n_ctx " + std::to_string(hp.n_ctx) + ") as " +
         ops::to_string(model->weight_type()) + " on " + model->device().str() + " in " +
         std::to_string(static_cast<int64_t>(load_ms)) + " ms" +
         (weight_cache.empty() ? "" : "; weight cache " + weight_cache);
}

namespace {

// The model, through the weight cache where it applies (see weight_cache.hpp).
GPT2 build_model(ModelWeights w, ModelOptions mo, const ModelSpec& spec, LoadedModel& l) {
  if (mo.weight_type == ops::WeightType::kFloat32 || !mo.device.is_cpu()) return GPT2(std::move(w), mo);
  if (!spec.weight_cache) {
    l.weight_cache = "off";
    return GPT2(std::move(w), mo);
  }
  const fs::path file = weight_cache_path(l.dir, mo.weight_type);
  const std::string identity = checkpoint_identity(l.dir, w.format, mo.weight_type);
  std::string why;
  if (auto cached = read_weight_cache(file, identity, &why)) {
    mo.packed = &cached->packed;
    mo.packed_storage = {cached->storage};
    l.weight_cache = "used " + file.string();
    return GPT2(std::move(w), mo);
  }
  if (spec.on_progress)
    spec.on_progress("converting the weights to " + ops::to_string(mo.weight_type) + " once, cached in " +
                     file.string() + (why == "missing" ? "" : " (" + why + ")"));
  GPT2 model(std::move(w), mo);
  try {
    write_weight_cache(file, identity, model->packed_weights());
    l.weight_cache = (why == "missing" ? "written " : "rebuilt ") + file.string() + (why == "missing" ? "" : " (" + why + ")");
  } catch (const Error& e) {
    l.weight_cache = std::string("not written (") + e.what() + ")";
    if (spec.on_progress) spec.on_progress("weight cache " + l.weight_cache);
  }
  return model;
}

}  // namespace

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
  mo.kv_cache_type = spec.kv_cache_type;
  LoadedModel l;
  l.dir = resolve_model_spec_dir(spec);
  std::error_code ec;
  // (tokenizer_for_model_dir checks this too; checked here so that a missing
  // directory is reported before a second thread starts.)
  if (!fs::is_directory(l.dir, ec)) throw NotFoundError(l.dir.string() + ": no such model directory");
  // The vocabulary (~30 ms of JSON and merges) is read on a second thread while
  // this one maps the weights (and checks a weight cache); its errors still come
  // first, as if it had been read first.
  std::future<std::shared_ptr<const Tokenizer>> tokenizer =
      std::async(std::launch::async, [dir = l.dir] { return tokenizer_for_model_dir(dir); });
  try {
    LoadOptions lo;
    lo.format = spec.format;
    ModelWeights w = load_model_weights(l.dir, lo);
    l.format = w.format;
    l.hp = w.hp;
    l.model = build_model(std::move(w), mo, spec, l);
  } catch (...) {
    tokenizer.get();  // waits; throws the vocabulary's error, if any
    throw;
  }
  l.tokenizer = tokenizer.get();
  if (l.tokenizer->vocab_size() > l.hp.n_vocab)
    throw FormatError(l.dir.string() + ": the vocabulary has " + std::to_string(l.tokenizer->vocab_size()) +
                      " tokens but the model's n_vocab is " + std::to_string(l.hp.n_vocab));
  l.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return l;
}

}  // namespace gpt2
