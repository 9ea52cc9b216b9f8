#include "gpt2/generate/text_stream.hpp"
#include "gpt2/tokenizer/stream_decoder.hpp"

#include <algorithm>

namespace gpt2 {

TextStream::TextStream(std::shared_ptr<const Tokenizer> tok, std::vector<std::string> stop)
    : decoder_(std::move(tok), StreamDecoder::Invalid::kReplace) {
  for (auto& s : stop) {
    if (s.empty()) continue;
    hold_ = std::max(hold_, s.size() - 1);
    stop_.push_back(std::move(s));
  }
}

std::string TextStream::push(TokenId id) {
  if (stopped_) return {};
  pending_ += decoder_.push(id);
  return release(false);
}

std::string TextStream::finish() {
  if (stopped_) return {};
  pending_ += decoder_.flush();
  return release(true);
}

std::string TextStream::release(bool all) {
  // Every stop occurrence not yet seen overlaps pending_ (earlier text was released
  // only when no stop string could start in it), so searching pending_ suffices.
  size_t first = std::string::npos;
  for (const auto& s : stop_) first = std::min(first, pending_.find(s));
  std::string out;
  if (first != std::string::npos) {
    out = pending_.substr(0, first);
    pending_.clear();
    stopped_ = true;
  } else {
    size_t cut = all ? pending_.size() : pending_.size() - std::min(hold_, pending_.size());
    // never split a character: back up to the start of the one at `cut`
    while (cut > 0 && cut < pending_.size() && (static_cast<unsigned char>(pending_[cut]) & 0xC0) == 0x80)
      --cut;
    out = pending_.substr(0, cut);
    pending_.erase(0, cut);
  }
  text_ += out;
  return out;
}

}  // namespace gpt2
