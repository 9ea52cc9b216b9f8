// `gpt2 bench`: load time, prompt processing and decoding speed, effective
// weight bandwidth and peak memory of a model (a model directory, or random
// weights of a released size so it runs without downloads).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gpt2/hparams.hpp"
#include "gpt2/ops.hpp"
#include "gpt2/weights.hpp"

namespace gpt2 {

struct BenchOptions {
  std::filesystem::path model_dir;       // a model directory, or empty for random weights
  std::string random_size = "124M";      // released size for random weights (model_dir empty)
  ops::WeightType weight_type = ops::WeightType::kFloat32;
  int threads = 0;                       // 0: every core
  std::vector<int64_t> prompt_lengths = {8, 512};  // lengths over n_ctx are skipped
  std::vector<int64_t> batches = {1, 8};           // decode batch sizes
  int64_t decode_tokens = 128;           // decode steps per run (capped to fit n_ctx)
  int repetitions = 5;                   // timed runs per measurement (after one warm-up)
  uint64_t seed = 1234;                  // random weights and prompt ids
};

// Timings of repeated runs of one measurement.
struct BenchStat {
  std::vector<double> values;  // one per repetition
  double min() const;
  double median() const;
  double max() const;
};

struct BenchReport {
  std::string model;           // directory, or "random 124M"
  HParams hp;
  ops::WeightType weight_type = ops::WeightType::kFloat32;
  std::string kernels;         // ops::kernel_description()
  int threads = 0;
  double load_ms = 0;          // weights loaded (or randomly initialised) + model built
  bool random_weights = false;
  int64_t weight_bytes_per_step = 0;  // bytes of projection weights read per decode step

  struct Prompt {
    int64_t tokens = 0;
    BenchStat tokens_per_s;
  };
  std::vector<Prompt> prompts;

  struct Decode {
    int64_t batch = 0;
    int64_t steps = 0;          // tokens per row per run
    BenchStat tokens_per_s;     // all rows together
    BenchStat weight_gb_per_s;  // weight_bytes_per_step x steps/s
  };
  std::vector<Decode> decodes;

  int64_t kv_cache_bytes = 0;   // largest cache allocated
  int64_t peak_rss_bytes = 0;   // getrusage
  std::vector<std::string> notes;  // skipped measurements and why

  std::string to_text() const;
  std::string to_json() const;  // one object
};

// Random weights of the given hparams: every matrix and bias normal(0, 0.02),
// LayerNorm gains 1 and shifts 0 (speed does not depend on the values).
ModelWeights random_model_weights(const HParams& hp, uint64_t seed);

// Bytes of projection weights one decode step reads (every ops::Linear plus the
// tied output projection) for a model of these hparams in this weight type.
int64_t decode_step_weight_bytes(const HParams& hp, ops::WeightType type);

// Runs every measurement. `progress` (optional) gets one line per measurement.
// Throws UsageError for bad options, and whatever loading the model throws.
BenchReport run_bench(const BenchOptions& options,
                      const std::function<void(const std::string&)>& progress = {});

}  // namespace gpt2
