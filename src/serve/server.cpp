#include "gpt2/serve/server.hpp"

#include <httplib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "gpt2/base/errors.hpp"
#include "serve/openai_json.hpp"
#include "serve/playground.hpp"

namespace gpt2::serve {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Every byte of the longer string is looked at, whatever matched before.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

// What the access log and the metrics need of the request a thread is serving
// (cpp-httplib runs a request's routing, content and logger on one thread).
struct RequestInfo {
  Clock::time_point start;
  int64_t tokens = 0;
};
thread_local RequestInfo t_request;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A Prometheus histogram with fixed buckets (seconds).
struct Histogram {
  static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  std::array<int64_t, kBounds.size()> counts{};
  int64_t count = 0;
  double sum = 0;
  void observe(double s) {
    for (size_t i = 0; i < kBounds.size(); ++i)
      if (s <= kBounds[i]) ++counts[i];
    ++count;
    sum += s;
  }
  void write(std::ostream& o, const std::string& name, const std::string& help) const {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " histogram\n";
    for (size_t i = 0; i < kBounds.size(); ++i) o << name << "_bucket{le=\"" << kBounds[i] << "\"} " << counts[i] << "\n";
    o << name << "_bucket{le=\"+Inf\"} " << count << "\n" << name << "_sum " << sum << "\n" << name << "_count " << count << "\n";
  }
};

const std::vector<std::string> kRoutes = {"/", "/health",   "/v1/models", "/v1/completions", "/v1/chat/completions",
                                          "/v1/embeddings", "/tokenize", "/detokenize", "/metrics"};

std::string route_label(const std::string& path) {
  for (const auto& r : kRoutes)
    if (path == r) return r;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

std::string random_id(const char* prefix) {
  static std::mutex mu;
  static std::mt19937_64 gen{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  std::ostringstream s;
  s << prefix << std::hex << gen();
  return s.str();
}

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  std::ostream& log;
  std::mutex log_mu;
  httplib::Server svr;
  std::atomic<Engine*> engine{nullptr};
  std::shared_ptr<const Tokenizer> tok;
  ServedModel served;
  std::atomic<bool> stopping{false};
  std::atomic<bool> run_entered{false}, run_done{false};
  int port = 0;
  // metrics
  std::mutex metrics_mu;
  std::map<std::pair<std::string, int>, int64_t> requests;
  Histogram latency, ttft;

  Impl(const ServerOptions& o, std::ostream& l) : opt(o), log(l) {}

  void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status();
    res.set_content(e.body(), "application/json");
    if (e.status() == 503) res.set_header("Retry-After", "1");
  }

  // 503 while loading or stopping.
  Engine& ready_engine() {
    if (stopping.load()) throw ApiError(503, "the server is shutting down", "", "shutting_down");
    Engine* e = engine.load();
    if (e == nullptr) throw ApiError(503, "the model is loading", "", "loading");
    return *e;
  }

  // Runs a route body, turning every error into OpenAI's error object.
  template <class F>
  void guarded(httplib::Response& res, F&& f) {
    try {
      f();
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const BusyError& e) {
      send_error(res, ApiError(503, e.what(), "", "server_busy"));
    } catch (const UsageError& e) {
      send_error(res, ApiError(400, e.what(), "", "invalid_value"));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what(), "", "internal_error"));
    }
  }

  void setup();
  void completions(const httplib::Request& req, httplib::Response& res, bool chat);
  void embeddings(const httplib::Request& req, httplib::Response& res);
  std::string metrics_text();
};

namespace {

// One completions request in flight: its choices and their engine handles.
struct Completion {
  std::string id, model;
  int64_t created = 0;
  std::vector<Choice> choices;
  std::vector<std::shared_ptr<RequestHandle>> handles;
  std::vector<std::string> echo_texts;  // per choice: the prompt's text when echoing
  int64_t prompt_tokens = 0;
  bool include_usage = false;
  bool chat = false;
  std::vector<bool> role_sent;  // chat streams: the first chunk of a choice carries the role
  Clock::time_point start;
  bool first_token_seen = false;

