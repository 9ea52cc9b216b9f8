#include "gpt2/serve/request.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gpt2/base/errors.hpp"

namespace gpt2::serve {

using nlohmann::json;

ApiError::ApiError(int status, const std::string& message, std::string param, std::string code, std::string type)
    : std::runtime_error(message), status_(status), param_(std::move(param)), code_(std::move(code)),
      type_(std::move(type)) {
  if (type_.empty()) {
    switch (status_) {
      case 401: type_ = "authentication_error"; break;
      case 404: type_ = "not_found_error"; break;
      case 413: type_ = "invalid_request_error"; break;
      case 429:
      case 503: type_ = "server_error"; break;
      default: type_ = status_ >= 500 ? "server_error" : "invalid_request_error";
    }
  }
}

std::string ApiError::body() const {
  json e = {{"message", what()},
            {"type", type_},
            {"param", param_.empty() ? json(nullptr) : json(param_)},
            {"code", code_.empty() ? json(nullptr) : json(code_)}};
  return json{{"error", e}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

ApiError bad(const std::string& param, const std::string& message) {
  return ApiError(400, message, param, "invalid_value");
}

json parse_object(const std::string& body) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number beyond double (1e309)
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
  if (!j.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_json");
  return j;
}

// The member, or nullptr when absent or null.
const json* member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

bool get_bool(const json& j, const char* name, bool def) {
  const json* v = member(j, name);
  if (!v) return def;
  if (!v->is_boolean()) throw bad(name, std::string("'") + name + "' must be a boolean");
  return v->get<bool>();
}

double get_number(const json& j, const char* name, double def, double lo, double hi, bool lo_open = false) {
  const json* v = member(j, name);
  if (!v) return def;
  if (!v->is_number()) throw bad(name, std::string("'") + name + "' must be a number");
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi || (lo_open && x == lo)) {
    const std::string range = (lo_open ? "(" : "[") + json(lo).dump() + ", " + json(hi).dump() + "]";
    throw bad(name, std::string("'") + name + "' must be in " + range + ", got " + v->dump());
  }
  return x;
}

// An integer (an integral float such as 16.0 is accepted).
int64_t as_integer(const json& v, const std::string& name) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw bad(name, "'" + name + "' is too large");
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    const double x = v.get<double>();
    if (std::isfinite(x) && std::floor(x) == x && std::fabs(x) < 9e15) return static_cast<int64_t>(x);
  }
  throw bad(name, "'" + name + "' must be an integer, got " + v.dump());
}

int64_t get_int(const json& j, const char* name, int64_t def, int64_t lo, int64_t hi) {
  const json* v = member(j, name);
  if (!v) return def;
  const int64_t x = as_integer(*v, name);
  if (x < lo || x > hi)
    throw bad(name, std::string("'") + name + "' must be between " + std::to_string(lo) + " and " +
                        std::to_string(hi) + ", got " + std::to_string(x));
  return x;
}

std::vector<TokenId> token_array(const json& a, const ServedModel& served, const std::string& param) {
  std::vector<TokenId> ids;
  for (const json& t : a) {
    if (!t.is_number_integer()) throw bad(param, "'" + param + "' token ids must be integers, got " + t.dump());
    const int64_t id = as_integer(t, param);
    if (id < 0 || id >= served.vocab)
      throw bad(param, "'" + param + "' token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                           std::to_string(served.vocab - 1) + ")");
    ids.push_back(static_cast<TokenId>(id));
  }
  return ids;
}


std::string check_model(const json& j, const ServedModel& served) {
  if (const json* m = member(j, "model")) {
    if (!m->is_string()) throw bad("model", "'model' must be a string");
    const std::string name = m->get<std::string>();
    bool known = false;
    for (const auto& n : served.names) known = known || n == name;
    if (!known)
      throw ApiError(400, "the model '" + name + "' does not exist; this server serves '" +
                              (served.names.empty() ? std::string() : served.names.front()) + "'",
                     "model", "model_not_found");
    return name;
  }
  return served.names.empty() ? std::string() : served.names.front();
}

