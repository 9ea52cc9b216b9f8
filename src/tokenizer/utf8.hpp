// Small UTF-8 helpers used by the tokenizer: validation, U+FFFD repair of
// invalid input, and the length of an incomplete character at the end of a
// byte string (for the streaming decoder).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gpt2::utf8 {

// Length of the well-formed UTF-8 character starting at s[pos] (1..4), or 0
// when the bytes there are not a complete well-formed character. Well-formed
// means the Unicode definition: no overlongs, no surrogates, nothing past U+10FFFF.
std::size_t char_length(std::string_view s, std::size_t pos);

// Length (1..3) of the longest prefix of a well-formed character that starts at
// s[pos] and runs to the end of s without completing; 0 when the bytes at pos
// are complete, or cannot begin any valid character.
std::size_t incomplete_tail_at(std::string_view s, std::size_t pos);

// True when the whole string is well-formed UTF-8.
bool is_valid(std::string_view s);

// Replaces each maximal ill-formed subsequence with U+FFFD, exactly as Python's
// bytes.decode("utf-8", errors="replace") does (Unicode's "maximal subpart"
// practice). Returns the number of replacements made. `out` receives the result.
std::size_t repair(std::string_view s, std::string& out);

// Number of bytes at the end of `s` that form an incomplete but still possibly
// valid character (0..3): the streaming decoder holds these back.
std::size_t incomplete_suffix_length(std::string_view s);

// Byte length of the last character of a well-formed, non-empty string.
std::size_t last_char_length(std::string_view s);

// Appends the UTF-8 encoding of code point `cp` (assumed valid) to `out`.
void append(std::string& out, char32_t cp);

// Decodes the well-formed character at s[pos] (caller knows it is well-formed).
char32_t decode_at(std::string_view s, std::size_t pos, std::size_t* len);

}  // namespace gpt2::utf8