  void cancel_all() {
    for (auto& h : handles) h->cancel();
  }
  int64_t completion_tokens() const {
    int64_t n = 0;
    for (const auto& c : choices) n += c.completion_tokens();
    return n;
  }
  json usage() const {
    const int64_t c = completion_tokens();
    return json{{"prompt_tokens", prompt_tokens}, {"completion_tokens", c}, {"total_tokens", prompt_tokens + c}};
  }
  bool all_done() const {
    for (const auto& c : choices)
      if (!c.done()) return false;
    return true;
  }
  // Waits for the next event of any unfinished choice (up to `wait`), adds it,
  // and returns (choice index, its chunk part); -1 when none came.
  std::pair<int64_t, json> next(std::chrono::milliseconds wait) {
    EngineEvent e;
    for (int pass = 0; pass < 2; ++pass)
      for (size_t i = 0; i < choices.size(); ++i) {
        if (choices[i].done()) continue;
        // First pass: whatever is ready; second pass: wait on the first unfinished choice.
        if (handles[i]->next(e, pass == 0 ? std::chrono::milliseconds(0) : wait)) {
          return {static_cast<int64_t>(i), choices[i].add(e, echo_texts[i])};
        }
        if (pass == 1) return {-1, nullptr};
      }
    return {-1, nullptr};
  }
  json chunk(const json& choices_part) const {
    json c = {{"id", id}, {"object", chat ? "chat.completion.chunk" : "text_completion"}, {"created", created},
              {"model", model}, {"choices", choices_part}};
    if (include_usage) c["usage"] = nullptr;
    return c;
  }
  // A completion choice part as chat's: {"index", "delta", "logprobs", "finish_reason"}.
  json chat_part(const json& part) {
    const size_t i = part["index"].get<size_t>();
    json delta = json::object();
    if (!role_sent[i]) {
      delta["role"] = "assistant";
      role_sent[i] = true;
    }
    const std::string text = part["text"];
    if (!text.empty() || part["finish_reason"].is_null()) delta["content"] = text;
    return json{{"index", i}, {"delta", delta}, {"logprobs", part["logprobs"]}, {"finish_reason", part["finish_reason"]}};
  }
  json full_choice(const Choice& ch) const {
    json c = ch.full();
    if (!chat) return c;
    return json{{"index", c["index"]},
                {"message", {{"role", "assistant"}, {"content", c["text"]}}},
                {"logprobs", c["logprobs"]},
                {"finish_reason", c["finish_reason"]}};
  }
};

}  // namespace

