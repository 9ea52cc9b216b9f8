// Prompt files for batch generation (`gpt2 generate --prompts FILE`):
//   - text: one prompt per line (a trailing '\r' dropped; empty lines skipped);
//     a prompt's id is its 0-based line number;
//   - JSONL (a .jsonl file, or any file whose first non-blank character is '{'):
//     {"id": ..., "prompt": "..."} per line; `id` optional (any JSON value,
//     default the 0-based line number); blank lines skipped. The record's other
//     keys are kept (`fields`): a record may carry its own sampling settings
//     (gpt2/generate/row_settings.hpp), read by the run.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpt2 {

struct PromptRecord {
  nlohmann::json id;  // as given, or the 0-based line number
  std::string text;
  int64_t line = 0;   // 1-based line in the file, for messages
  nlohmann::json fields = nlohmann::json::object();  // JSONL: the record's keys besides "id" and "prompt"
};

// Reads every prompt. NotFoundError for a missing file; FormatError naming the
// file and line for a JSONL line that is not a JSON object or has no string
// "prompt"; UsageError if the file holds no prompt. `bytes`, when given,
// receives the file's contents (read once, e.g. for a checksum).
std::vector<PromptRecord> read_prompt_file(const std::filesystem::path& file, std::string* bytes = nullptr);

// Parses prompt-file text (what read_prompt_file reads); `jsonl` picks the format.
std::vector<PromptRecord> parse_prompts(const std::string& text, bool jsonl, const std::string& source);

}  // namespace gpt2
