// OpenAI's JSON shapes for completions, built from engine events (no HTTP
// here): one Choice per sample accumulates its text and log-probs, either
// completions' legacy object (`tokens`, `token_logprobs`, `top_logprobs`,
// `text_offset`) or chat's (`content`: one {token, logprob, bytes,
// top_logprobs: [{token, logprob, bytes}]} per generated token), and renders
// either a whole response's choice or one streamed chunk's.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "gpt2/serve/engine.hpp"

namespace gpt2::serve {

// Dumps JSON with invalid UTF-8 replaced by U+FFFD (token pieces may be partial characters).
std::string dump_json(const nlohmann::json& j);

// "stop" / "length" (a cancelled or failed request reports "length").
const char* finish_reason(Finish f);

class Choice {
 public:
  // with_ranks: the log-probs object also has "token_ranks" (an extension; null for the first prompt token).
  // chat: the log-probs in chat's shape ({"content": [...]}, generated tokens only; no ranks).
  Choice(std::shared_ptr<const Tokenizer> tok, int64_t index, bool with_logprobs, bool with_ranks = false,
         bool chat = false);

  // Adds an event; returns the choice's part of a stream chunk for it
  // ({"text", "index", "logprobs", "finish_reason"}), or null when the event
  // adds nothing to stream. `echo_text` is the prompt's text (kPrompt).
  nlohmann::json add(const EngineEvent& e, const std::string& echo_text);

  bool done() const { return done_; }
  Finish finish() const { return finish_; }
  const std::string& error() const { return error_; }
  int64_t completion_tokens() const { return completion_tokens_; }
  // The whole choice, for a non-streamed response.
  nlohmann::json full() const;

 private:
  // Appends tokens to a legacy log-probs object; `offset` advances over the pieces.
  void append_logprobs(nlohmann::json& lp, const TokenLogprob& t, bool first_null);
  // One token as chat's {token, logprob, bytes, top_logprobs}.
  nlohmann::json chat_logprob(const TokenLogprob& t) const;

  std::shared_ptr<const Tokenizer> tok_;
  int64_t index_;
  bool with_logprobs_;
  bool with_ranks_;
  bool chat_;
  std::string text_;
  nlohmann::json logprobs_;  // the whole choice's
  int64_t offset_ = 0;       // text_offset of the next token (bytes of the pieces so far)
  bool done_ = false;
  Finish finish_ = Finish::kLength;
  std::string error_;
  int64_t completion_tokens_ = 0;
};

}  // namespace gpt2::serve