void Server::Impl::completions(const httplib::Request& req, httplib::Response& res, bool chat) {
  Engine& eng = ready_engine();
  if (chat && !opt.chat_template)
    throw ApiError(400, "this server has no chat template (a base model has none): use /v1/completions, or start "
                        "it with --chat-template plain|FILE", "", "no_chat_template");
  CompletionParams p = chat ? parse_chat_request(req.body, *tok, served, *opt.chat_template, eng.n_ctx())
                            : parse_completion_request(req.body, *tok, served);
  auto c = std::make_shared<Completion>();
  c->chat = chat;
  c->id = random_id(chat ? "chatcmpl-" : "cmpl-");
  c->model = p.model;
  c->created = static_cast<int64_t>(std::time(nullptr));
  c->include_usage = p.include_usage;
  c->start = t_request.start;
  const uint64_t seed = p.seed ? *p.seed : std::random_device{}() * 4294967296ull + std::random_device{}();
  const bool with_logprobs = p.logprobs >= 0;
  try {
    for (size_t pi = 0; pi < p.prompts.size(); ++pi) {
      c->prompt_tokens += static_cast<int64_t>(p.prompts[pi].size());
      const std::string prompt_text = p.echo ? tok->decode(p.prompts[pi]) : std::string();
      for (int64_t j = 0; j < p.n; ++j) {
        EngineRequest r;
        r.prompt.assign(p.prompts[pi].begin(), p.prompts[pi].end());
        r.max_tokens = p.max_tokens;
        r.sampling = p.sampling;
        r.seed = seed;
        r.sample_index = static_cast<uint64_t>(j);
        r.stop = p.stop;
        r.ignore_eos = p.ignore_eos;
        r.logprobs = p.logprobs;
        r.echo_logprobs = p.echo;
        c->choices.emplace_back(tok, static_cast<int64_t>(c->choices.size()), with_logprobs, p.ranks, chat);
        c->echo_texts.push_back(prompt_text);
        c->handles.push_back(eng.submit(std::move(r)));
        c->role_sent.push_back(false);
      }
    }
  } catch (const UsageError& e) {
    c->cancel_all();
    const std::string msg = e.what();
    throw ApiError(400, msg, msg.find("context") != std::string::npos ? "max_tokens" : "", "invalid_value");
  } catch (...) {
    c->cancel_all();
    throw;
  }
  auto first_token = [this, c](int64_t i, const json& part) {
    if (!c->first_token_seen && i >= 0 && part.is_object() && !part["text"].get<std::string>().empty()) {
      c->first_token_seen = true;
      std::lock_guard<std::mutex> lock(metrics_mu);
      ttft.observe(seconds_since(c->start));
    }
  };

  if (!p.stream) {
    while (!c->all_done()) {
      auto [i, part] = c->next(std::chrono::milliseconds(100));
      first_token(i, part);
    }
    for (const auto& ch : c->choices)
      if (ch.finish() == Finish::kError) throw ApiError(500, "generation failed: " + ch.error(), "", "internal_error");
    json choices = json::array();
    for (const auto& ch : c->choices) choices.push_back(c->full_choice(ch));
    json body = {{"id", c->id},
                 {"object", chat ? "chat.completion" : "text_completion"},
                 {"created", c->created},
                 {"model", c->model},
                 {"choices", choices},
                 {"usage", c->usage()}};
    t_request.tokens = c->completion_tokens();
    res.set_content(dump_json(body), "application/json");
    return;
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [c, first_token](size_t, httplib::DataSink& sink) {
       try {
        auto send = [&](const std::string& data) {
          const std::string line = "data: " + data + "\n\n";
          return sink.write(line.data(), line.size());
        };
        while (!c->all_done()) {
          auto [i, part] = c->next(std::chrono::milliseconds(50));
          if (i < 0) continue;
          first_token(i, part);
          const Choice& ch = c->choices[static_cast<size_t>(i)];
          if (ch.done() && ch.finish() == Finish::kError) {
            json err = {{"error", {{"message", "generation failed: " + ch.error()}, {"type", "server_error"},
                                   {"param", nullptr}, {"code", "internal_error"}}}};
            if (!send(dump_json(err))) break;
            continue;
          }
          if (c->chat) {
            if (part["text"].get<std::string>().empty() && part["finish_reason"].is_null() &&
                part["logprobs"].is_null() && c->role_sent[static_cast<size_t>(i)])
              continue;  // nothing new for a chat client (held-back text, no log-probs)
            part = c->chat_part(part);
          }
          if (!send(dump_json(c->chunk(json::array({part}))))) {
            c->cancel_all();  // the client went away: free the slots
            return false;
          }
        }
        t_request.tokens = c->completion_tokens();
        if (c->include_usage) {
          json last = c->chunk(json::array());
          last["usage"] = c->usage();
          if (!send(dump_json(last))) return false;
        }
        if (!send("[DONE]")) return false;
        sink.done();
        return true;
       } catch (const std::exception&) {  // nothing may escape into the HTTP library
        c->cancel_all();
        return false;
       }
      },
      [c](bool success) {
        if (!success) c->cancel_all();
      });
}

namespace {
std::string base64_floats(const std::vector<float>& v) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes(v.size() * 4, '\0');
  for (size_t i = 0; i < v.size(); ++i) {  // float32, little-endian
    uint32_t u;
    std::memcpy(&u, &v[i], 4);
    for (int k = 0; k < 4; ++k) bytes[i * 4 + static_cast<size_t>(k)] = static_cast<char>((u >> (8 * k)) & 0xff);
  }
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[n & 63] : '=';
  }
  return out;
}
}  // namespace

void Server::Impl::embeddings(const httplib::Request& req, httplib::Response& res) {
  Engine& eng = ready_engine();
  const EmbeddingParams p = parse_embedding_request(req.body, *tok, served);
  std::vector<std::vector<float>> vectors;
  try {
    vectors = eng.embed(p.inputs, p.last);
  } catch (const UsageError& e) {
    throw ApiError(400, e.what(), "input", "invalid_value");
  }
  json data = json::array();
  int64_t tokens = 0;
  for (size_t i = 0; i < vectors.size(); ++i) {
    tokens += static_cast<int64_t>(p.inputs[i].size());
    data.push_back({{"object", "embedding"},
                    {"index", i},
                    {"embedding", p.base64 ? json(base64_floats(vectors[i])) : json(vectors[i])}});
  }
  json body = {{"object", "list"},
               {"data", data},
               {"model", p.model},
               {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}};
  res.set_content(dump_json(body), "application/json");
}

