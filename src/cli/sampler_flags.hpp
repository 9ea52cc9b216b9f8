// The sampling flags of `generate` and `sample-unconditional`, one per row of the
// samplers' spec table (gpt2/generate/sampler_table.hpp): nothing here names a
// sampler, so a new row shows up in --help, the man page and the completions.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>
#include <vector>

#include "gpt2/generate/sampler.hpp"

namespace gpt2::cli {

struct SamplerFlags {
  SamplingOptions values;                                 // numeric flags bind here
  std::map<std::string, std::vector<std::string>> texts;  // repeatable text flags (--logit-bias ID=BIAS), by key

  // One option per table row.
  void add_to(CLI::App* app);
  // The settings: the numbers as given, the text flags parsed (UsageError naming the flag).
  SamplingOptions resolve() const;
};

}  // namespace gpt2::cli
