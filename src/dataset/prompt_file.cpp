#include "gpt2/dataset/prompt_file.hpp"

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"

namespace gpt2 {

std::vector<PromptRecord> parse_prompts(const std::string& text, bool jsonl, const std::string& source) {
  std::vector<PromptRecord> out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    PromptRecord r;
    r.line = line_no;
    if (!jsonl) {
      r.id = line_no - 1;
      r.text = line;
    } else {
      const std::string where = source + " line " + std::to_string(line_no);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception& e) {
        throw FormatError(where + ": not JSON (" + std::string(e.what()) + ")");
      }
      if (!j.is_object()) throw FormatError(where + ": expected a JSON object {\"id\": ..., \"prompt\": \"...\"}");
      auto p = j.find("prompt");
      if (p == j.end() || !p->is_string()) throw FormatError(where + ": no string field \"prompt\"");
      r.text = p->get<std::string>();
      auto id = j.find("id");
      r.id = id != j.end() ? *id : nlohmann::json(line_no - 1);
      j.erase("prompt");
      j.erase("id");
      r.fields = std::move(j);
    }
    if (r.text.empty()) throw FormatError(source + " line " + std::to_string(line_no) + ": the prompt is empty");
    out.push_back(std::move(r));
  }
  if (out.empty()) throw UsageError(source + " holds no prompt");
  return out;
}

std::vector<PromptRecord> read_prompt_file(const std::filesystem::path& file, std::string* bytes) {
  const std::string text = read_file(file, "--prompts file");
  if (bytes != nullptr) *bytes = text;
  bool jsonl = file.extension() == ".jsonl";
  if (!jsonl) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    jsonl = first != std::string::npos && text[first] == '{';
  }
  return parse_prompts(text, jsonl, file.string());
}

}  // namespace gpt2
