// Reading a long text in pieces that the tokenizer encodes independently:
// encoding each piece and concatenating the ids gives exactly the ids of the
// whole text. This lets `gpt2 score` stream a document of any size through the
// model with memory for one piece, not the whole text and its ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>

namespace gpt2 {

// The last position p (0 < p < text.size() - 1) where text[p] is an ASCII space
// between two printable ASCII characters (not spaces), searching back from
// the end; 0 when there is none. Splitting there is exact: no pre-token of
// GPT-2's pattern contains a non-whitespace character followed by whitespace,
// so the pre-token before p ends at p, and the one at p (" word", " 42",
// " ...") starts there in both the whole text and the second piece. The
// neighbours are ASCII so that p is never inside a UTF-8 sequence (nor in a
// run of Unicode whitespace, which the pattern treats differently), and a
// special token (no spaces) never spans p.
std::size_t independent_split(std::string_view text);

// Reads `in` in pieces of about `piece_bytes` (at least 2), each cut at an
// independent split. A piece is longer only when a text has no such position
// for that long (no "word word" in it: CJK text without ASCII, binary data).
class TextChunkReader {
 public:
  TextChunkReader(std::istream& in, std::string what, std::size_t piece_bytes = std::size_t{1} << 20);

  // The next piece into `piece`; false (and `piece` empty) at the end of the
  // input. IoError naming `what` when the stream fails.
  bool next(std::string& piece);

  std::int64_t bytes_read() const { return bytes_read_; }
  bool at_end() const { return eof_ && buffer_.empty(); }

 private:
  void fill(std::size_t want);

  std::istream& in_;
  std::string what_;
  std::size_t piece_bytes_;
  std::string buffer_;  // read, not yet returned
  bool eof_ = false;
  std::int64_t bytes_read_ = 0;
};

}  // namespace gpt2
