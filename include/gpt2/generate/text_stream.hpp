// One generated row's text, built token by token: complete UTF-8 only (via
// StreamDecoder), invalid bytes replaced by U+FFFD, and cut before the first
// stop string. Text that might still be the start of a stop string is held
// back until it cannot be.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/tokenizer/stream_decoder.hpp"

namespace gpt2 {

class TextStream {
 public:
  TextStream(std::shared_ptr<const Tokenizer> tok, std::vector<std::string> stop);

  // Adds a token; returns the text that became final (possibly empty). After a
  // stop string was found, returns "" and ignores further tokens.
  std::string push(TokenId id);
  // End of the stream: returns everything still held back.
  std::string finish();

  bool stopped() const { return stopped_; }
  const std::string& text() const { return text_; }  // every piece returned so far

 private:
  std::string release(bool all);

  StreamDecoder decoder_;
  std::vector<std::string> stop_;
  size_t hold_ = 0;      // longest stop string - 1
  std::string pending_;  // decoded, not yet final
  std::string text_;
  bool stopped_ = false;
};

}  // namespace gpt2
