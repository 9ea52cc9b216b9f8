// Opening a model in one call: the one place that resolves a model name or
// directory, reads its hparams, loads either checkpoint format, builds the
// model for a weight type / device / thread count, and picks the tokenizer.
//
// Tokenizer policy (every subcommand): the directory's own vocabulary files
// when present (encoder.json + vocab.bpe, or Hugging Face's vocab.json +
// merges.txt), else the built-in released vocabulary (every released size uses it).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gpt2/checkpoint/checkpoint_format.hpp"
#include "gpt2/base/hparams.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

struct ModelSpec {
  std::string model = "124M";            // a released name/alias, or a model directory
  std::filesystem::path models_dir;      // where released names live (empty: default_models_dir())
  ops::WeightType weight_type = ops::WeightType::kFloat32;
  std::string device = "auto";           // auto, cpu, cuda, cuda:N
  int threads = 0;                       // > 0: at::set_num_threads(threads) before loading
  torch::ScalarType kv_cache_type = torch::kFloat32;  // the KV caches the model makes (float32, float16)
  std::optional<CheckpointFormat> format;  // which checkpoint when a directory holds both
  // bfloat16/int8/int4 on the CPU: keep the converted weights in a cache file and
  // memory-map them on later loads (gpt2/weight_cache.hpp). false: convert every time.
  bool weight_cache = true;
  // Told about slow steps (the first conversion into the cache), one line each.
  std::function<void(const std::string&)> on_progress;
};

struct LoadedModel {
  GPT2 model{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer;
  HParams hp;
  std::filesystem::path dir;
  CheckpointFormat format = CheckpointFormat::kTFBundle;
  double load_ms = 0;
  // What the weight cache did: "off", "used PATH", "written PATH", "rebuilt PATH (why)",
  // "not written (why)", or "" (float32: nothing to convert).
  std::string weight_cache;

  // "loaded models/124M (tf-bundle, 12 layers, n_embd 768, n_ctx 1024) as float32 on cpu in 41 ms"
  std::string describe() const;
};

// Throws NotFoundError (naming `gpt2 download ...` for a released name),
// FormatError for a bad checkpoint, UsageError for a bad device.
LoadedModel load_model(const ModelSpec& spec);

// The model directory `spec` names (no loading). NotFoundError when missing.
std::filesystem::path resolve_model_spec_dir(const ModelSpec& spec);

// The tokenizer policy above for a model directory.
std::shared_ptr<const Tokenizer> tokenizer_for_model_dir(const std::filesystem::path& dir);
// Whether the policy reads `dir`'s own vocabulary files (any of encoder.json,
// vocab.json, vocab.bpe, merges.txt present) rather than the built-in one.
bool has_own_vocabulary(const std::filesystem::path& dir);

}  // namespace gpt2