std::string Server::Impl::metrics_text() {
  std::ostringstream o;
  Engine* e = engine.load();
  EngineStats st = e ? e->stats() : EngineStats{};
  std::lock_guard<std::mutex> lock(metrics_mu);
  o << "# HELP gpt2_requests_total HTTP requests by route and status.\n# TYPE gpt2_requests_total counter\n";
  for (const auto& [k, n] : requests)
    o << "gpt2_requests_total{route=\"" << k.first << "\",status=\"" << k.second << "\"} " << n << "\n";
  // One Prometheus sample with its HELP and TYPE lines.
  auto metric = [&o](const char* name, const char* type, const char* help, auto value) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
  };
  metric("gpt2_prompt_tokens_total", "counter", "Prompt tokens read into the KV caches.", st.prompt_tokens);
  metric("gpt2_generated_tokens_total", "counter", "Tokens generated.", st.generated_tokens);
  metric("gpt2_decode_steps_total", "counter", "Batched decode steps.", st.decode_steps);
  metric("gpt2_decode_rows_total", "counter", "Rows decoded in those steps (rows / steps = mean batch).",
         st.decode_rows);
  metric("gpt2_requests_active", "gauge", "Requests holding a slot.", st.active);
  metric("gpt2_requests_queued", "gauge", "Requests waiting for a slot.", st.queued);
  metric("gpt2_slots", "gauge", "Slots (--parallel).", st.slots);
  metric("gpt2_slot_occupancy", "gauge", "Fraction of the slots in use.",
         st.slots > 0 ? static_cast<double>(st.active) / static_cast<double>(st.slots) : 0.0);
  latency.write(o, "gpt2_request_duration_seconds", "Time from request to the end of the response.");
  ttft.write(o, "gpt2_time_to_first_token_seconds", "Time from a completion request to its first text.");
  return o.str();
}

