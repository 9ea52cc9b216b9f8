#include "gpt2/score/score_record.hpp"

using nlohmann::json;

namespace gpt2 {

ScoreRecord parse_score_record(const std::string& line) {
  ScoreRecord r;
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) {
    r.error = "not valid JSON";
  } else if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
    r.error = "no \"text\" string field";
  } else {
    r.text = j["text"].get<std::string>();
    if (j.contains("id")) r.id = j["id"];
    if (r.text.empty()) r.error = "nothing to score (empty \"text\")";
  }
  return r;
}

bool is_blank_line(const std::string& line) { return line.find_first_not_of(" \t\r\n") == std::string::npos; }

}  // namespace gpt2
