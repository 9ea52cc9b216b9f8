#include "tokenizer/vocab_files.hpp"

#include <nlohmann/json.hpp>

#include <unordered_map>

#include "gpt2/base/errors.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/byte_unicode.hpp"

namespace gpt2 {
namespace {

constexpr std::size_t kMaxVocab = std::size_t{bpe::MergeTable::kMaxId} + 1;  // ids 0..kMaxId
constexpr std::string_view kEndOfText = "<|endoftext|>";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string shorten(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 40)) + "...";
}

// Streams encoder.json (a flat object "token": id) without building a DOM.
class EncoderJsonReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<std::pair<std::string, int64_t>> entries;
  std::string problem;  // set when the structure is not a flat object of integers

  bool start_object(std::size_t) override { return depth_++ == 0 || fail("nested objects are not allowed"); }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool key(string_t& k) override {
    if (entries.size() >= kMaxVocab) return fail("too many tokens");
    key_ = std::move(k);
    return true;
  }
  bool number_integer(number_integer_t v) override { return value(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return v > kMaxVocab ? value(static_cast<int64_t>(kMaxVocab)) : value(static_cast<int64_t>(v));
  }
  bool null() override { return not_integer(); }
  bool boolean(bool) override { return not_integer(); }
  bool number_float(number_float_t, const string_t&) override { return not_integer(); }
  bool string(string_t&) override { return not_integer(); }
  bool binary(binary_t&) override { return not_integer(); }
  bool start_array(std::size_t) override { return depth_ == 0 ? fail("expected an object") : not_integer(); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception&) override {
    return fail("not valid JSON (at byte " + std::to_string(pos) + ")");
  }

 private:
  bool value(int64_t v) {
    if (depth_ != 1) return fail("expected an object mapping tokens to ids");
    entries.emplace_back(std::move(key_), v);
    return true;
  }
  bool not_integer() {
    return depth_ == 1 ? fail("the id of token '" + shorten(key_) + "' is not an integer")
                       : fail("expected an object mapping tokens to ids");
  }
  bool fail(std::string why) {
    if (problem.empty()) problem = std::move(why);
    return false;
  }
  int depth_ = 0;
  std::string key_;
};

}  // namespace

VocabData parse_vocab(std::string_view encoder_json, std::string_view vocab_bpe,
                      const std::string& encoder_name, const std::string& vocab_name) {
  EncoderJsonReader reader;
  const bool ok = nlohmann::json::sax_parse(encoder_json.begin(), encoder_json.end(), &reader);
  if (!ok || !reader.problem.empty()) {
    throw FormatError(encoder_name + ": " + (reader.problem.empty() ? "not valid JSON" : reader.problem));
  }
  if (reader.entries.empty()) throw FormatError(encoder_name + ": expected a JSON object mapping tokens to ids");

  VocabData v;
  const std::size_t n = reader.entries.size();
  v.tokens.assign(n, std::string());
  std::vector<std::string> spelling(n);
  std::vector<char> seen(n, 0);
  for (auto& [key, id] : reader.entries) {
    if (id < 0 || id >= static_cast<int64_t>(n)) {
      throw FormatError(encoder_name + ": id " + std::to_string(id) + " of token '" + shorten(key) +
                        "' is outside 0.." + std::to_string(n - 1) + " (ids must be dense)");
    }
    if (seen[id]) throw FormatError(encoder_name + ": id " + std::to_string(id) + " is used twice");
    seen[id] = 1;
    auto bytes = byte_unicode::decode_token(key);
    if (!bytes || bytes->empty()) {
      throw FormatError(encoder_name + ": token '" + shorten(key) +
                        "' is not spelled in GPT-2's byte-level alphabet");
    }
    v.tokens[id] = std::move(*bytes);
    spelling[id] = std::move(key);
  }
  std::unordered_map<std::string_view, TokenId> by_spelling;
  by_spelling.reserve(n * 2);
  for (std::size_t id = 0; id < n; ++id) by_spelling.emplace(spelling[id], static_cast<TokenId>(id));

  for (int b = 0; b < 256; ++b) {
    const std::string spelled = byte_unicode::encode_token(std::string(1, static_cast<char>(b)));
    const auto it = by_spelling.find(spelled);
    if (it == by_spelling.end()) throw FormatError(encoder_name + ": no token for byte " + std::to_string(b));
    v.byte_ids[b] = it->second;
  }
  const auto eot = by_spelling.find(kEndOfText);
  if (eot == by_spelling.end()) throw FormatError(encoder_name + ": no <|endoftext|> token");
  v.eot_id = eot->second;

  std::size_t line_no = 0;
  std::size_t pos = 0;
  std::string joined;
  v.merges.reserve(n);
  while (pos < vocab_bpe.size()) {
    std::size_t eol = vocab_bpe.find('\n', pos);
    if (eol == std::string_view::npos) eol = vocab_bpe.size();
    const std::string_view line = trim(vocab_bpe.substr(pos, eol - pos));
    pos = eol + 1;
    ++line_no;
    if (line_no == 1 && line.substr(0, 8) == "#version") continue;
    if (line.empty()) continue;
    const std::size_t sp = line.find_first_of(" \t");
    const std::string_view left = line.substr(0, sp == std::string_view::npos ? line.size() : sp);
    const std::string_view right = sp == std::string_view::npos ? std::string_view() : trim(line.substr(sp + 1));
    if (left.empty() || right.empty() || right.find_first_of(" \t") != std::string_view::npos) {
      throw FormatError(vocab_name + " line " + std::to_string(line_no) +
                        ": expected two tokens separated by a space, got '" + shorten(line) + "'");
    }
    joined.assign(left);
    joined.append(right);
    const auto l = by_spelling.find(left);
    const auto r = by_spelling.find(right);
    const auto m = by_spelling.find(joined);
    if (l == by_spelling.end() || r == by_spelling.end() || m == by_spelling.end()) {
      throw FormatError(vocab_name + " line " + std::to_string(line_no) + ": merge '" + shorten(line) +
                        (m == by_spelling.end() && l != by_spelling.end() && r != by_spelling.end()
                             ? "' makes a token missing from "
                             : "' uses a token missing from ") +
                        encoder_name);
    }
    if (v.merges.size() > bpe::MergeTable::kMaxRank) throw FormatError(vocab_name + ": too many merges");
    v.merges.push_back({l->second, r->second, m->second});
  }
  if (v.merges.empty()) throw FormatError(vocab_name + ": no merges");
  return v;
}

}  // namespace gpt2