// A string, strings, token ids, or arrays of token ids (completions' prompt, embeddings' input).
std::vector<std::vector<TokenId>> parse_inputs(const json& j, const char* param, const Tokenizer& tokenizer,
                                               const ServedModel& served) {
  const std::string name = param;
  std::vector<std::vector<TokenId>> out;
  const json* prompt = member(j, param);
  if (!prompt) throw bad(name, "'" + name + "' is required");
  auto text = [&](const std::string& s) {
    std::vector<TokenId> ids = tokenizer.encode(s, true);
    if (ids.empty()) throw bad(name, "an '" + name + "' is empty (it must have at least one token)");
    return ids;
  };
  const std::string shapes =
      "'" + name + "' must be a string, an array of strings, an array of token ids or an array of such arrays";
  if (prompt->is_string()) {
    out.push_back(text(prompt->get<std::string>()));
  } else if (prompt->is_array()) {
    if (prompt->empty()) throw bad(name, "'" + name + "' is an empty array");
    if ((*prompt)[0].is_number()) {
      out.push_back(token_array(*prompt, served, name));
    } else {
      for (const json& e : *prompt) {
        if (e.is_string()) {
          out.push_back(text(e.get<std::string>()));
        } else if (e.is_array()) {
          if (e.empty()) throw bad(name, "an '" + name + "' is an empty array of token ids");
          out.push_back(token_array(e, served, name));
        } else {
          throw bad(name, shapes);
        }
      }
    }
  } else {
    throw bad(name, shapes);
  }
  if (out.size() > 1024) throw bad(name, "at most 1024 inputs per request");
  return out;
}

// Everything but the prompt, shared by completions and chat.
void parse_generation(const json& j, CompletionParams& p, const ServedModel& served, bool chat) {
  if (const json* b = member(j, "best_of"))
    if (as_integer(*b, "best_of") != 1)
      throw ApiError(400, "'best_of' other than 1 is not supported (each choice is one sample; use 'n')", "best_of",
                     "unsupported_parameter");
  if (const json* s = member(j, "suffix"))
    if (!(s->is_string() && s->get<std::string>().empty()))
      throw ApiError(400, "'suffix' is not supported: GPT-2 has no insertion mode", "suffix",
                     "unsupported_parameter");

  p.max_tokens = get_int(j, "max_tokens", p.max_tokens, chat ? 1 : 0, 1 << 20);
  if (chat) p.max_tokens = get_int(j, "max_completion_tokens", p.max_tokens, 1, 1 << 20);
  p.n = get_int(j, "n", 1, 1, 128);
  p.stream = get_bool(j, "stream", false);
  if (const json* so = member(j, "stream_options")) {
    if (!so->is_object()) throw bad("stream_options", "'stream_options' must be an object");
    if (!p.stream) throw bad("stream_options", "'stream_options' is only allowed with 'stream': true");
    p.include_usage = get_bool(*so, "include_usage", false);
  }
  if (chat) {  // chat's shape: logprobs true, top_logprobs 0-20 alternatives per token
    const bool lp = get_bool(j, "logprobs", false);
    const int64_t top = get_int(j, "top_logprobs", 0, 0, 20);
    if (member(j, "top_logprobs") && !lp) throw bad("top_logprobs", "'top_logprobs' needs 'logprobs': true");
    p.logprobs = lp ? top : -1;
    if (get_bool(j, "echo", false)) throw ApiError(400, "'echo' is not supported on /v1/chat/completions; use /v1/completions",
                                          "echo", "unsupported_parameter");
  } else {
    p.logprobs = get_int(j, "logprobs", -1, 0, 5);
    p.echo = get_bool(j, "echo", false);
    p.ranks = get_bool(j, "ranks", false);
    if (p.ranks && p.logprobs < 0) throw bad("ranks", "'ranks' needs 'logprobs' (0-5)");
  }

  if (const json* s = member(j, "stop")) {
    std::vector<std::string> stops;
    if (s->is_string()) {
      stops.push_back(s->get<std::string>());
    } else if (s->is_array()) {
      for (const json& e : *s) {
        if (!e.is_string()) throw bad("stop", "'stop' must be a string or an array of strings");
        stops.push_back(e.get<std::string>());
      }
    } else {
      throw bad("stop", "'stop' must be a string or an array of strings");
    }
    if (stops.size() > 4) throw bad("stop", "'stop' holds at most 4 strings, got " + std::to_string(stops.size()));
    for (auto& st : stops)
      if (!st.empty()) p.stop.push_back(st);
  }

  SamplingOptions& o = p.sampling;
  o.temperature = get_number(j, "temperature", 1.0, 0.0, 2.0);
  o.top_p = get_number(j, "top_p", 1.0, 0.0, 1.0, true);
  o.presence_penalty = get_number(j, "presence_penalty", 0.0, -2.0, 2.0);
  o.frequency_penalty = get_number(j, "frequency_penalty", 0.0, -2.0, 2.0);
  int64_t top_k = get_int(j, "top_k", 0, -1, served.vocab);
  o.top_k = top_k < 0 ? 0 : top_k;  // vLLM's -1 and llama.cpp's 0: off
  o.min_p = get_number(j, "min_p", 0.0, 0.0, 1.0);
  if (o.min_p >= 1.0) throw bad("min_p", "'min_p' must be below 1");
  o.typical_p = get_number(j, "typical_p", 1.0, 0.0, 1.0, true);
  o.repetition_penalty = get_number(j, "repetition_penalty", 1.0, 0.0, 100.0, true);
  if (const json* lb = member(j, "logit_bias")) {
    if (!lb->is_object()) throw bad("logit_bias", "'logit_bias' must be an object of token id -> bias");
    if (lb->size() > 300) throw bad("logit_bias", "'logit_bias' holds at most 300 entries");
    for (auto it = lb->begin(); it != lb->end(); ++it) {
      const std::string& key = it.key();
      int64_t id = -1;
      if (!key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos)
        id = std::stoll(key);
      if (id < 0 || id >= served.vocab)
        throw bad("logit_bias", "'logit_bias' key '" + key + "' is not a token id of the vocabulary");
      if (!it.value().is_number()) throw bad("logit_bias", "'logit_bias' values must be numbers");
      const double v = it.value().get<double>();
      if (!std::isfinite(v) || v < -100 || v > 100)
        throw bad("logit_bias", "'logit_bias' values must be in [-100, 100], got " + it.value().dump());
      o.logit_bias.emplace_back(id, v);
    }
  }
  if (const json* s = member(j, "seed")) p.seed = static_cast<uint64_t>(as_integer(*s, "seed"));
  p.ignore_eos = get_bool(j, "ignore_eos", false);
  if (const json* u = member(j, "user")) {
    if (!u->is_string()) throw bad("user", "'user' must be a string");
    p.user = u->get<std::string>();
  }
  try {
    validate_sampling(o, served.vocab);
  } catch (const UsageError& e) {
    throw bad("", e.what());
  }
}

}  // namespace

