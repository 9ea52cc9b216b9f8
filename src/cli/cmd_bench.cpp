// `gpt2 bench`: speed of a model directory or of random weights of a released size.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "gpt2/bench/bench.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/base/model_names.hpp"
#include "gpt2/checkpoint/save_model.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2::cli {

namespace {

struct BenchCliOptions {
  std::string model;            // name or directory; empty: random weights
  std::string models_dir;       // empty: default_models_dir()
  std::string random = "124M";  // size for random weights
  std::string dtype = "float32";
  std::string kv_cache = "float32";
  int threads = 0;
  std::vector<int64_t> prompt_lengths = {8, 512};
  std::vector<int64_t> batches = {1, 8};
  int64_t tokens = 128;
  int64_t context = 1;
  int reps = 5;
  uint64_t seed = 1234;
  bool json = false;
  bool accuracy = false;
  bool quiet = false;
  std::string save_random;  // write the random weights as a model directory and exit
};

// --save-random DIR: the random weights `bench --random SIZE --seed N` measures,
// as a complete model directory (for soak runs, dataset-cost and fine-tuning
// measurements without downloaded weights).
void save_random_model(const BenchCliOptions& o, CliIO& io) {
  if (!o.model.empty()) throw UsageError("--save-random writes random weights; it does not take --model");
  const HParams hp = HParams::released(o.random);
  save_model_dir(o.save_random, random_model_weights(hp, o.seed), *Tokenizer::builtin());
  io.err << "gpt2: wrote random " << o.random << " weights (seed " << o.seed << ") to " << o.save_random << "\n";
}

void run_bench_command(const BenchCliOptions& o, CliIO& io, bool random_given) {
  if (!o.save_random.empty()) return save_random_model(o, io);
  if (!o.model.empty() && random_given) throw UsageError("give either --model or --random, not both");
  BenchOptions b;
  b.weight_type = ops::parse_weight_type(o.dtype);
  b.kv_cache_type = parse_kv_cache_type(o.kv_cache);
  if (!o.model.empty()) {
    const std::filesystem::path dir = models_dir_or_default(o.models_dir);
    b.model_dir = resolve_model_dir(o.model, dir);
  } else {
    b.random_size = o.random;
  }
  b.threads = o.threads;
  b.prompt_lengths = o.prompt_lengths;
  b.batches = o.batches;
  b.decode_context = o.context;
  b.decode_tokens = o.tokens;
  b.repetitions = o.reps;
  b.seed = o.seed;
  b.accuracy = o.accuracy;
  auto progress = [&](const std::string& line) {
    if (!o.quiet) io.err << "bench: " << line << std::endl;
  };
  const BenchReport r = run_bench(b, progress);
  if (o.json)
    io.out << r.to_json() << "\n";
  else
    io.out << r.to_text();
}

}  // namespace

void register_bench_command(CLI::App& app, CliIO& io) {
  auto opt = std::make_shared<BenchCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Measure load time, prompt and decoding speed, weight bandwidth and memory of a model");
  sub->add_option("--model", opt->model, "Model name or directory (default: random weights, see --random)");
  sub->add_option("--models-dir", opt->models_dir, "Where released models live (default: models, env GPT2_MODELS_DIR)");
  auto* random = sub->add_option("--random", opt->random, "Random weights of this released size: 124M, 355M, 774M, 1558M")
                     ->capture_default_str();
  sub->add_option("--dtype", opt->dtype, "Projection weights: float32, bfloat16, int8 or int4")->capture_default_str();
  sub->add_option("--kv-cache", opt->kv_cache, "KV cache as float32 or float16")->capture_default_str();
  sub->add_option("--threads", opt->threads, "Threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--prompt", opt->prompt_lengths, "Prompt lengths to time (tokens; repeatable)")
      ->capture_default_str()->delimiter(',');
  sub->add_option("--batch", opt->batches, "Decode batch sizes to time (repeatable)")->capture_default_str()->delimiter(',');
  sub->add_option("--tokens", opt->tokens, "Decode steps per run")->capture_default_str();
  sub->add_option("--context", opt->context,
                  "Cached positions before the timed decode steps (a prompt of this many tokens, computed once)")
      ->capture_default_str();
  sub->add_option("--reps", opt->reps, "Timed repetitions per measurement")->capture_default_str();
  sub->add_option("--seed", opt->seed, "Seed for random weights and prompt tokens")->capture_default_str();
  sub->add_flag("--accuracy", opt->accuracy,
                "Also compare --dtype against float32 (libtorch reference): logit error, greedy agreement");
  sub->add_flag("--json", opt->json, "Print one JSON object instead of text");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress lines on stderr");
  sub->add_option("--save-random", opt->save_random,
                  "Write the random weights of --random/--seed as a model directory DIR and exit (no benchmark)");
  sub->callback([opt, random, &io] { run_bench_command(*opt, io, random->count() > 0); });
}

}  // namespace gpt2::cli
