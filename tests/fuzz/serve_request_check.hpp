// The invariants of `gpt2 serve`'s request parsers (gpt2/serve/request.hpp) on
// arbitrary bytes, shared by the libFuzzer target (fuzz_serve_request.cpp) and
// the CTest replay of the seed corpus and its mutations (tests/serve/test_request.cpp).
//
// Every body goes through all five parsers. Each either returns parameters
// that hold every documented bound, or throws ApiError(400) whose body is an
// OpenAI error object; any other exception is a failure. Parsing the same body
// twice gives the same outcome.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gpt2/generate/sampler.hpp"
#include "gpt2/serve/request.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::serve::fuzz {

inline ServedModel served_model(int64_t vocab) {
  ServedModel s;
  s.names = {"gpt2", "models/gpt2"};
  s.vocab = vocab;
  return s;
}
constexpr int64_t kContext = 1024;

// "" when the ids are a valid prompt for the vocabulary, else what is wrong.
inline std::string check_ids(const std::vector<TokenId>& ids, int64_t vocab, bool allow_empty) {
  if (ids.empty() && !allow_empty) return "an empty token list was accepted";
  for (TokenId id : ids)
    if (id < 0 || id >= vocab) return "token id " + std::to_string(id) + " outside the vocabulary was accepted";
  return "";
}

// "" when the accepted completion/chat parameters hold every bound, else the broken one.
inline std::string check_completion(const CompletionParams& p, int64_t vocab, bool chat) {
  if (p.prompts.empty() || p.prompts.size() > 1024) return "prompt count " + std::to_string(p.prompts.size());
  if (chat && p.prompts.size() != 1) return "a chat request with more than one prompt";
  for (const auto& ids : p.prompts)
    if (std::string e = check_ids(ids, vocab, false); !e.empty()) return e;
  if (p.max_tokens < (chat ? 1 : 0) || p.max_tokens > (1 << 20)) return "max_tokens " + std::to_string(p.max_tokens);
  if (p.n < 1 || p.n > 128) return "n " + std::to_string(p.n);
  if (p.include_usage && !p.stream) return "include_usage without stream";
  if (!chat && (p.logprobs < -1 || p.logprobs > 5)) return "logprobs " + std::to_string(p.logprobs);
  if (chat && (p.logprobs < -1 || p.logprobs > 20)) return "top_logprobs " + std::to_string(p.logprobs);
  if (chat && p.echo) return "echo on chat";
  if (p.ranks && p.logprobs < 0) return "ranks without logprobs";
  if (p.stop.size() > (chat ? 8u : 4u)) return "stop holds " + std::to_string(p.stop.size());
  for (const auto& s : p.stop)
    if (s.empty()) return "an empty stop string was kept";
  const SamplingOptions& o = p.sampling;
  if (!(o.temperature >= 0 && o.temperature <= 2)) return "temperature out of range";
  if (!(o.top_p > 0 && o.top_p <= 1)) return "top_p out of range";
  if (o.top_k < 0 || o.top_k > vocab) return "top_k out of range";
  for (const auto& [id, bias] : o.logit_bias)
    if (id < 0 || id >= vocab || !std::isfinite(bias)) return "a bad logit_bias entry was accepted";
  try {
    validate_sampling(o, vocab);
  } catch (const std::exception& e) {
    return std::string("accepted sampling settings fail validate_sampling: ") + e.what();
  }
  return "";
}

// "" when the thrown ApiError is a 400 with an OpenAI error object, else what is wrong.
inline std::string check_api_error(const ApiError& e) {
  if (e.status() != 400) return "status " + std::to_string(e.status()) + " for a request body";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(e.body());
  } catch (const std::exception&) {
    return "the error body is not JSON";
  }
  const nlohmann::json& err = j.value("error", nlohmann::json());
  if (!err.is_object() || !err.contains("message") || !err["message"].is_string() ||
      err["message"].get<std::string>().empty() || !err.contains("type") || !err["type"].is_string() ||
      !err.contains("param") || !(err["param"].is_null() || err["param"].is_string()) || !err.contains("code") ||
      !(err["code"].is_null() || err["code"].is_string()))
    return "not an OpenAI error object: " + e.body();
  return "";
}

// One parser's outcome as a string ("ok ..." or "error <status> <message>"), so
// that two runs can be compared; `problem` gets the first broken invariant.
template <typename Parse, typename Check>
std::string outcome(const char* name, Parse parse, Check check, std::string& problem) {
  try {
    const auto p = parse();
    const std::string e = check(p);
    if (!e.empty() && problem.empty()) problem = std::string(name) + ": " + e;
    return "ok";
  } catch (const ApiError& e) {
    const std::string bad = check_api_error(e);
    if (!bad.empty() && problem.empty()) problem = std::string(name) + ": " + bad;
    return "error " + std::to_string(e.status()) + " " + e.what();
  } catch (const std::exception& e) {
    if (problem.empty()) problem = std::string(name) + " threw something other than ApiError: " + e.what();
    return "exception";
  }
}

// Runs every parser on `body` (twice); "" when every invariant holds, else the first broken one.
inline std::string check_request_body(const std::string& body, const Tokenizer& tokenizer) {
  const int64_t vocab = tokenizer.vocab_size();
  const ServedModel served = served_model(vocab);
  static const ChatTemplate chat = ChatTemplate::plain();
  std::string problem;
  auto all = [&] {
    std::string o;
    o += outcome(
        "completions", [&] { return parse_completion_request(body, tokenizer, served); },
        [&](const CompletionParams& p) { return check_completion(p, vocab, false); }, problem);
    o += "\n" + outcome(
                    "chat", [&] { return parse_chat_request(body, tokenizer, served, chat, kContext); },
                    [&](const CompletionParams& p) {
                      std::string e = check_completion(p, vocab, true);
                      for (const auto& s : chat.stop)
                        if (e.empty() && std::find(p.stop.begin(), p.stop.end(), s) == p.stop.end())
                          e = "the template's stop string is missing";
                      return e;
                    },
                    problem);
    o += "\n" + outcome(
                    "embeddings", [&] { return parse_embedding_request(body, tokenizer, served); },
                    [&](const EmbeddingParams& p) {
                      if (p.inputs.empty() || p.inputs.size() > 1024) return std::string("input count");
                      for (const auto& ids : p.inputs)
                        if (std::string e = check_ids(ids, vocab, false); !e.empty()) return e;
                      return std::string();
                    },
                    problem);
    o += "\n" + outcome(
                    "tokenize", [&] { return parse_tokenize_request(body); },
                    [&](const TokenizeParams&) { return std::string(); }, problem);
    o += "\n" + outcome(
                    "detokenize", [&] { return parse_detokenize_request(body, vocab); },
                    [&](const std::vector<TokenId>& ids) { return check_ids(ids, vocab, true); }, problem);
    return o;
  };
  const std::string first = all(), second = all();
  if (problem.empty() && first != second) problem = "two parses of the same body differ";
  return problem;
}

}  // namespace gpt2::serve::fuzz
