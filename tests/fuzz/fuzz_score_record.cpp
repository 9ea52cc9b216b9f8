// libFuzzer target: gpt2::parse_score_record (one `gpt2 score --jsonl` line) on
// arbitrary bytes. It never throws; either the line is bad (one of the three
// documented reasons) or it gives a non-empty text whose record, written again
// as JSON and parsed back, gives the same text and id.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "gpt2/score/score_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  const gpt2::ScoreRecord r = gpt2::parse_score_record(line);
  if (gpt2::is_blank_line(line) && r.error.empty()) __builtin_trap();  // a blank line is never a record
  if (!r.error.empty()) {
    if (r.error != "not valid JSON" && r.error != "no \"text\" string field" &&
        r.error != "nothing to score (empty \"text\")")
      __builtin_trap();
    return 0;
  }
  if (r.text.empty() || r.id.is_discarded()) __builtin_trap();
  nlohmann::json again = {{"text", r.text}};
  if (!r.id.is_null()) again["id"] = r.id;
  const gpt2::ScoreRecord back = gpt2::parse_score_record(again.dump());
  if (!back.error.empty() || back.text != r.text || back.id != r.id) __builtin_trap();
  return 0;
}
