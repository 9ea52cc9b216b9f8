#include "serve/openai_json.hpp"

#include <cmath>

namespace gpt2::serve {

using nlohmann::json;

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* finish_reason(Finish f) { return f == Finish::kStop ? "stop" : "length"; }

namespace {
json empty_logprobs(bool ranks) {
  json j = {{"tokens", json::array()},
            {"token_logprobs", json::array()},
            {"top_logprobs", json::array()},
            {"text_offset", json::array()}};
  if (ranks) j["token_ranks"] = json::array();
  return j;
}
}  // namespace

Choice::Choice(std::shared_ptr<const Tokenizer> tok, int64_t index, bool with_logprobs, bool with_ranks, bool chat)
    : tok_(std::move(tok)),
      index_(index),
      with_logprobs_(with_logprobs),
      with_ranks_(with_logprobs && with_ranks && !chat),
      chat_(chat) {
  if (with_logprobs_) logprobs_ = chat_ ? json{{"content", json::array()}} : empty_logprobs(with_ranks_);
}

json Choice::chat_logprob(const TokenLogprob& t) const {
  auto entry = [&](TokenId id, double logprob) {
    const std::string& piece = tok_->token_bytes(id);
    json bytes = json::array();
    for (unsigned char b : piece) bytes.push_back(static_cast<int>(b));
    return json{{"token", piece}, {"logprob", logprob}, {"bytes", bytes}};
  };
  json j = entry(t.id, t.logprob);
  json top = json::array();
  for (const TokenAlternative& a : t.top) top.push_back(entry(a.id, a.logprob));
  j["top_logprobs"] = top;
  return j;
}

void Choice::append_logprobs(json& lp, const TokenLogprob& t, bool first_null) {
  const std::string& piece = tok_->token_bytes(t.id);
  lp["tokens"].push_back(piece);
  if (first_null || std::isnan(t.logprob)) {
    lp["token_logprobs"].push_back(nullptr);
    lp["top_logprobs"].push_back(nullptr);
    if (with_ranks_) lp["token_ranks"].push_back(nullptr);
  } else {
    lp["token_logprobs"].push_back(t.logprob);
    if (with_ranks_) lp["token_ranks"].push_back(t.rank);
    json top = json::object();
    for (const TokenAlternative& a : t.top) {
      const std::string& p = tok_->token_bytes(a.id);
      if (!top.contains(p)) top[p] = a.logprob;  // most likely first: keep the first of equal pieces
    }
    lp["top_logprobs"].push_back(top);
  }
  lp["text_offset"].push_back(offset_);
  offset_ += static_cast<int64_t>(piece.size());
}

json Choice::add(const EngineEvent& e, const std::string& echo_text) {
  json part = {{"text", ""}, {"index", index_}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
  if (chat_) {  // chat: no echo; one log-probs entry per generated token
    if (e.kind == EngineEvent::Kind::kPrompt) return part;  // (chat never echoes)
    part["text"] = e.text;
    text_ += e.text;
    if (e.kind == EngineEvent::Kind::kToken) {
      ++completion_tokens_;
      if (with_logprobs_) {
        json entry = chat_logprob(e.token);
        logprobs_["content"].push_back(entry);
        part["logprobs"] = json{{"content", json::array({entry})}};
      }
    } else {
      done_ = true;
      finish_ = e.finish;
      error_ = e.error;
      part["finish_reason"] = finish_reason(e.finish);
    }
    return part;
  }
  json lp = with_logprobs_ ? empty_logprobs(with_ranks_) : json(nullptr);
  switch (e.kind) {
    case EngineEvent::Kind::kPrompt:
      part["text"] = echo_text;
      text_ += echo_text;
      if (with_logprobs_)
        for (size_t i = 0; i < e.prompt.size(); ++i) append_logprobs(lp, e.prompt[i], i == 0);
      break;
    case EngineEvent::Kind::kToken:
      part["text"] = e.text;
      text_ += e.text;
      ++completion_tokens_;
      if (with_logprobs_) append_logprobs(lp, e.token, false);
      break;
    case EngineEvent::Kind::kDone:
      part["text"] = e.text;
      text_ += e.text;
      done_ = true;
      finish_ = e.finish;
      error_ = e.error;
      part["finish_reason"] = finish_reason(e.finish);
      break;
  }
  if (with_logprobs_) {
    for (auto it = lp.begin(); it != lp.end(); ++it)
      for (const json& v : it.value()) logprobs_[it.key()].push_back(v);
    part["logprobs"] = lp;
  }
  return part;
}

json Choice::full() const {
  return json{{"text", text_},
              {"index", index_},
              {"logprobs", with_logprobs_ ? logprobs_ : json(nullptr)},
              {"finish_reason", finish_reason(finish_)}};
}

}  // namespace gpt2::serve
