// The samplers users expect, on crafted logits with hand-computed results:
// repetition / presence / frequency penalties, logit bias, min-p, typical-p.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <cmath>
#include <limits>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler.hpp"

namespace {

using namespace gpt2;
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> row_of(const torch::Tensor& t) {
  torch::Tensor c = t.to(torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

// logits = log p for p = [0.5, 0.3, 0.15, 0.05]
torch::Tensor probs_logits() { return torch::tensor({0.5, 0.3, 0.15, 0.05}, torch::kFloat64).log().to(torch::kFloat32).unsqueeze(0); }

std::vector<bool> survivors(const torch::Tensor& filtered) {
  std::vector<bool> k;
  for (float v : row_of(filtered)) k.push_back(v != -kInf);
  return k;
}

TEST(Penalties, RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOnce) {
  std::vector<float> l = {2.0f, -1.0f, 0.5f, 3.0f};
  apply_repetition_penalty(l.data(), 4, {0, 1, 1}, 2.0);
  EXPECT_EQ(l, (std::vector<float>{1.0f, -2.0f, 0.5f, 3.0f}));  // token 1 twice in the context: penalised once
}

TEST(Penalties, PresenceAndFrequencyFollowOpenAIsRule) {
  std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  apply_presence_frequency(l.data(), 4, {2, 2, 3}, 0.5, 0.25);
  EXPECT_FLOAT_EQ(l[0], 1.0f);
  EXPECT_FLOAT_EQ(l[2], 1.0f - 0.5f - 2 * 0.25f);
  EXPECT_FLOAT_EQ(l[3], 1.0f - 0.5f - 1 * 0.25f);
}

TEST(Penalties, LogitBiasAddsOrBans) {
  std::vector<float> l = {1.0f, 1.0f, 1.0f, 1.0f};
  apply_logit_bias(l.data(), 4, {{1, 5.0}, {3, -std::numeric_limits<double>::infinity()}, {0, -100.0}, {2, -99.0}});
  EXPECT_EQ(l[0], -kInf);
  EXPECT_FLOAT_EQ(l[1], 6.0f);
  EXPECT_FLOAT_EQ(l[2], -98.0f);
  EXPECT_EQ(l[3], -kInf);
  EXPECT_EQ(parse_logit_bias("50256=-inf"), (std::pair<int64_t, double>{50256, -std::numeric_limits<double>::infinity()}));
  EXPECT_EQ(parse_logit_bias("198=2.5"), (std::pair<int64_t, double>{198, 2.5}));
  for (const char* bad : {"198", "=1", "198=", "x=1", "1=abc", "1=2x"}) EXPECT_THROW(parse_logit_bias(bad), UsageError) << bad;
}

TEST(Filters, MinPKeepsTokensAboveAFractionOfTheTopProbability) {
  EXPECT_EQ(survivors(min_p_filter(probs_logits(), 0.2)), (std::vector<bool>{true, true, true, false}));   // >= 0.1
  EXPECT_EQ(survivors(min_p_filter(probs_logits(), 0.5)), (std::vector<bool>{true, true, false, false}));  // >= 0.25
  EXPECT_EQ(survivors(min_p_filter(probs_logits(), 0.0)), (std::vector<bool>{true, true, true, true}));
}

// Entropy H = 1.1422 nats; |-log p - H| = [0.449, 0.062, 0.755, 1.854]; in that
// order the tokens are 1, 0, 2, 3 with cumulative mass 0.3, 0.8, 0.95, 1.0.
TEST(Filters, TypicalPAsHuggingFacesWarper) {
  EXPECT_EQ(survivors(typical_filter(probs_logits(), 0.5)), (std::vector<bool>{true, true, false, false}));
  EXPECT_EQ(survivors(typical_filter(probs_logits(), 0.9)), (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(survivors(typical_filter(probs_logits(), 0.2)), (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(survivors(typical_filter(probs_logits(), 1.0)), (std::vector<bool>{true, true, true, true}));
}

TEST(Filters, PenaltiesChangeGreedyChoices) {
  torch::Tensor logits = torch::tensor({{1.0f, 3.0f, 2.5f}});  // greedy: 1
  std::vector<SampleRng> rngs = {SampleRng(1, 0)};
  std::vector<int64_t> prompt = {0}, generated = {1};
  SamplingOptions opt;
  opt.temperature = 0;
  EXPECT_EQ(sample_tokens(logits, opt, rngs)[0], 1);
  opt.repetition_penalty = 1.5;  // 3 / 1.5 = 2 < 2.5
  EXPECT_EQ(sample_tokens(logits, opt, rngs, {{&prompt, &generated}})[0], 2);
  opt.repetition_penalty = 1.0;
  opt.logit_bias = {{1, -100}, {2, -100}};
  EXPECT_EQ(sample_tokens(logits, opt, rngs, {{&prompt, &generated}})[0], 0);
  EXPECT_FLOAT_EQ(logits[0][1].item<float>(), 3.0f);  // the caller's logits are left alone
}

TEST(Filters, RangesAreChecked) {
  auto bad = [](auto set) {
    SamplingOptions o;
    set(o);
    EXPECT_THROW(validate_sampling(o, 100), UsageError);
  };
  bad([](SamplingOptions& o) { o.repetition_penalty = 0; });
  bad([](SamplingOptions& o) { o.presence_penalty = 2.5; });
  bad([](SamplingOptions& o) { o.frequency_penalty = -3; });
  bad([](SamplingOptions& o) { o.min_p = 1.0; });
  bad([](SamplingOptions& o) { o.typical_p = 0; });
  bad([](SamplingOptions& o) { o.logit_bias = {{100, 1.0}}; });  // outside the vocabulary
  bad([](SamplingOptions& o) { o.logit_bias = {{1, std::nan("")}}; });
  SamplingOptions ok;
  ok.logit_bias = {{99, -std::numeric_limits<double>::infinity()}};
  EXPECT_NO_THROW(validate_sampling(ok, 100));
}

}  // namespace