CompletionParams parse_completion_request(const std::string& body, const Tokenizer& tokenizer,
                                          const ServedModel& served) {
  const json j = parse_object(body);
  CompletionParams p;
  p.model = check_model(j, served);
  p.prompts = parse_inputs(j, "prompt", tokenizer, served);
  p.max_tokens = 16;
  parse_generation(j, p, served, false);
  return p;
}

ChatTemplate ChatTemplate::plain() {
  ChatTemplate t;
  t.roles = {{"system", "System: "}, {"user", "User: "}, {"assistant", "Assistant: "}};
  t.suffix = "\n";
  t.generation = "Assistant:";
  t.stop = {"\nUser:", "\nSystem:", "\nAssistant:"};
  return t;
}

ChatTemplate ChatTemplate::load(const std::string& spec) {
  if (spec == "plain") return plain();
  std::ifstream in(spec, std::ios::binary);
  if (!in) throw NotFoundError("--chat-template " + spec + ": no such file (or use 'plain')");
  std::stringstream ss;
  ss << in.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const json::parse_error& e) {
    throw UsageError("--chat-template " + spec + ": not valid JSON: " + e.what());
  }
  auto str = [&](const char* k, std::string def) {
    if (!j.contains(k)) return def;
    if (!j[k].is_string()) throw UsageError("--chat-template " + spec + ": '" + k + "' must be a string");
    return j[k].get<std::string>();
  };
  if (!j.is_object() || !j.contains("roles") || !j["roles"].is_object() || j["roles"].empty())
    throw UsageError("--chat-template " + spec + ": needs a 'roles' object (role -> text before its content)");
  ChatTemplate t;
  for (auto it = j["roles"].begin(); it != j["roles"].end(); ++it) {
    if (!it.value().is_string()) throw UsageError("--chat-template " + spec + ": role '" + it.key() + "' must be a string");
    t.roles[it.key()] = it.value().get<std::string>();
  }
  t.prefix = str("prefix", "");
  t.suffix = str("suffix", "\n");
  t.generation = str("generation", "");
  if (j.contains("stop")) {
    if (!j["stop"].is_array()) throw UsageError("--chat-template " + spec + ": 'stop' must be an array of strings");
    for (const json& s : j["stop"]) {
      if (!s.is_string() || s.get<std::string>().empty())
        throw UsageError("--chat-template " + spec + ": 'stop' must hold non-empty strings");
      t.stop.push_back(s.get<std::string>());
    }
  }
  return t;
}

