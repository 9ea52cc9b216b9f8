// The continuous-batching engine (gpt2/serve/engine.hpp) and the model's
// decode_rows (rows at different cache lengths) on the tiny-ref fixture,
// against its float64 reference (tests/data/tiny-ref/expected.json and
// logits_N.f32, written by an independent numpy forward pass).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "gpt2/model/model_loader.hpp"
#include "gpt2/serve/engine.hpp"
#include "support/test_support.hpp"

using nlohmann::json;
using gpt2::serve::Engine;
using gpt2::serve::EngineEvent;
using gpt2::serve::EngineRequest;
using gpt2::serve::Finish;

namespace {

std::filesystem::path tiny_ref() { return gpt2::test::data_dir() / "tiny-ref"; }

gpt2::LoadedModel& model() {
  static gpt2::LoadedModel m = [] {
    gpt2::ModelSpec spec;
    spec.model = tiny_ref().string();
    spec.device = "cpu";
    return gpt2::load_model(spec);
  }();
  return m;
}

json expected() { return json::parse(gpt2::test::read_file(tiny_ref() / "expected.json")); }

// The reference logits of a case: [positions][V] as float64 (stored as float32).
std::vector<std::vector<double>> ref_logits(const json& c) {
  const int64_t V = 50257;
  std::ifstream in(tiny_ref() / c["logits_file"].get<std::string>(), std::ios::binary);
  std::vector<std::vector<double>> out;
  std::vector<float> row(static_cast<size_t>(V));
  while (in.read(reinterpret_cast<char*>(row.data()), V * 4)) out.emplace_back(row.begin(), row.end());
  return out;
}

// log_softmax(ref)[id] in float64.
double ref_logprob(const std::vector<double>& logits, int64_t id) {
  double mx = -INFINITY, sum = 0;
  for (double v : logits) mx = std::max(mx, v);
  for (double v : logits) sum += std::exp(v - mx);
  return logits[static_cast<size_t>(id)] - mx - std::log(sum);
}

struct Outcome {
  std::vector<EngineEvent> prompt;  // kPrompt events
  std::vector<gpt2::serve::TokenLogprob> tokens;
  std::string text;
  Finish finish = Finish::kError;
  std::string error;
};

Outcome collect(const std::shared_ptr<gpt2::serve::RequestHandle>& h) {
  Outcome o;
  EngineEvent e;
  for (;;) {
    if (!h->next(e, std::chrono::milliseconds(60000))) {
      ADD_FAILURE() << "no event within 60 s";
      return o;
    }
    if (e.kind == EngineEvent::Kind::kPrompt) o.prompt.push_back(e);
    if (e.kind == EngineEvent::Kind::kToken) {
      o.tokens.push_back(e.token);
      o.text += e.text;
    }
    if (e.kind == EngineEvent::Kind::kDone) {
      o.text += e.text;
      o.finish = e.finish;
      o.error = e.error;
      return o;
    }
  }
}

std::vector<int64_t> ids_of(const Outcome& o) {
  std::vector<int64_t> v;
  for (const auto& t : o.tokens) v.push_back(t.id);
  return v;
}

EngineRequest greedy(const std::vector<int64_t>& prompt, int64_t n) {
  EngineRequest r;
  r.prompt.assign(prompt.begin(), prompt.end());
  r.max_tokens = n;
  r.sampling.temperature = 0;
  r.ignore_eos = true;
  return r;
}

}  // namespace

// Three rows at cache lengths 5, 3 and 9 in one fused step: each row's logits
// are the float64 reference's at its own position.
TEST(DecodeRows, RowsAtDifferentLengthsMatchTheFloat64Reference) {
  auto& m = *model().model;
  const json e = expected();
  std::vector<gpt2::KVCache> caches;
  std::vector<int64_t> last;
  std::vector<std::vector<double>> want;
  for (int c = 0; c < 3; ++c) {
    const auto ids = e["cases"][c]["ids"].get<std::vector<int64_t>>();
    caches.push_back(m.make_cache(1, 0));
    torch::Tensor head = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end() - 1), torch::kInt64).view({1, -1});
    m.forward(head, caches.back(), true);
    last.push_back(ids.back());
    want.push_back(ref_logits(e["cases"][c]).at(ids.size() - 1));
  }
  std::vector<gpt2::KVCache*> ptrs;
  for (auto& c : caches) ptrs.push_back(&c);
  torch::Tensor logits = m.decode_rows(last, ptrs);  // [3, V]
  ASSERT_EQ(logits.size(0), 3);
  for (int b = 0; b < 3; ++b) {
    torch::Tensor w = torch::tensor(want[static_cast<size_t>(b)], torch::kFloat64);
    EXPECT_LT((logits[b].to(torch::kFloat64) - w).abs().max().item<double>(), 1e-4) << "row " << b;
    EXPECT_EQ(caches[static_cast<size_t>(b)].length(),
              static_cast<int64_t>(e["cases"][b]["ids"].size())) << "advanced by one";
  }
  // A cache of another batch, or a mismatched count, is refused.
  gpt2::KVCache two = m.make_cache(2, 0);
  EXPECT_THROW(m.decode_rows({1}, {&two}), gpt2::UsageError);
  EXPECT_THROW(m.decode_rows({1, 2}, {ptrs[0]}), gpt2::UsageError);
}

