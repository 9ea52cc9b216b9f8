// Options and shared steps of `gpt2 generate` and `gpt2 sample-unconditional`
// (cmd_generate.cpp: the classic runs and registration; dataset_generate.cpp:
// prompt files, the dataset format, shards and resumable output).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/app.hpp"
#include "cli/model_options.hpp"
#include "cli/sample_writer.hpp"
#include "cli/sampler_flags.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model_loader.hpp"

namespace gpt2::cli {

enum class Mode { kConditional, kUnconditional };

struct SampleOptions {
  Mode mode = Mode::kConditional;
  ModelCliOptions model;
  int64_t length = 0;      // 0 with length_opt unset: the default (n_ctx/2 or n_ctx)
  int64_t nsamples = 1;
  int64_t batch_size = 1;
  SamplerFlags sampling;  // one flag per sampler (the spec table's rows)
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool ignore_eot = false;
  bool context_shift = false;
  std::string format = "text";  // text, jsonl, dataset
  bool raw = false;
  bool verbose = false;
  std::string shard;   // "i/n" or "auto"; empty: everything
  std::string output;  // resumable output file; empty: stdout
  // generate only
  std::string prompt;
  std::string prompt_file;
  std::string prompts;  // a prompt file: one prompt per line, or JSONL
  bool echo = false;
  bool truncate_prompt = false;

  CLI::Option* length_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
  CLI::Option* prompt_opt = nullptr;

  // Prompt files, the dataset format, shards or an output file: the dataset run.
  bool dataset_run() const { return !prompts.empty() || !shard.empty() || !output.empty() || format == "dataset"; }
};

// Opens the model through the library's one loader (-v: says what it loaded).
LoadedModel load(const SampleOptions& o, std::ostream& err);
// Every option that can be checked before loading. Returns the output format.
Format validate(const SampleOptions& o);
// The sampling settings, with the penalties and --logit-bias parsed.
SamplingOptions sampling_options(const SampleOptions& o);
// The GenerateOptions of a run (first_sample left 0).
GenerateOptions generate_options(const SampleOptions& o, int64_t length, uint64_t seed);
// --length or its default, checked against the context with a 1-token prompt.
int64_t resolve_length(const SampleOptions& o, const HParams& hp);
// The prompt's tokens made to fit the context rule (or --truncate-prompt).
std::vector<TokenId> fit_prompt(std::vector<TokenId> ids, int64_t length, const SampleOptions& o, const HParams& hp,
                                std::ostream& err);
// The settings recorded with jsonl output (and the resumable output's sidecar).
nlohmann::json settings_json(const SampleOptions& o, int64_t length, const LoadedModel& l);
// --seed, or a random one announced on stderr.
uint64_t choose_seed(const SampleOptions& o, std::ostream& err);
std::string strip_one_newline(std::string s);
// Ends an interrupted run: normal for an endless sample-unconditional, else InterruptedError.
void finish_interrupted(const SampleOptions& o, CliIO& io);

// The dataset run (dataset_generate.cpp). `single_prompt`: the one prompt of
// `generate` without --prompts (ignored for unconditional runs and --prompts).
void run_dataset(const SampleOptions& o, CliIO& io, const std::string& single_prompt);

}  // namespace gpt2::cli
