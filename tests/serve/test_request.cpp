// Request parsing and validation (gpt2/serve/request.hpp): every field's
// types and ranges, and random byte mutations of valid bodies that must give
// either parameters or an ApiError(400), never another exception.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "gpt2/serve/request.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/serve/server.hpp"
#include "support/test_support.hpp"
#include "fuzz/serve_request_check.hpp"

using gpt2::serve::ApiError;
using gpt2::serve::parse_completion_request;
using nlohmann::json;

namespace {

gpt2::serve::ServedModel served() {
  gpt2::serve::ServedModel s;
  s.names = {"tiny-ref", "tests/data/tiny-ref"};
  return s;
}

gpt2::serve::CompletionParams parse(const json& j) {
  return parse_completion_request(j.dump(), *gpt2::Tokenizer::builtin(), served());
}

std::string param_of(const json& j) {
  try {
    parse(j);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    return e.param().empty() ? "<none>" : e.param();
  }
  return "<accepted>";
}

}  // namespace

TEST(ServeRequest, DefaultsAndEveryField) {
  auto p = parse({{"prompt", "Hello, my dog is cute"}});
  ASSERT_EQ(p.prompts.size(), 1u);
  EXPECT_EQ(p.prompts[0], (std::vector<gpt2::TokenId>{15496, 11, 616, 3290, 318, 13779}));
  EXPECT_EQ(p.model, "tiny-ref");
  EXPECT_EQ(p.max_tokens, 16);
  EXPECT_EQ(p.n, 1);
  EXPECT_EQ(p.logprobs, -1);
  EXPECT_FALSE(p.stream || p.echo || p.seed.has_value());
  EXPECT_EQ(p.sampling.temperature, 1.0);

  p = parse({{"model", "tests/data/tiny-ref"}, {"prompt", {{1, 2}, {3}}}, {"max_tokens", 5.0}, {"n", 3},
             {"stream", true}, {"stream_options", {{"include_usage", true}}}, {"logprobs", 5}, {"echo", true},
             {"stop", {"a", "", "b"}}, {"temperature", 0.5}, {"top_p", 0.9}, {"presence_penalty", -1},
             {"frequency_penalty", 2}, {"logit_bias", {{"50256", -100}, {"13", 2.5}}}, {"seed", 123},
             {"user", "u"}, {"top_k", -1}, {"min_p", 0.05}, {"typical_p", 0.95}, {"repetition_penalty", 1.1},
             {"ignore_eos", true}, {"best_of", 1}, {"suffix", ""}, {"unknown_extension", {1, 2}}});
  EXPECT_EQ(p.prompts, (std::vector<std::vector<gpt2::TokenId>>{{1, 2}, {3}}));
  EXPECT_EQ(p.max_tokens, 5);
  EXPECT_EQ(p.n, 3);
  EXPECT_TRUE(p.stream && p.include_usage && p.echo && p.ignore_eos);
  EXPECT_EQ(p.logprobs, 5);
  EXPECT_EQ(p.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.sampling.top_k, 0);
  EXPECT_EQ(p.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(*p.seed, 123u);
  EXPECT_EQ(p.user, "u");
  p = parse({{"prompt", {"one", "two"}}, {"stop", "x"}});
  EXPECT_EQ(p.prompts.size(), 2u);
  EXPECT_EQ(p.stop, (std::vector<std::string>{"x"}));
}

TEST(ServeRequest, EachBadValueNamesItsParameter) {
  const json ok = {{"prompt", "hi"}};
  auto with = [&](const char* k, const json& v) {
    json j = ok;
    j[k] = v;
    return j;
  };
  EXPECT_EQ(param_of(json::object()), "prompt");
  EXPECT_EQ(param_of(with("prompt", 1)), "prompt");
  EXPECT_EQ(param_of(with("prompt", json::array())), "prompt");
  EXPECT_EQ(param_of(with("prompt", {1, "a"})), "prompt");
  EXPECT_EQ(param_of(with("prompt", {{1}, json::array()})), "prompt");
  EXPECT_EQ(param_of(with("prompt", {50257})), "prompt");
  EXPECT_EQ(param_of(with("prompt", "")), "prompt");
  EXPECT_EQ(param_of(with("prompt", {1.5})), "prompt");
  EXPECT_EQ(param_of(with("model", "other")), "model");
  EXPECT_EQ(param_of(with("model", 3)), "model");
  EXPECT_EQ(param_of(with("max_tokens", 1.5)), "max_tokens");
  EXPECT_EQ(param_of(with("max_tokens", -1)), "max_tokens");
  EXPECT_EQ(param_of(with("n", 129)), "n");
  EXPECT_EQ(param_of(with("stream", 1)), "stream");
  EXPECT_EQ(param_of(with("stream_options", {{"include_usage", true}})), "stream_options");
  EXPECT_EQ(param_of(with("logprobs", -1)), "logprobs");
  EXPECT_EQ(param_of(with("logprobs", true)), "logprobs");
  EXPECT_EQ(param_of(with("echo", "no")), "echo");
  EXPECT_EQ(param_of(with("stop", {1})), "stop");
  EXPECT_EQ(param_of(with("stop", {"1", "2", "3", "4", "5"})), "stop");
  EXPECT_EQ(param_of(with("temperature", -0.1)), "temperature");
  EXPECT_EQ(param_of(with("temperature", "hot")), "temperature");
  EXPECT_EQ(param_of(with("top_p", 0)), "top_p");
  EXPECT_EQ(param_of(with("top_p", 1.01)), "top_p");
  EXPECT_EQ(param_of(with("presence_penalty", -2.01)), "presence_penalty");
  EXPECT_EQ(param_of(with("frequency_penalty", 3)), "frequency_penalty");
  EXPECT_EQ(param_of(with("logit_bias", {{"-1", 1}})), "logit_bias");
  EXPECT_EQ(param_of(with("logit_bias", {{"50257", 1}})), "logit_bias");
  EXPECT_EQ(param_of(with("logit_bias", {{"1", 101}})), "logit_bias");
  EXPECT_EQ(param_of(with("logit_bias", {{"1", "x"}})), "logit_bias");
  EXPECT_EQ(param_of(with("logit_bias", {1})), "logit_bias");
  EXPECT_EQ(param_of(with("seed", "x")), "seed");
  EXPECT_EQ(param_of(with("user", 1)), "user");
  EXPECT_EQ(param_of(with("top_k", -2)), "top_k");
  EXPECT_EQ(param_of(with("min_p", 1)), "min_p");
  EXPECT_EQ(param_of(with("typical_p", 0)), "typical_p");
  EXPECT_EQ(param_of(with("repetition_penalty", 0)), "repetition_penalty");
  EXPECT_EQ(param_of(with("ignore_eos", 0)), "ignore_eos");
  EXPECT_EQ(param_of(with("best_of", 2)), "best_of");
  EXPECT_EQ(param_of(with("suffix", "x")), "suffix");
  // null means "not given"
  EXPECT_EQ(param_of(with("max_tokens", nullptr)), "<accepted>");
  try {
    parse_completion_request("{\"prompt\":", *gpt2::Tokenizer::builtin(), served());
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.code(), "invalid_json");
    const json body = json::parse(e.body());
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(body["error"]["param"].is_null());
  }
}

