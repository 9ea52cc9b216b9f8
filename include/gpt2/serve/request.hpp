// Parsing and validating the JSON bodies of `gpt2 serve`'s routes: pure
// functions from a body to typed parameters or an ApiError (no HTTP, no model),
// so they can be unit-tested and fuzzed (tests/fuzz/fuzz_serve_request.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpt2/generate/sampler.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::serve {

// An error as OpenAI's API reports it: HTTP status and
// {"error": {"message", "type", "param", "code"}}.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message, std::string param = "", std::string code = "",
           std::string type = "");
  int status() const { return status_; }
  const std::string& param() const { return param_; }  // "" -> null
  const std::string& code() const { return code_; }    // "" -> null
  const std::string& type() const { return type_; }
  // The JSON body.
  std::string body() const;

 private:
  int status_;
  std::string param_, code_, type_;
};

// What the server answers to, for checking `model`.
struct ServedModel {
  std::vector<std::string> names;  // accepted `model` values; the first is the id /v1/models lists
  int64_t vocab = 50257;           // token ids must be below this
};

// POST /v1/completions, validated. Prompts are tokenized here.
struct CompletionParams {
  std::vector<std::vector<TokenId>> prompts;  // one per prompt (>= 1 token each)
  std::string model;                          // as given (or the served id when absent)
  int64_t max_tokens = 16;
  int64_t n = 1;
  bool stream = false;
  bool include_usage = false;                 // stream_options.include_usage
  int64_t logprobs = -1;                      // -1: none; 0..5 (chat: top_logprobs, 0..20)
  bool echo = false;
  bool ranks = false;                         // extension: logprobs also carry "token_ranks"
  std::vector<std::string> stop;              // at most 4, none empty
  SamplingOptions sampling;
  std::optional<uint64_t> seed;
  bool ignore_eos = false;
  std::string user;
};

// Throws ApiError(400) naming the parameter for malformed JSON, wrong types,
// out-of-range values, an unknown model, best_of other than 1 and suffix.
CompletionParams parse_completion_request(const std::string& body, const Tokenizer& tokenizer,
                                          const ServedModel& served);

// --chat-template: how chat messages become one prompt for a base model.
// `plain`: each message as a role-prefixed line ("System: ...", "User: ...",
// "Assistant: ..."), then "Assistant:" left open; generation stops at the next
// role prefix. A FILE is JSON of the same parts:
//   {"roles": {"system": "System: ", "user": "User: ", "assistant": "Assistant: "},
//    "prefix": "", "suffix": "\n", "generation": "Assistant:",
//    "stop": ["\nUser:", "\nSystem:", "\nAssistant:"]}
struct ChatTemplate {
  std::map<std::string, std::string> roles;  // role -> text before its content
  std::string prefix;                        // before the first message
  std::string suffix = "\n";                 // after each message
  std::string generation;                    // the open assistant turn
  std::vector<std::string> stop;             // added to the request's stop strings

  static ChatTemplate plain();
  // "plain" or a JSON file as above. UsageError/NotFoundError naming --chat-template.
  static ChatTemplate load(const std::string& spec);
  // ApiError(400, param "messages") for a role the template does not know.
  std::string render(const std::vector<std::pair<std::string, std::string>>& messages) const;
};

// POST /v1/chat/completions: `messages` rendered through the template into one
// prompt, then the same parameters as completions (max_tokens or
// max_completion_tokens; default: the rest of the context). `logprobs: true`
// with `top_logprobs` (0-20) sets CompletionParams::logprobs (chat's shape in
// the response); echo is refused (400).
CompletionParams parse_chat_request(const std::string& body, const Tokenizer& tokenizer, const ServedModel& served,
                                    const ChatTemplate& chat, int64_t n_ctx);

// POST /v1/embeddings: `input` as a string, strings, token ids or arrays of them.
struct EmbeddingParams {
  std::vector<std::vector<TokenId>> inputs;
  std::string model;
  bool base64 = false;     // encoding_format "base64" (float32 little-endian), else "float"
  bool last = false;       // pooling "last" (extension), else "mean"
};
EmbeddingParams parse_embedding_request(const std::string& body, const Tokenizer& tokenizer,
                                        const ServedModel& served);

// POST /tokenize {content, with_pieces?} and POST /detokenize {tokens}.
struct TokenizeParams {
  std::string content;
  bool with_pieces = false;
};
TokenizeParams parse_tokenize_request(const std::string& body);
std::vector<TokenId> parse_detokenize_request(const std::string& body, int64_t vocab);

}  // namespace gpt2::serve
