// `gpt2 serve`: an OpenAI-compatible HTTP server (gpt2/serve/server.hpp) in
// front of the continuous-batching engine (gpt2/serve/engine.hpp). The
// listener opens first (/health answers 503 while the model loads); SIGINT or
// SIGTERM stop it gracefully (new requests 503, running ones get --grace
// seconds, exit 0).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/model_options.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/serve/engine.hpp"
#include "gpt2/serve/server.hpp"

namespace gpt2::cli {

namespace {

struct ServeCliOptions {
  ModelCliOptions model;
  serve::ServerOptions server;
  serve::EngineOptions engine;
  std::string api_key_file;
  std::string chat_template;
};

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

// Restores the previous SIGINT/SIGTERM actions when the command ends.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    // A client that hangs up must not kill the server: writes to its socket fail instead.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGPIPE, &old_pipe_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {}, old_pipe_ {};
};

std::string read_key_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw NotFoundError("--api-key-file " + path + ": cannot read it");
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) throw UsageError("--api-key-file " + path + ": the first line is empty");
  return key;
}

void run_serve(ServeCliOptions o, CliIO& io) {
  if (!o.server.api_key.empty() && !o.api_key_file.empty())
    throw UsageError("give either --api-key or --api-key-file, not both");
  if (!o.api_key_file.empty()) o.server.api_key = read_key_file(o.api_key_file);
  if (o.server.api_key.empty())
    if (const char* env = std::getenv("GPT2_API_KEY")) o.server.api_key = env;
  if (o.engine.slots < 1) throw UsageError("--parallel must be at least 1, got " + std::to_string(o.engine.slots));
  if (o.engine.queue < 0) throw UsageError("--queue must be >= 0, got " + std::to_string(o.engine.queue));
  if (o.engine.prefill_chunk < 1)
    throw UsageError("--prefill-chunk must be at least 1, got " + std::to_string(o.engine.prefill_chunk));
  if (o.server.grace_s < 0) throw UsageError("--grace must be >= 0");
  if (!o.chat_template.empty()) o.server.chat_template = serve::ChatTemplate::load(o.chat_template);
  const ModelSpec spec = o.model.spec();
  o.engine.threads = spec.threads;

  StopSignals signals;
  serve::Server server(o.server, io.err);
  const int port = server.bind();
  io.err << "gpt2 serve: listening on http://" << o.server.host << ":" << port
         << (o.server.api_key.empty() ? "" : " (API key required)") << std::endl;
  std::thread http([&server] { server.run(); });
  auto stop_and_join = [&] {
    server.stop();
    http.join();
  };
  LoadedModel loaded;
  std::unique_ptr<serve::Engine> engine;
  try {
    loaded = load_model(spec);
    engine = std::make_unique<serve::Engine>(*loaded.model, loaded.tokenizer, o.engine);
  } catch (...) {
    stop_and_join();
    throw;
  }
  serve::ServedModel served;
  std::filesystem::path dir = loaded.dir;
  if (dir.filename().empty()) dir = dir.parent_path();  // "models/124M/"
  served.names = {dir.filename().string(), o.model.model};
  served.vocab = loaded.tokenizer->vocab_size();
  server.attach(engine.get(), loaded.tokenizer, served);
  io.err << "gpt2 serve: " << loaded.describe() << "; " << o.engine.slots << " slots, model id '"
         << served.names.front() << "'" << std::endl;
  while (g_stop_signal.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  io.err << "gpt2 serve: " << (g_stop_signal.load() == SIGTERM ? "SIGTERM" : "SIGINT")
         << ": stopping (running requests get " << o.server.grace_s << " s)" << std::endl;
  stop_and_join();
  engine.reset();
  io.err << "gpt2 serve: stopped" << std::endl;
}

}  // namespace

void register_serve_command(CLI::App& app, CliIO& io) {
  auto o = std::make_shared<ServeCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server (completions, streaming, log-probs, echo) with continuous batching");
  o->model.add_to(sub);
  o->model.add_kv_cache_to(sub);
  sub->add_option("--host", o->server.host, "Address to listen on")->capture_default_str();
  sub->add_option("--port", o->server.port, "Port to listen on (0: any free port, printed on stderr)")
      ->capture_default_str();
  sub->add_option("--api-key", o->server.api_key,
                  "Require 'Authorization: Bearer KEY' on every route but /health (default: $GPT2_API_KEY)");
  sub->add_option("--api-key-file", o->api_key_file, "Read the API key from the first line of this file");
  sub->add_option("--parallel", o->engine.slots, "Requests decoded together (slots)")->capture_default_str();
  sub->add_option("--queue", o->engine.queue, "Requests waiting for a slot; beyond them 503 with Retry-After")
      ->capture_default_str();
  sub->add_option("--prefill-chunk", o->engine.prefill_chunk,
                  "Prompt tokens read per scheduler step (a long prompt delays running streams by one chunk)")
      ->capture_default_str();
  sub->add_option("--max-body", o->server.max_body, "Largest request body in bytes (larger: 413)")
      ->capture_default_str();
  sub->add_option("--timeout", o->server.timeout_s, "Seconds a connection may take to send or receive data")
      ->capture_default_str();
  sub->add_option("--cors-origin", o->server.cors_origins,
                  "Allow browser requests from this origin (repeatable; '*' for any; CORS off without it)");
  sub->add_option("--chat-template", o->chat_template,
                  "Serve /v1/chat/completions through this template: 'plain' (role-prefixed lines) or a JSON file "
                  "(docs/serve.md); without it chat answers 400");
  sub->add_option("--grace", o->server.grace_s, "On SIGINT/SIGTERM, seconds running requests get to finish")
      ->capture_default_str();
  sub->callback([o, &io] { run_serve(*o, io); });
}

}  // namespace gpt2::cli