TEST(ServeRequest, TokenizeAndDetokenize) {
  EXPECT_EQ(gpt2::serve::parse_tokenize_request(R"({"content":"a","with_pieces":true})").content, "a");
  EXPECT_THROW(gpt2::serve::parse_tokenize_request(R"({"content":["a"]})"), ApiError);
  EXPECT_EQ(gpt2::serve::parse_detokenize_request(R"({"tokens":[1,2]})", 10), (std::vector<gpt2::TokenId>{1, 2}));
  EXPECT_THROW(gpt2::serve::parse_detokenize_request(R"({"tokens":[10]})", 10), ApiError);
  EXPECT_THROW(gpt2::serve::parse_detokenize_request(R"({"tokens":"1"})", 10), ApiError);
}

// Random mutations (deterministic seed) of valid bodies: parameters or ApiError, nothing else.
TEST(ServeRequest, MutatedBodiesGiveParametersOrApiError) {
  const std::vector<std::string> seeds = {
      json{{"prompt", "Hello"}, {"max_tokens", 5}, {"logprobs", 2}, {"stop", {"a"}}}.dump(),
      json{{"prompt", {{1, 2}, {3}}}, {"logit_bias", {{"13", 2}}}, {"temperature", 0.5}, {"n", 2}}.dump(),
      json{{"prompt", {"x", "y"}}, {"stream", true}, {"stream_options", {{"include_usage", true}}}}.dump()};
  std::mt19937 gen(12345);
  const std::string alphabet = "{}[]\",:0123456789.-eE truefalsnul\\x\xff\xc3";
  int accepted = 0, refused = 0;
  for (int i = 0; i < 6000; ++i) {
    std::string s = seeds[static_cast<size_t>(i) % seeds.size()];
    const int edits = 1 + static_cast<int>(gen() % 4);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      const size_t at = gen() % s.size();
      switch (gen() % 3) {
        case 0: s[at] = alphabet[gen() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + gen() % 3); break;
        default: s.insert(at, 1, alphabet[gen() % alphabet.size()]);
      }
    }
    try {
      parse_completion_request(s, *gpt2::Tokenizer::builtin(), served());
      ++accepted;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_TRUE(json::accept(e.body())) << s;
      ++refused;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an ApiError: " << e.what() << " for " << s;
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(refused, 0);
}

TEST(ServeRequest, ConstantTimeEqual) {
  EXPECT_TRUE(gpt2::serve::constant_time_equal("abc", "abc"));
  EXPECT_TRUE(gpt2::serve::constant_time_equal("", ""));
  EXPECT_FALSE(gpt2::serve::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(gpt2::serve::constant_time_equal("abc", "ab"));
  EXPECT_FALSE(gpt2::serve::constant_time_equal("", "a"));
}

TEST(ServeRequest, ChatTemplatesRenderAndValidate) {
  const auto plain = gpt2::serve::ChatTemplate::plain();
  EXPECT_EQ(plain.render({{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}}),
            "System: Be brief.\nUser: Hi\nAssistant: Hello.\nUser: Bye\nAssistant:");
  EXPECT_THROW(plain.render({{"tool", "x"}}), ApiError);
  auto p = gpt2::serve::parse_chat_request(
      json{{"messages", {{{"role", "user"}, {"content", {{{"type", "text"}, {"text", "Hi"}}}}}}},
           {"stop", "zz"}}.dump(),
      *gpt2::Tokenizer::builtin(), served(), plain, 64);
  EXPECT_EQ(gpt2::Tokenizer::builtin()->decode(p.prompts[0]), "User: Hi\nAssistant:");
  EXPECT_EQ(p.max_tokens, 64 - static_cast<int64_t>(p.prompts[0].size()) + 1) << "default: the rest of the context";
  EXPECT_EQ(p.stop, (std::vector<std::string>{"zz", "\nUser:", "\nSystem:", "\nAssistant:"}));
  p = gpt2::serve::parse_chat_request(
      json{{"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_completion_tokens", 7}}.dump(),
      *gpt2::Tokenizer::builtin(), served(), plain, 64);
  EXPECT_EQ(p.max_tokens, 7);
  EXPECT_EQ(p.logprobs, -1);
  const json hi = {{{"role", "user"}, {"content", "x"}}};
  p = gpt2::serve::parse_chat_request(json{{"messages", hi}, {"logprobs", true}}.dump(), *gpt2::Tokenizer::builtin(),
                                      served(), plain, 64);
  EXPECT_EQ(p.logprobs, 0) << "logprobs: true alone: the token's own log-prob, no alternatives";
  p = gpt2::serve::parse_chat_request(json{{"messages", hi}, {"logprobs", true}, {"top_logprobs", 20}}.dump(),
                                      *gpt2::Tokenizer::builtin(), served(), plain, 64);
  EXPECT_EQ(p.logprobs, 20);
  for (const json& bad : {json{{"messages", "hi"}}, json{{"messages", {{{"content", "x"}}}}},
                          json{{"messages", {{{"role", "user"}, {"content", 5}}}}},
                          json{{"messages", hi}, {"top_logprobs", 2}},
                          json{{"messages", hi}, {"logprobs", true}, {"top_logprobs", 21}},
                          json{{"messages", hi}, {"logprobs", 1}},
                          json{{"messages", hi}, {"echo", true}},
                          json{{"messages", {{{"role", "user"}, {"content", "x"}}}}, {"max_tokens", 0}}})
    EXPECT_THROW(gpt2::serve::parse_chat_request(bad.dump(), *gpt2::Tokenizer::builtin(), served(), plain, 64),
                 ApiError)
        << bad.dump();

  gpt2::test::TempDir dir("chat-template");
  gpt2::test::write_file(dir / "t.json", R"({"roles": {"user": "Q: ", "assistant": "A: "}, "suffix": "\n",
                                          "generation": "A:", "stop": ["\nQ:"]})");
  const auto file = gpt2::serve::ChatTemplate::load((dir / "t.json").string());
  EXPECT_EQ(file.render({{"user", "2+2?"}}), "Q: 2+2?\nA:");
  EXPECT_EQ(file.stop, (std::vector<std::string>{"\nQ:"}));
  gpt2::test::write_file(dir / "bad.json", R"({"roles": []})");
  EXPECT_THROW(gpt2::serve::ChatTemplate::load((dir / "bad.json").string()), gpt2::UsageError);
  EXPECT_THROW(gpt2::serve::ChatTemplate::load((dir / "none.json").string()), gpt2::NotFoundError);
}

TEST(ServeRequest, Embeddings) {
  auto p = gpt2::serve::parse_embedding_request(R"({"input": ["a b", [1, 2]], "encoding_format": "base64",
                                                   "pooling": "last", "model": "tiny-ref"})",
                                                *gpt2::Tokenizer::builtin(), served());
  EXPECT_EQ(p.inputs.size(), 2u);
  EXPECT_TRUE(p.base64 && p.last);
  EXPECT_THROW(gpt2::serve::parse_embedding_request(R"({"input": "a", "pooling": "max"})",
                                                    *gpt2::Tokenizer::builtin(), served()),
               ApiError);
  EXPECT_THROW(gpt2::serve::parse_embedding_request(R"({"input": "a", "dimensions": 8})",
                                                    *gpt2::Tokenizer::builtin(), served()),
               ApiError);
  EXPECT_THROW(gpt2::serve::parse_embedding_request(R"({})", *gpt2::Tokenizer::builtin(), served()), ApiError);
}

