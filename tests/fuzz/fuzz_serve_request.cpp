// libFuzzer target: `gpt2 serve`'s request parsers (completions, chat,
// embeddings, tokenize, detokenize) on arbitrary bytes, with the invariants of
// serve_request_check.hpp (valid parameters or ApiError(400) with an OpenAI
// error object; nothing else; the same outcome twice). The same check replays
// the seed corpus and its mutations in CTest (test_serve, ServeRequestCorpus).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "serve_request_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizer = gpt2::Tokenizer::builtin();
  const std::string body(reinterpret_cast<const char*>(data), size);
  const std::string problem = gpt2::serve::fuzz::check_request_body(body, *tokenizer);
  if (!problem.empty()) {
    std::fprintf(stderr, "fuzz_serve_request: %s\n", problem.c_str());
    __builtin_trap();
  }
  return 0;
}
