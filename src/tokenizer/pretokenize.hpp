// Pre-tokenization: splits text into the pieces that BPE encodes one by one,
// exactly as the released GPT-2 pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does under Python's `regex` module. re2 has no look-ahead, so the last two
// alternatives become one greedy whitespace run, which then hands its last
// character back when a non-space follows it (see piece_end). \s is spelled out
// as Unicode White_Space (re2's own \s is ASCII only).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

class Pretokenizer {
 public:
  Pretokenizer();
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  // End (exclusive) of the piece that starts at `pos` (< text.size()). `text`
  // must be well-formed UTF-8 and `pos` a character boundary.
  std::size_t piece_end(std::string_view text, std::size_t pos) const;

  // All pieces of `text`, in order (their concatenation is `text`).
  std::vector<std::string_view> split(std::string_view text) const;

  // The re2 pattern used (without the look-ahead).
  static const std::string& pattern();

  // Unicode White_Space, the released pattern's \s (25 code points).
  static bool is_space(char32_t cp);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt2
