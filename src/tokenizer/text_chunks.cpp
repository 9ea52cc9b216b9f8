#include "gpt2/tokenizer/text_chunks.hpp"

#include <algorithm>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {
bool printable_ascii(char c) { return c > ' ' && c < 0x7f; }
}  // namespace

std::size_t independent_split(std::string_view text) {
  if (text.size() < 3) return 0;
  for (std::size_t p = text.size() - 2; p > 0; --p)
    if (text[p] == ' ' && printable_ascii(text[p - 1]) && printable_ascii(text[p + 1])) return p;
  return 0;
}

TextChunkReader::TextChunkReader(std::istream& in, std::string what, std::size_t piece_bytes)
    : in_(in), what_(std::move(what)), piece_bytes_(std::max<std::size_t>(piece_bytes, 2)) {}

void TextChunkReader::fill(std::size_t want) {
  while (!eof_ && buffer_.size() < want) {
    const std::size_t old = buffer_.size();
    buffer_.resize(want);
    in_.read(&buffer_[old], static_cast<std::streamsize>(want - old));
    const auto got = static_cast<std::size_t>(in_.gcount());
    buffer_.resize(old + got);
    bytes_read_ += static_cast<std::int64_t>(got);
    if (in_.bad()) throw IoError("cannot read " + what_);
    if (got < want - old) eof_ = true;
  }
}

bool TextChunkReader::next(std::string& piece) {
  piece.clear();
  std::size_t want = piece_bytes_;
  for (;;) {
    fill(want);
    if (eof_) {
      piece.swap(buffer_);
      return !piece.empty();
    }
    // Searched back from the end: ordinary text has a split within a few bytes.
    if (const std::size_t p = independent_split(buffer_); p > 0) {
      piece.assign(buffer_, 0, p);
      buffer_.erase(0, p);
      return true;
    }
    want = buffer_.size() * 2;  // no split yet: read on
  }
}

}  // namespace gpt2
