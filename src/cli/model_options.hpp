// The options every model-using subcommand shares (--model, --models-dir,
// --dtype, --device, --threads), registered once and turned into the
// library's ModelSpec (gpt2/model_loader.hpp).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "gpt2/model/model_loader.hpp"

namespace gpt2::cli {

struct ModelCliOptions {
  std::string model = "124M";
  std::string models_dir;  // empty: $GPT2_MODELS_DIR or ./models
  std::string dtype = "float32";
  std::string device = "auto";
  int threads = 0;
  bool no_cache = false;
  std::string kv_cache = "float32";

  // Adds the options to `sub`.
  void add_to(CLI::App* sub);
  // Adds --kv-cache (for the subcommands that decode with a KV cache).
  void add_kv_cache_to(CLI::App* sub);
  // The spec for load_model(). UsageError for a bad --dtype or --threads.
  ModelSpec spec() const;
};

}  // namespace gpt2::cli