void Server::Impl::setup() {
  const int threads = opt.http_threads > 0 ? opt.http_threads : 96;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  svr.set_payload_max_length(static_cast<size_t>(opt.max_body));
  svr.set_read_timeout(opt.timeout_s, 0);
  svr.set_write_timeout(opt.timeout_s, 0);
  svr.set_keep_alive_timeout(std::min<time_t>(5, opt.timeout_s));
  // Streamed chunks are small writes: without TCP_NODELAY, Nagle's algorithm holds
  // each behind the client's delayed ACK of the previous one (up to 40 ms on Linux).
  svr.set_tcp_nodelay(true);

  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request = RequestInfo{Clock::now(), 0};
    if (!opt.cors_origins.empty()) {
      const std::string origin = req.get_header_value("Origin");
      for (const auto& o : opt.cors_origins)
        if (o == "*" || o == origin) {
          res.set_header("Access-Control-Allow-Origin", o == "*" ? "*" : origin);
          res.set_header("Vary", "Origin");
          break;
        }
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Max-Age", "600");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!opt.api_key.empty() && req.path != "/health" && req.path != "/") {  // the page holds no data
      const std::string auth = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      const bool ok = auth.size() > prefix.size() && auth.compare(0, prefix.size(), prefix) == 0 &&
                      constant_time_equal(auth.substr(prefix.size()), opt.api_key);
      if (!ok) {
        send_error(res, ApiError(401,
                                 auth.empty() ? "no API key: send 'Authorization: Bearer KEY'" : "incorrect API key",
                                 "", "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  svr.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404)
      send_error(res, ApiError(404, "no route " + req.method + " " + req.path, "", "not_found"));
    else if (res.status == 413)
      send_error(res, ApiError(413, "the request body is larger than --max-body (" + std::to_string(opt.max_body) +
                                        " bytes)", "", "request_too_large"));
    else
      send_error(res, ApiError(res.status, "HTTP error " + std::to_string(res.status)));
  });

  svr.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    const double s = seconds_since(t_request.start);
    {
      std::lock_guard<std::mutex> lock(metrics_mu);
      requests[{route_label(req.path), res.status}] += 1;
      latency.observe(s);
    }
    std::lock_guard<std::mutex> lock(log_mu);
    log << req.remote_addr << " " << req.method << " " << req.path << " " << res.status << " tokens "
        << t_request.tokens << " " << static_cast<int64_t>(std::llround(s * 1000)) << " ms" << std::endl;
  });

  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (engine.load() == nullptr) {
      res.status = 503;
      res.set_content(R"({"status":"loading"})", "application/json");
    } else if (stopping.load()) {
      res.status = 503;
      res.set_content(R"({"status":"stopping"})", "application/json");
    } else {
      res.set_content(R"({"status":"ok"})", "application/json");
    }
  });
  auto model_json = [this] {
    return json{{"id", served.names.empty() ? std::string() : served.names.front()},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "gpt2"}};
  };
  svr.Get("/v1/models", [this, model_json](const httplib::Request&, httplib::Response& res) {
    guarded(res, [&] {
      ready_engine();
      res.set_content(dump_json(json{{"object", "list"}, {"data", json::array({model_json()})}}), "application/json");
    });
  });
  svr.Get(R"(/v1/models/(.+))", [this, model_json](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      ready_engine();
      const std::string id = req.matches[1];
      for (const auto& n : served.names)
        if (n == id) {
          res.set_content(dump_json(model_json()), "application/json");
          return;
        }
      throw ApiError(404, "the model '" + id + "' does not exist", "model", "model_not_found");
    });
  });
  svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { completions(req, res, false); });
  });
  svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { completions(req, res, true); });
  });
  svr.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] { embeddings(req, res); });
  });
  svr.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      ready_engine();
      const TokenizeParams p = parse_tokenize_request(req.body);
      const std::vector<TokenId> ids = tok->encode(p.content, true);
      json tokens = json::array();
      for (TokenId id : ids) {
        if (p.with_pieces)
          tokens.push_back({{"id", id}, {"piece", tok->token_bytes(id)}});
        else
          tokens.push_back(id);
      }
      res.set_content(dump_json(json{{"tokens", tokens}}), "application/json");
    });
  });
  svr.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    guarded(res, [&] {
      ready_engine();
      const std::vector<TokenId> ids = parse_detokenize_request(req.body, served.vocab);
      res.set_content(dump_json(json{{"content", tok->decode(ids)}}), "application/json");
    });
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(playground_html(), "text/html; charset=utf-8");
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_text(), "text/plain; version=0.0.4");
  });
}

Server::Server(const ServerOptions& options, std::ostream& log) : impl_(std::make_unique<Impl>(options, log)) {
  if (options.max_body < 1) throw UsageError("--max-body must be at least 1 byte");
  if (options.timeout_s < 1) throw UsageError("--timeout must be at least 1 second");
  impl_->setup();
}

Server::~Server() = default;

int Server::bind() {
  const auto& o = impl_->opt;
  if (o.port < 0 || o.port > 65535) throw UsageError("--port must be in 0..65535, got " + std::to_string(o.port));
  int port = o.port;
  if (o.port == 0) {
    port = impl_->svr.bind_to_any_port(o.host);
    if (port < 0) port = 0;
  } else if (!impl_->svr.bind_to_port(o.host, o.port)) {
    port = 0;
  }
  if (port <= 0)
    throw Error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                " (address in use, not an address of this machine, or not permitted)");
  impl_->port = port;
  return port;
}

void Server::attach(Engine* engine, std::shared_ptr<const Tokenizer> tokenizer, const ServedModel& served) {
  impl_->tok = std::move(tokenizer);
  impl_->served = served;
  impl_->engine.store(engine);
}

void Server::run() {
  impl_->run_entered.store(true);
  if (!impl_->stopping.load()) impl_->svr.listen_after_bind();
  impl_->run_done.store(true);
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  if (Engine* e = impl_->engine.load()) {
    e->stop_accepting();
    const auto grace = std::chrono::milliseconds(static_cast<int64_t>(impl_->opt.grace_s * 1000));
    if (!e->wait_idle(grace)) {
      e->cancel_all();
      e->wait_idle(std::chrono::milliseconds(5000));
    }
  }
  // Let the streams write their last chunks before the listener and the connections close.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  if (impl_->run_entered.load()) {  // else run() sees `stopping` and never listens
    while (!impl_->svr.is_running() && !impl_->run_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    impl_->svr.stop();
  }
}

}  // namespace gpt2::serve
