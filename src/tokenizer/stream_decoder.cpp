#include "gpt2/base/errors.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/tokenizer/stream_decoder.hpp"
#include "tokenizer/utf8.hpp"

namespace gpt2 {

StreamDecoder::StreamDecoder(std::shared_ptr<const Tokenizer> tok, Invalid invalid)
    : tok_(std::move(tok)), invalid_(invalid) {
  if (!tok_) throw UsageError("StreamDecoder needs a tokenizer");
}

std::string StreamDecoder::finalize(std::string bytes) const {
  // Chunks end only before a possibly-valid incomplete tail, so repairing each
  // chunk gives the same text as repairing the whole stream at once.
  if (invalid_ == Invalid::kPassThrough || utf8::is_valid(bytes)) return bytes;
  std::string out;
  utf8::repair(bytes, out);
  return out;
}

std::string StreamDecoder::push(TokenId id) {
  pending_ += tok_->token_bytes(id);
  // Hold back only a tail that is the start of a character still to be completed;
  // everything before it, invalid bytes included, is final.
  const std::size_t hold = utf8::incomplete_suffix_length(pending_);
  std::string ready = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return finalize(std::move(ready));
}

std::string StreamDecoder::flush() {
  std::string rest;
  rest.swap(pending_);
  return finalize(std::move(rest));
}

}  // namespace gpt2
