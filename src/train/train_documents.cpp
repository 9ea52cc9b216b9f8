#include "gpt2/train/train_documents.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>

#include "gpt2/base/errors.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gpt2 {

namespace {
constexpr std::string_view kEot = "<|endoftext|>";
}  // namespace

std::vector<DataFile> expand_data_inputs(const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw UsageError("no training data: give --data FILE|DIR (text, .jsonl, or a directory of .txt)");
  std::vector<DataFile> out;
  for (const std::string& in : inputs) {
    const fs::path p(in);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw NotFoundError("--data " + in + " not found");
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> txt;
      for (const auto& e : fs::directory_iterator(p))
        if (e.is_regular_file() && e.path().extension() == ".txt") txt.push_back(e.path());
      if (txt.empty()) throw NotFoundError("--data " + in + " is a directory without .txt files");
      std::sort(txt.begin(), txt.end());
      for (auto& t : txt) out.push_back({t, DataFileKind::kDocument});
    } else {
      out.push_back({p, p.extension() == ".jsonl" ? DataFileKind::kJsonl : DataFileKind::kText});
    }
  }
  return out;
}

std::vector<std::string> split_documents(const DataFile& file, const std::string& bytes) {
  std::vector<std::string> docs;
  auto add = [&docs](std::string d) {
    if (!d.empty()) docs.push_back(std::move(d));
  };
  switch (file.kind) {
    case DataFileKind::kDocument:
      add(bytes);
      break;
    case DataFileKind::kText: {
      size_t start = 0;
      for (size_t at; (at = bytes.find(kEot, start)) != std::string::npos; start = at + kEot.size())
        add(bytes.substr(start, at - start));
      add(bytes.substr(start));
      break;
    }
    case DataFileKind::kJsonl: {
      size_t start = 0;
      for (int64_t line = 1; start < bytes.size(); ++line) {
        size_t end = bytes.find('\n', start);
        if (end == std::string::npos) end = bytes.size();
        const std::string text = bytes.substr(start, end - start);
        start = end + 1;
        if (text.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
        const std::string where = file.path.string() + ":" + std::to_string(line);
        json j;
        try {
          j = json::parse(text);
        } catch (const json::exception&) {
          throw FormatError(where + ": not a JSON object");
        }
        if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
          throw FormatError(where + ": no string \"text\" field");
        add(j["text"].get<std::string>());
      }
      break;
    }
  }
  return docs;
}

}  // namespace gpt2
