#include "gpt2/errors.hpp"
#include "gpt2/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

namespace gpt2 {

StreamDecoder::StreamDecoder(std::shared_ptr<const Tokenizer> tok) : tok_(std::move(tok)) {
  if (!tok_) throw UsageError("StreamDecoder needs a tokenizer");
}

std::string StreamDecoder::push(TokenId id) {
  pending_ += tok_->token_bytes(id);
  // Hold back only a tail that is the start of a character still to be completed;
  // everything before it, invalid bytes included, is final.
  const std::size_t hold = utf8::incomplete_suffix_length(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return ready;
}

std::string StreamDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  return rest;
}

}  // namespace gpt2
