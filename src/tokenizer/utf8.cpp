#include "tokenizer/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace gpt2::utf8 {
namespace {

inline unsigned char byte_at(std::string_view s, std::size_t i) {
  return static_cast<unsigned char>(s[i]);
}

// Expected total length for a lead byte, 0 for bytes that cannot start a character.
inline std::size_t lead_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b < 0xC2) return 0;  // continuation byte, or overlong lead C0/C1
  if (b < 0xE0) return 2;
  if (b < 0xF0) return 3;
  if (b < 0xF5) return 4;
  return 0;
}

// Valid range of the second byte, which depends on the lead (Unicode Table 3-7).
inline bool second_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default:   return b >= 0x80 && b <= 0xBF;
  }
}

inline bool cont_ok(unsigned char b) { return b >= 0x80 && b <= 0xBF; }

// How many bytes starting at pos form a valid prefix of a character (stops at
// the first byte that breaks it or at the end of s). `need` is the full length.
inline std::size_t valid_prefix(std::string_view s, std::size_t pos, std::size_t* need) {
  const unsigned char lead = byte_at(s, pos);
  *need = lead_length(lead);
  if (*need == 0) return 0;
  std::size_t k = 1;
  while (k < *need && pos + k < s.size()) {
    const unsigned char b = byte_at(s, pos + k);
    if (k == 1 ? !second_ok(lead, b) : !cont_ok(b)) break;
    ++k;
  }
  return k;
}

}  // namespace

std::size_t char_length(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return 0;
  std::size_t need = 0;
  const std::size_t k = valid_prefix(s, pos, &need);
  return (need != 0 && k == need) ? need : 0;
}

std::size_t incomplete_tail_at(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return 0;
  std::size_t need = 0;
  const std::size_t k = valid_prefix(s, pos, &need);
  return (need > 1 && k < need && pos + k == s.size()) ? k : 0;
}

bool is_valid(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    // ASCII fast path: 8 bytes at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (byte_at(s, i) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = char_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::size_t repair(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size() + 16);
  std::size_t replaced = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (byte_at(s, i) < 0x80) {
      out.push_back(s[i++]);
      continue;
    }
    std::size_t need = 0;
    const std::size_t k = valid_prefix(s, i, &need);
    if (need != 0 && k == need) {
      out.append(s.data() + i, k);
      i += k;
    } else {
      // A maximal subpart (a valid prefix cut short, or a lone bad byte) is one U+FFFD.
      out.append("\xEF\xBF\xBD");
      ++replaced;
      i += (k == 0 ? 1 : k);
    }
  }
  return replaced;
}

std::size_t incomplete_suffix_length(std::string_view s) {
  const std::size_t n = s.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const std::size_t pos = n - back;
    const unsigned char b = byte_at(s, pos);
    if (cont_ok(b)) continue;  // keep looking for the lead byte
    return incomplete_tail_at(s, pos) == back ? back : 0;
  }
  return 0;
}

std::size_t last_char_length(std::string_view s) {
  std::size_t k = 1;
  while (k < s.size() && k < 4 && cont_ok(byte_at(s, s.size() - k))) ++k;
  return k;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t decode_at(std::string_view s, std::size_t pos, std::size_t* len) {
  const unsigned char b0 = byte_at(s, pos);
  if (b0 < 0x80) {
    *len = 1;
    return b0;
  }
  const std::size_t n = lead_length(b0);
  *len = n;
  char32_t cp = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (byte_at(s, pos + k) & 0x3F);
  return cp;
}

}  // namespace gpt2::utf8
