// The spec table of the samplers (src/generate/sampler_table.cpp): one row per
// setting of SamplingOptions, in the order of the chain. A row gives the
// setting's command-line flag, its JSON key (the name OpenAI, vLLM and
// llama.cpp use; also the key in `settings` records and in --prompts records),
// its help text, its range check and the stage it adds to a row's chain when it
// is on. Everything else is derived from the table: the CLI options (and so
// --help, the man page and the shell completions), validation, the `settings`
// JSON and per-record settings.
//
// Adding a sampler: one field in SamplingOptions (sampler.hpp), one stage class
// and one row of kSamplerTable (sampler_table.cpp). See docs/architecture.md.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gpt2/generate/sampler.hpp"

namespace gpt2 {

using LogitBias = std::vector<std::pair<int64_t, double>>;

// Where a stage runs: on the raw logits before the temperature (so it changes
// greedy decoding too), or after it (skipped when greedy).
enum class SamplerPhase { kLogits, kFilter };

struct SamplerSpec {
  const char* key;   // JSON key and settings name, e.g. "top_p"
  const char* flag;  // command-line flag, e.g. "--top-p"
  const char* help;  // --help text
  // The field of SamplingOptions the row sets.
  std::variant<double SamplingOptions::*, int64_t SamplingOptions::*, LogitBias SamplingOptions::*> field;
  // What is wrong with the value ("must be in (0, 1] (1 = off), got 1.5"), or
  // nothing. `vocab` > 0: token ids are checked against it.
  std::optional<std::string> (*check)(const SamplingOptions& opt, int64_t vocab);
  SamplerPhase phase;
  // The row's stage for these settings, or nullptr when the setting is off.
  std::unique_ptr<SamplerStage> (*stage)(const SamplingOptions& opt);
  // Repeatable flag taking text (e.g. --logit-bias ID=BIAS): its parser; nullptr for numbers.
  void (*parse_flag)(const std::string& text, SamplingOptions& opt);
};

// Every row, in chain order.
const std::vector<SamplerSpec>& sampler_table();

// The settings as JSON, one key per row ("logit_bias": [[id, bias], ...], "-inf" for a ban).
nlohmann::json sampling_json(const SamplingOptions& opt);

// Sets every key of `record` that names a row (other keys are ignored) on `opt`.
// Accepts numbers for the numeric rows and, for "logit_bias", OpenAI's object
// {"50256": -100}, pairs [[50256, -100]] or "ID=BIAS" strings. Throws UsageError
// naming the key for a wrong type or a value out of range (`vocab` > 0 checks ids).
void apply_sampling_json(const nlohmann::json& record, SamplingOptions& opt, int64_t vocab = 0);

// The first problem of `opt` as "<name> <problem>", naming each row by its flag
// (`by_key` false) or its JSON key; nothing when every value is in range.
std::optional<std::string> sampling_problem(const SamplingOptions& opt, int64_t vocab, bool by_key);

}  // namespace gpt2