// Greedy continuations of every reference prompt, all at once (4 slots, a
// 5-token prefill chunk): each equals the float64 reference's 20 tokens. The
// last case fills the 64-position context exactly.
TEST(Engine, GreedyContinuationsMatchTheReference) {
  gpt2::serve::EngineOptions opt;
  opt.slots = 4;
  opt.prefill_chunk = 5;
  Engine engine(*model().model, model().tokenizer, opt);
  const json e = expected();
  std::vector<std::shared_ptr<gpt2::serve::RequestHandle>> hs;
  for (const auto& c : e["cases"]) hs.push_back(engine.submit(greedy(c["ids"].get<std::vector<int64_t>>(), 20)));
  for (size_t i = 0; i < hs.size(); ++i) {
    Outcome o = collect(hs[i]);
    EXPECT_EQ(o.finish, Finish::kLength) << o.error;
    EXPECT_EQ(ids_of(o), e["cases"][i]["greedy"].get<std::vector<int64_t>>()) << "case " << i;
  }
  const auto st = engine.stats();
  EXPECT_EQ(st.generated_tokens, 20 * static_cast<int64_t>(hs.size()));
  EXPECT_GT(st.decode_rows, st.decode_steps) << "steps were batched";
}

// Echo: the prompt's log-probs (first none) and the first generated token's
// log-prob and top-5 equal log_softmax of the float64 reference logits.
TEST(Engine, EchoAndTokenLogprobsMatchTheReference) {
  Engine engine(*model().model, model().tokenizer, {});
  const json e = expected();
  for (int c = 0; c < 3; ++c) {
    const auto ids = e["cases"][c]["ids"].get<std::vector<int64_t>>();
    const auto ref = ref_logits(e["cases"][c]);
    EngineRequest r = greedy(ids, 1);
    r.echo_logprobs = true;
    r.logprobs = 5;
    Outcome o = collect(engine.submit(r));
    ASSERT_EQ(o.prompt.size(), 1u);
    const auto& p = o.prompt[0].prompt;
    ASSERT_EQ(p.size(), ids.size());
    EXPECT_TRUE(std::isnan(p[0].logprob));
    for (size_t i = 1; i < ids.size(); ++i) {
      EXPECT_NEAR(p[i].logprob, ref_logprob(ref[i - 1], ids[i]), 2e-4) << "case " << c << " token " << i;
      ASSERT_EQ(p[i].top.size(), 5u);
      EXPECT_NEAR(p[i].top[0].logprob, ref_logprob(ref[i - 1], p[i].top[0].id), 2e-4);
    }
    ASSERT_EQ(o.tokens.size(), 1u);
    const auto& t = o.tokens[0];
    EXPECT_EQ(t.id, e["cases"][c]["greedy"][0].get<int64_t>());
    EXPECT_NEAR(t.logprob, ref_logprob(ref.back(), t.id), 2e-4);
    ASSERT_EQ(t.top.size(), 5u);
    EXPECT_EQ(t.top[0].id, t.id) << "greedy picks the most likely";
    for (size_t j = 0; j < 5; ++j) EXPECT_NEAR(t.top[j].logprob, ref_logprob(ref.back(), t.top[j].id), 2e-4);
    for (size_t j = 1; j < 5; ++j) EXPECT_LE(t.top[j].logprob, t.top[j - 1].logprob);
  }
  // max_tokens 0: the log-likelihood request, nothing generated.
  EngineRequest r = greedy({464, 2068, 7586}, 0);
  r.echo_logprobs = true;
  r.logprobs = 0;
  Outcome o = collect(engine.submit(r));
  EXPECT_EQ(o.prompt.size(), 1u);
  EXPECT_TRUE(o.tokens.empty());
  EXPECT_EQ(o.finish, Finish::kLength);
}

