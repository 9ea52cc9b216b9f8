#include "tokenizer/byte_unicode.hpp"

#include "tokenizer/utf8.hpp"

namespace gpt2::byte_unicode {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int, 324> to_byte{};  // indexed by code point; -1 when unmapped

  Tables() {
    to_byte.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
      to_char[b] = cp;
      to_byte[cp] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_char(unsigned char b) { return tables().to_char[b]; }

std::optional<unsigned char> char_to_byte(char32_t cp) {
  const auto& t = tables();
  if (cp >= t.to_byte.size() || t.to_byte[cp] < 0) return std::nullopt;
  return static_cast<unsigned char>(t.to_byte[cp]);
}

std::optional<std::string> decode_token(std::string_view mapped) {
  std::string out;
  out.reserve(mapped.size());
  std::size_t i = 0;
  while (i < mapped.size()) {
    if (utf8::char_length(mapped, i) == 0) return std::nullopt;
    std::size_t len = 0;
    const char32_t cp = utf8::decode_at(mapped, i, &len);
    const auto b = char_to_byte(cp);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    i += len;
  }
  return out;
}

std::string encode_token(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8::append(out, byte_to_char(b));
  return out;
}

}  // namespace gpt2::byte_unicode