std::string ChatTemplate::render(const std::vector<std::pair<std::string, std::string>>& messages) const {
  std::string out = prefix;
  for (const auto& [role, content] : messages) {
    auto it = roles.find(role);
    if (it == roles.end()) throw bad("messages", "the chat template has no role '" + role + "'");
    out += it->second + content + suffix;
  }
  return out + generation;
}

CompletionParams parse_chat_request(const std::string& body, const Tokenizer& tokenizer, const ServedModel& served,
                                    const ChatTemplate& chat, int64_t n_ctx) {
  const json j = parse_object(body);
  CompletionParams p;
  p.model = check_model(j, served);
  const json* m = member(j, "messages");
  if (!m || !m->is_array() || m->empty()) throw bad("messages", "'messages' must be a non-empty array");
  std::vector<std::pair<std::string, std::string>> messages;
  for (const json& msg : *m) {
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
      throw bad("messages", "each message needs a 'role' string");
    std::string content;
    const json* c = member(msg, "content");
    if (c && c->is_string()) {
      content = c->get<std::string>();
    } else if (c && c->is_array()) {  // content parts: text only
      for (const json& part : *c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
          throw bad("messages", "only text content parts are supported");
        content += part["text"].get<std::string>();
      }
    } else if (c) {
      throw bad("messages", "a message's 'content' must be a string or an array of text parts");
    }
    messages.emplace_back(msg["role"].get<std::string>(), content);
  }
  std::vector<TokenId> prompt = tokenizer.encode(chat.render(messages), false);
  if (prompt.empty()) throw bad("messages", "the rendered conversation is empty");
  p.prompts.push_back(prompt);
  // Default: the rest of the context (at least 1, so that an over-long prompt gets the context error).
  p.max_tokens = std::max<int64_t>(1, n_ctx - static_cast<int64_t>(prompt.size()) + 1);
  parse_generation(j, p, served, true);
  for (const auto& s : chat.stop)
    if (p.stop.size() < 8) p.stop.push_back(s);
  return p;
}

EmbeddingParams parse_embedding_request(const std::string& body, const Tokenizer& tokenizer,
                                        const ServedModel& served) {
  const json j = parse_object(body);
  EmbeddingParams p;
  p.model = check_model(j, served);
  p.inputs = parse_inputs(j, "input", tokenizer, served);
  if (const json* f = member(j, "encoding_format")) {
    if (!f->is_string() || (*f != "float" && *f != "base64"))
      throw bad("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
    p.base64 = *f == "base64";
  }
  if (const json* f = member(j, "pooling")) {
    if (!f->is_string() || (*f != "mean" && *f != "last"))
      throw bad("pooling", "'pooling' must be \"mean\" or \"last\"");
    p.last = *f == "last";
  }
  if (const json* d = member(j, "dimensions"))
    if (!d->is_null()) throw bad("dimensions", "'dimensions' is not supported (GPT-2's hidden size is fixed)");
  if (const json* u = member(j, "user"))
    if (!u->is_string()) throw bad("user", "'user' must be a string");
  return p;
}


TokenizeParams parse_tokenize_request(const std::string& body) {
  const json j = parse_object(body);
  TokenizeParams p;
  const json* c = member(j, "content");
  if (!c || !c->is_string()) throw bad("content", "'content' must be a string");
  p.content = c->get<std::string>();
  p.with_pieces = get_bool(j, "with_pieces", false);
  return p;
}

std::vector<TokenId> parse_detokenize_request(const std::string& body, int64_t vocab) {
  const json j = parse_object(body);
  const json* t = member(j, "tokens");
  if (!t || !t->is_array()) throw bad("tokens", "'tokens' must be an array of token ids");
  ServedModel served;
  served.vocab = vocab;
  return token_array(*t, served, "tokens");
}

}  // namespace gpt2::serve
