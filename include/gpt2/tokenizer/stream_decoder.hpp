// Token ids -> always-complete UTF-8 text, for streaming output (src/tokenizer/stream_decoder.cpp).
#pragma once

#include <memory>
#include <string>

#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

// Turns a stream of token ids into text that is always complete UTF-8: bytes of
// a character split across tokens are held back until the token that completes
// it arrives. Bytes that can never become valid are final as soon as that is
// clear: passed through unchanged (lossless, the default) or replaced by U+FFFD.
class StreamDecoder {
 public:
  // What to do with bytes that can never become valid UTF-8.
  enum class Invalid {
    kPassThrough,  // emit them unchanged (lossless)
    kReplace,      // replace each maximal invalid subpart by U+FFFD, as Python's
                   // bytes.decode("utf-8", errors="replace") in the released decoder
  };
  explicit StreamDecoder(std::shared_ptr<const Tokenizer> tok, Invalid invalid = Invalid::kPassThrough);
  // Returns the text that is now complete (possibly empty).
  std::string push(TokenId id);
  // Returns whatever is still held back (end of stream).
  std::string flush();

 private:
  std::string finalize(std::string bytes) const;  // applies invalid_

  std::shared_ptr<const Tokenizer> tok_;
  Invalid invalid_ = Invalid::kPassThrough;
  std::string pending_;
};

}  // namespace gpt2
