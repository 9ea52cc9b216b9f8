// A row's own settings (src/generate/row_settings.cpp): what a --prompts record
// (or a server request) may set for itself, overriding the run's options for that
// row. Rows with different settings share a batch; each row's output is what it
// would be alone with those settings (generate.hpp).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpt2/generate/sampler.hpp"

namespace gpt2 {

struct RowSettings {
  std::optional<SamplingOptions> sampling;       // every sampler setting (the run's, with the row's on top)
  std::optional<uint64_t> seed;                   // its own seed: sample k of the row draws from SampleRng(seed, k)
  std::optional<int64_t> length;                  // tokens to generate
  std::optional<std::vector<std::string>> stop;   // stop strings
};

// The JSON keys besides the samplers' (sampler_table.hpp): "seed", "length" (or
// OpenAI's "max_tokens"), "stop" (a string or a list of strings).
// Reads the keys of `record` (a JSON object) that name a setting; other keys are
// left alone. Returns nullptr when the record sets nothing. `base`: the run's
// sampling settings, which the record's sampler keys override. Throws UsageError
// naming the key for a wrong type or a value out of range (`vocab` > 0 checks
// logit-bias ids).
std::shared_ptr<const RowSettings> row_settings_from_json(const nlohmann::json& record, const SamplingOptions& base,
                                                          int64_t vocab = 0);

// The record's settings as JSON (the sampler keys, and "length", "stop", "seed" where set).
nlohmann::json row_settings_json(const RowSettings& s);

}  // namespace gpt2
