// `gpt2 serve`'s HTTP layer: OpenAI-compatible routes over cpp-httplib
// (HTTP/1.1, keep-alive), in front of an Engine. Routes:
//   GET  /health             no key needed; 503 until attach(), then {"status":"ok"}
//   GET  /v1/models          the one served model
//   POST /v1/completions     OpenAI's completions (stream, logprobs, echo, n, stop, ...)
//   POST /v1/chat/completions through --chat-template (400 without one)
//   POST /v1/embeddings      mean (or last) final hidden state per input
//   POST /tokenize, /detokenize
//   GET  /metrics            Prometheus text
// Errors are OpenAI error objects: 400 bad request, 401 key, 404 route, 413
// body over max_body, 503 busy (Retry-After) or shutting down / loading.
// Every request is logged as one line on `log`: method, path, status, tokens, ms.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gpt2/serve/engine.hpp"
#include "gpt2/serve/request.hpp"

namespace gpt2::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                 // 0: any free port (bind() returns it)
  std::string api_key;             // empty: no key needed
  int64_t max_body = 1 << 20;      // bytes; larger bodies get 413
  int timeout_s = 600;             // read/write timeout of a connection, and its keep-alive idle time
  std::vector<std::string> cors_origins;  // empty: no CORS headers; "*" allows any origin
  int http_threads = 0;            // connection threads (0: 2 * slots + 8, at least 16)
  double grace_s = 10;             // on stop: how long running requests may finish
  std::optional<ChatTemplate> chat_template;  // none: /v1/chat/completions answers 400
};

// Compares two strings in time that depends on their lengths only.
bool constant_time_equal(const std::string& a, const std::string& b);

class Server {
 public:
  Server(const ServerOptions& options, std::ostream& log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port. Throws Error when it cannot.
  int bind();
  // The model is ready: routes stop answering 503 "loading". The engine and
  // tokenizer must outlive the server.
  void attach(Engine* engine, std::shared_ptr<const Tokenizer> tokenizer, const ServedModel& served);
  // Serves until stop(); returns when every connection is closed.
  void run();
  // Graceful stop (any thread): new requests get 503, running ones get up to
  // grace_s to finish (then are cancelled), then the listener closes.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt2::serve