// 16 requests with different settings, all at once in 16 slots, each equal to
// the same request run alone in a 1-slot engine.
TEST(Engine, EachRequestAmongFifteenOthersEqualsItsSoloRun) {
  std::vector<EngineRequest> reqs;
  const std::vector<std::vector<int64_t>> prompts = {
      {15496, 11, 616, 3290, 318, 13779}, {464, 2068, 7586, 21831}, {50256}, {40, 1101, 257, 3797, 11, 290, 314}};
  for (int i = 0; i < 16; ++i) {
    EngineRequest r;
    r.prompt.assign(prompts[static_cast<size_t>(i) % prompts.size()].begin(),
                    prompts[static_cast<size_t>(i) % prompts.size()].end());
    r.max_tokens = 8 + i;
    r.seed = 1000 + static_cast<uint64_t>(i);
    r.sample_index = static_cast<uint64_t>(i % 3);
    r.sampling.temperature = i % 4 == 0 ? 0.0 : 0.7 + 0.1 * (i % 5);
    r.sampling.top_k = i % 3 == 0 ? 40 : 0;
    r.sampling.top_p = i % 5 == 1 ? 0.9 : 1.0;
    r.sampling.min_p = i % 7 == 2 ? 0.05 : 0.0;
    r.sampling.presence_penalty = i % 6 == 3 ? 0.5 : 0.0;
    r.sampling.frequency_penalty = i % 6 == 4 ? 0.3 : 0.0;
    r.sampling.repetition_penalty = i % 8 == 5 ? 1.3 : 1.0;
    if (i == 7) r.sampling.logit_bias = {{13, 5.0}};
    r.ignore_eos = i % 2 == 0;
    r.logprobs = i % 3;
    if (i == 9) r.stop = {"e"};
    reqs.push_back(r);
  }
  std::vector<Outcome> solo;
  {
    gpt2::serve::EngineOptions one;
    one.slots = 1;
    Engine engine(*model().model, model().tokenizer, one);
    for (const auto& r : reqs) solo.push_back(collect(engine.submit(r)));
  }
  gpt2::serve::EngineOptions many;
  many.slots = 16;
  many.prefill_chunk = 128;
  Engine engine(*model().model, model().tokenizer, many);
  std::vector<std::shared_ptr<gpt2::serve::RequestHandle>> hs;
  for (const auto& r : reqs) hs.push_back(engine.submit(r));
  for (size_t i = 0; i < reqs.size(); ++i) {
    Outcome o = collect(hs[i]);
    EXPECT_EQ(ids_of(o), ids_of(solo[i])) << "request " << i;
    EXPECT_EQ(o.text, solo[i].text) << "request " << i;
    EXPECT_EQ(o.finish, solo[i].finish) << "request " << i;
    ASSERT_EQ(o.tokens.size(), solo[i].tokens.size());
    for (size_t t = 0; t < o.tokens.size(); ++t) {
      if (reqs[i].logprobs >= 0) {
        EXPECT_EQ(o.tokens[t].logprob, solo[i].tokens[t].logprob);
      }
      EXPECT_EQ(o.tokens[t].top.size(), static_cast<size_t>(std::max<int64_t>(0, reqs[i].logprobs)));
    }
  }
  EXPECT_EQ(engine.stats().active, 0);
}

// A cancelled request frees its slot: with one slot, the next request runs.
TEST(Engine, CancelFreesTheSlot) {
  gpt2::serve::EngineOptions opt;
  opt.slots = 1;
  Engine engine(*model().model, model().tokenizer, opt);
  auto first = engine.submit(greedy({464}, 63));
  EngineEvent ev;
  ASSERT_TRUE(first->next(ev, std::chrono::milliseconds(60000)));  // it runs
  first->cancel();
  auto second = engine.submit(greedy({464, 2068, 7586, 21831}, 3));
  Outcome a = collect(first), b = collect(second);
  EXPECT_TRUE(a.finish == Finish::kCancelled || a.finish == Finish::kLength);
  EXPECT_EQ(b.finish, Finish::kLength);
  EXPECT_EQ(ids_of(b), (std::vector<int64_t>{26478, 26478, 41474}));
  EXPECT_TRUE(engine.wait_idle(std::chrono::milliseconds(10000)));
  EXPECT_EQ(engine.stats().active, 0);
}

// Beyond the slots and the queue, submit() refuses; after stop_accepting() too.
TEST(Engine, BoundedQueueAndShutdownRefuse) {
  gpt2::serve::EngineOptions opt;
  opt.slots = 1;
  opt.queue = 0;
  Engine engine(*model().model, model().tokenizer, opt);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> entered;
  std::thread blocker([&] {
    engine.run_on_engine([&](gpt2::GPT2Impl&) {
      entered.set_value();
      released.wait();
    });
  });
  entered.get_future().wait();  // the scheduler thread is busy: nothing is admitted
  auto a = engine.submit(greedy({464}, 2));
  EXPECT_THROW(engine.submit(greedy({464}, 2)), gpt2::serve::BusyError);
  release.set_value();
  blocker.join();
  EXPECT_EQ(collect(a).finish, Finish::kLength);
  engine.stop_accepting();
  EXPECT_THROW(engine.submit(greedy({464}, 2)), gpt2::serve::BusyError);
}

// Bad requests are refused before anything runs, naming the numbers.
TEST(Engine, RefusesBadRequests) {
  Engine engine(*model().model, model().tokenizer, {});
  EXPECT_THROW(engine.submit(greedy({}, 2)), gpt2::UsageError);
  EXPECT_THROW(engine.submit(greedy({50257}, 2)), gpt2::UsageError);
  try {
    engine.submit(greedy(std::vector<int64_t>(60, 464), 10));
    ADD_FAILURE() << "no error";
  } catch (const gpt2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("60 tokens"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("69 positions"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("64"), std::string::npos) << e.what();
  }
  EngineRequest r = greedy({464}, 2);
  r.sampling.top_p = 0;
  EXPECT_THROW(engine.submit(r), gpt2::UsageError);
  // 64 prompt tokens with max_tokens 1 fit (the last token is never fed back); 0 too.
  EXPECT_EQ(collect(engine.submit(greedy(std::vector<int64_t>(64, 464), 1))).finish, Finish::kLength);
}
