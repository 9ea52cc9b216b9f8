#include "cli/sample_writer.hpp"

namespace gpt2::cli {

std::string sample_header(int64_t n) {
  return std::string(40, '=') + " SAMPLE " + std::to_string(n) + " " + std::string(40, '=');
}

void SampleWriter::begin(int64_t n, const std::string& prompt) {
  if (format_ == Format::kReleased) out_ << sample_header(n) << '\n';
  if (echo_) out_ << prompt;
  out_.flush();
}

void SampleWriter::text(const std::string& s) {
  out_ << s;
  out_.flush();
}

void SampleWriter::end() {
  out_ << '\n';
  out_.flush();
}

void SampleWriter::whole(int64_t n, const std::string& prompt, const GeneratedRow& row, const nlohmann::json& extra) {
  if (format_ != Format::kJsonl) {
    begin(n, prompt);
    text(row.text);
    end();
    return;
  }
  nlohmann::json j = extra;
  j["sample"] = n;
  j["text"] = echo_ ? prompt + row.text : row.text;
  j["tokens"] = row.tokens;
  j["finish_reason"] = to_string(row.finish);
  // one complete line per write: nothing half-written if interrupted
  out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  out_.flush();
}

void SampleWriter::end_of_prompt() {
  if (format_ == Format::kReleased) out_ << std::string(80, '=') << '\n';
  out_.flush();
}

}  // namespace gpt2::cli
