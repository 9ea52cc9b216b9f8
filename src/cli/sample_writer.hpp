// Output of `gpt2 generate` / `gpt2 sample-unconditional`: the released
// "==== SAMPLE n ====" text format (streamed at batch size 1), --raw text, or
// one JSON object per sample (--format jsonl).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "gpt2/generate/generate.hpp"

namespace gpt2::cli {

enum class Format { kReleased, kJsonl, kRaw };

// "==== ... SAMPLE n ==== ..." as the released scripts print it.
std::string sample_header(int64_t n);

// Writes the samples of one prompt (or the unconditional stream).
class SampleWriter {
 public:
  SampleWriter(std::ostream& out, Format format, bool echo) : out_(out), format_(format), echo_(echo) {}

  bool streams(int64_t batch) const { return batch == 1 && format_ != Format::kJsonl; }

  // Streaming: before sample `n` starts, each piece of its text, its end.
  void begin(int64_t n, const std::string& prompt);
  void text(const std::string& s);
  void end();

  // A whole sample: released/raw, or one jsonl object (`extra` plus the sample's fields).
  void whole(int64_t n, const std::string& prompt, const GeneratedRow& row, const nlohmann::json& extra);

  // After all samples of a prompt (the released format's closing rule).
  void end_of_prompt();

 private:
  std::ostream& out_;
  Format format_;
  bool echo_;
};

}  // namespace gpt2::cli