// The fuzz target's invariants (tests/fuzz/serve_request_check.hpp) on every
// file of its seed corpus and 300 deterministic mutations of each (byte edits,
// dictionary tokens, spans duplicated or spliced from another seed): the
// libFuzzer target's check, replayed in CTest within a second or two.
TEST(ServeRequestCorpus, SeedsAndMutationsHoldTheParserInvariants) {
  namespace fs = std::filesystem;
  const fs::path dir = gpt2::test::source_dir() / "tests" / "fuzz" / "corpus" / "serve_request";
  std::vector<std::string> seeds;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    seeds.push_back(gpt2::test::read_file(e.path()));
    names.push_back(e.path().filename().string());
  }
  ASSERT_GE(seeds.size(), 10u) << dir;
  const auto tokenizer = gpt2::Tokenizer::builtin();
  const std::vector<std::string> dict = {"\"prompt\"", "\"messages\"", "\"input\"", "\"tokens\"", "\"logprobs\"",
                                         "\"top_logprobs\"", "\"stop\"", "\"logit_bias\"", "true", "null", "50257",
                                         "-1", "1e308", "[", "]", "{", "}", ",", ":", "\\u0000", "\\ud800", "\xff"};
  std::mt19937 gen(2026);
  int accepted_somewhere = 0;
  for (size_t f = 0; f < seeds.size(); ++f) {
    const std::string problem = gpt2::serve::fuzz::check_request_body(seeds[f], *tokenizer);
    EXPECT_EQ(problem, "") << names[f];
    for (int i = 0; i < 300; ++i) {
      std::string s = seeds[f];
      const int edits = 1 + static_cast<int>(gen() % 4);
      for (int k = 0; k < edits && !s.empty(); ++k) {
        const size_t at = gen() % s.size();
        switch (gen() % 5) {
          case 0: s[at] = static_cast<char>(gen() % 256); break;
          case 1: s.erase(at, 1 + gen() % 4); break;
          case 2: s.insert(at, dict[gen() % dict.size()]); break;
          case 3: s.insert(at, s.substr(at, 1 + gen() % 12)); break;
          default: {
            const std::string& o = seeds[gen() % seeds.size()];
            const size_t from = gen() % o.size();
            s.insert(at, o.substr(from, 1 + gen() % 24));
          }
        }
      }
      const std::string p = gpt2::serve::fuzz::check_request_body(s, *tokenizer);
      EXPECT_EQ(p, "") << names[f] << " mutated to: " << nlohmann::json(s).dump(-1, ' ', true, json::error_handler_t::replace);
      if (p.empty()) {
        try {
          parse_completion_request(s, *tokenizer, gpt2::serve::fuzz::served_model(tokenizer->vocab_size()));
          ++accepted_somewhere;
        } catch (const ApiError&) {
        }
      }
    }
  }
  EXPECT_GT(accepted_somewhere, 0);  // the mutations reach past the JSON parser
}

// The checks themselves catch what they are for.
TEST(ServeRequestCorpus, TheChecksFlagBrokenOutcomes) {
  gpt2::serve::CompletionParams p;
  p.prompts = {{1, 2}};
  EXPECT_EQ(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  p.prompts = {{}};
  EXPECT_NE(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  p.prompts = {{50257}};
  EXPECT_NE(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  p.prompts = {{1}};
  p.sampling.top_p = 0;
  EXPECT_NE(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  p.sampling.top_p = 1;
  p.stop = {""};
  EXPECT_NE(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  p.stop.clear();
  p.logprobs = 6;
  EXPECT_NE(gpt2::serve::fuzz::check_completion(p, 50257, false), "");
  EXPECT_NE(gpt2::serve::fuzz::check_api_error(ApiError(500, "x")), "");
  EXPECT_EQ(gpt2::serve::fuzz::check_api_error(ApiError(400, "x", "prompt")), "");
}
