// GPT-2's reversible byte <-> unicode mapping (bytes_to_unicode in the released
// encoder.py): printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in order. encoder.json and vocab.bpe spell tokens in these characters.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace gpt2::byte_unicode {

// The code point that stands for byte b.
char32_t byte_to_char(unsigned char b);

// The byte that code point cp stands for, or nullopt if cp is not in the mapping.
std::optional<unsigned char> char_to_byte(char32_t cp);

// Converts a token spelled in mapped characters (UTF-8) back to its raw bytes.
// Returns nullopt when the text is not valid UTF-8 or uses an unmapped character.
std::optional<std::string> decode_token(std::string_view mapped);

// Spells raw bytes in mapped characters (UTF-8), the inverse of decode_token.
std::string encode_token(std::string_view bytes);

}  // namespace gpt2::byte_unicode
