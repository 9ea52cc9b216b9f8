// `gpt2 score --jsonl` input records: one JSON object per line with a string
// "text" (the document to score) and an optional "id" (any JSON value, echoed
// in the output). Torch-free, so the fuzz build (tests/fuzz, scripts/fuzz.sh)
// compiles it alone.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gpt2 {

// One line's text and id, or why the line is bad.
struct ScoreRecord {
  std::string text;
  nlohmann::json id;  // null when the record has none
  std::string error;  // non-empty: the line is bad ("not valid JSON", "no \"text\" string field",
                      // "nothing to score (empty \"text\")"); text and id are then unspecified
};

// Parses one line (without its '\n'). Never throws for any bytes.
ScoreRecord parse_score_record(const std::string& line);

// True for a line of only spaces, tabs, '\r' and '\n' (skipped, not an error).
bool is_blank_line(const std::string& line);

}  // namespace gpt2
