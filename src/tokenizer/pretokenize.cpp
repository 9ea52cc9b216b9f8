#include "tokenizer/pretokenize.hpp"

#include <re2/re2.h>

#include "gpt2/base/errors.hpp"
#include "tokenizer/utf8.hpp"

namespace gpt2 {
namespace {

// Unicode White_Space: U+0009..000D, U+0020, U+0085, U+00A0, U+1680,
// U+2000..200A, U+2028, U+2029, U+202F, U+205F, U+3000.
constexpr const char* kSpaceClass =
    R"(\x{9}-\x{D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

std::string build_pattern() {
  const std::string ws = kSpaceClass;
  return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^)" + ws + R"(\p{L}\p{N}]+|[)" + ws + "]+";
}

RE2::Options re2_options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);  // room for the DFA over the large Unicode classes
  return o;
}

}  // namespace

struct Pretokenizer::Impl {
  RE2 re{pattern(), re2_options()};
};

const std::string& Pretokenizer::pattern() {
  static const std::string p = build_pattern();
  return p;
}

bool Pretokenizer::is_space(char32_t cp) {
  if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
  if (cp < 0x85) return false;
  switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

Pretokenizer::Pretokenizer() : impl_(std::make_unique<Impl>()) {
  if (!impl_->re.ok()) throw Error("tokenizer: bad pre-tokenizer pattern: " + impl_->re.error());
}

Pretokenizer::~Pretokenizer() = default;

std::size_t Pretokenizer::piece_end(std::string_view text, std::size_t pos) const {
  re2::StringPiece m;
  const re2::StringPiece sp(text.data(), text.size());
  if (!impl_->re.Match(sp, pos, text.size(), RE2::ANCHOR_START, &m, 1) || m.empty()) {
    // Cannot happen on well-formed UTF-8 (the alternatives cover every
    // character); take one character so the caller always advances.
    const std::size_t len = utf8::char_length(text, pos);
    return pos + (len == 0 ? 1 : len);
  }
  std::size_t end = pos + m.size();
  // Emulate \s+(?!\S): a whitespace run (the only kind of piece that ends in
  // whitespace) followed by a non-space gives its last character to the next
  // piece, unless the run is a single character.
  const unsigned char last_byte = static_cast<unsigned char>(text[end - 1]);
  const bool may_end_in_space = last_byte >= 0x80 || last_byte == ' ' || (last_byte >= 0x09 && last_byte <= 0x0D);
  if (end < text.size() && may_end_in_space && end - pos > 1) {
    const std::string_view piece = text.substr(pos, end - pos);
    const std::size_t last_len = utf8::last_char_length(piece);
    std::size_t len = 0;
    const char32_t last = utf8::decode_at(piece, piece.size() - last_len, &len);
    if (is_space(last) && last_len < piece.size()) end -= last_len;
  }
  return end;
}

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = piece_end(text, pos);
    pieces.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return pieces;
}

}  // namespace gpt2
