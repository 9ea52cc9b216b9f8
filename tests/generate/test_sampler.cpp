// Sampler: the released top-k / top-p rules on crafted distributions,
// temperature, greedy, the inverse-CDF draw and the per-sample random streams.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler.hpp"

using gpt2::SampleRng;
using gpt2::SamplingOptions;

namespace {

torch::Tensor row(std::vector<float> v) {
  return torch::tensor(v, torch::kFloat32).unsqueeze(0);  // [1, V]
}

// which entries of a [1, V] filtered row survived
std::vector<bool> kept(const torch::Tensor& filtered) {
  std::vector<bool> k;
  for (int64_t i = 0; i < filtered.size(1); ++i) k.push_back(std::isfinite(filtered[0][i].item<float>()));
  return k;
}

torch::Tensor log_probs(std::vector<double> p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return row(l);
}

}  // namespace

TEST(Sampler, TopKKeepsTiesWithTheKthLargest) {
  torch::Tensor l = row({5, 4, 1, 4, 4, 0});
  EXPECT_EQ(kept(gpt2::top_k_filter(l, 1)), (std::vector<bool>{1, 0, 0, 0, 0, 0}));
  // the 2nd largest is 4, shared by three tokens: all of them stay
  EXPECT_EQ(kept(gpt2::top_k_filter(l, 2)), (std::vector<bool>{1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(kept(gpt2::top_k_filter(l, 4)), (std::vector<bool>{1, 1, 0, 1, 1, 0}));
  EXPECT_EQ(kept(gpt2::top_k_filter(l, 5)), (std::vector<bool>{1, 1, 1, 1, 1, 0}));
  EXPECT_TRUE(torch::equal(gpt2::top_k_filter(l, 0), l));  // off
  EXPECT_TRUE(torch::equal(gpt2::top_k_filter(l, 6), l));
  EXPECT_TRUE(torch::equal(gpt2::top_k_filter(l, 100), l));
  // surviving logits are unchanged
  EXPECT_EQ(gpt2::top_k_filter(l, 2)[0][1].item<float>(), 4.0f);
}

TEST(Sampler, TopKIsPerRow) {
  torch::Tensor l = torch::tensor({1.f, 2.f, 3.f, 3.f, 2.f, 1.f}).view({2, 3});  // [2, 3]
  torch::Tensor f = gpt2::top_k_filter(l, 1);
  EXPECT_TRUE(std::isinf(f[0][0].item<float>()));
  EXPECT_EQ(f[0][2].item<float>(), 3.f);
  EXPECT_EQ(f[1][0].item<float>(), 3.f);
  EXPECT_TRUE(std::isinf(f[1][2].item<float>()));
}

TEST(Sampler, TopPReleasedBoundaryRule) {
  // probabilities 0.5, 0.3, 0.15, 0.05 (in shuffled order)
  torch::Tensor l = log_probs({0.15, 0.5, 0.05, 0.3});
  // cumulative: 0.5, 0.8, 0.95, 1.0
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.49)), (std::vector<bool>{0, 1, 0, 0}));  // none <= p: keep one
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.51)), (std::vector<bool>{0, 1, 0, 0}));  // 0.5 <= p
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.79)), (std::vector<bool>{0, 1, 0, 0}));  // 0.8 > p
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.81)), (std::vector<bool>{0, 1, 0, 1}));
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.96)), (std::vector<bool>{1, 1, 0, 1}));
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.9999)), (std::vector<bool>{1, 1, 0, 1}));  // not all: 1.0 > p
  EXPECT_TRUE(torch::equal(gpt2::top_p_filter(l, 1.0), l));                          // off
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 1e-9)), (std::vector<bool>{0, 1, 0, 0}));
}

TEST(Sampler, TopPKeepsTiesWithTheThreshold) {
  // two equally likely top tokens (0.4 each): with p = 0.3 the released rule keeps
  // the 1st largest value, and both tokens share it
  torch::Tensor l = log_probs({0.4, 0.1, 0.4, 0.1});
  EXPECT_EQ(kept(gpt2::top_p_filter(l, 0.3)), (std::vector<bool>{1, 0, 1, 0}));
}

TEST(Sampler, FilterOrderIsTemperatureTopKTopP) {
  // After top-k 3 of {0.5, 0.3, 0.15, 0.05} the renormalised probabilities are
  // 0.526, 0.316, 0.158; top-p 0.85 then keeps 2 (cumulative 0.842 <= 0.85).
  // Without top-k first it would keep only 1 (0.8 <= 0.85 < 0.95 keeps 2: same),
  // so use p = 0.84: with top-k first 0.842 > 0.84 keeps 1; without, 0.8 <= 0.84 keeps 2.
  torch::Tensor l = log_probs({0.5, 0.3, 0.15, 0.05});
  SamplingOptions o;
  o.top_k = 3;
  o.top_p = 0.84;
  EXPECT_EQ(kept(gpt2::filter_logits(l, o)), (std::vector<bool>{1, 0, 0, 0}));
  o.top_k = 0;
  EXPECT_EQ(kept(gpt2::filter_logits(l, o)), (std::vector<bool>{1, 1, 0, 0}));
}

TEST(Sampler, TemperatureScalesLogits) {
  torch::Tensor l = row({2, -4, 1});
  SamplingOptions o;
  o.temperature = 2;
  torch::Tensor f = gpt2::filter_logits(l, o);
  EXPECT_FLOAT_EQ(f[0][0].item<float>(), 1.f);
  EXPECT_FLOAT_EQ(f[0][1].item<float>(), -2.f);
  // low temperature sharpens, high flattens
  o.temperature = 0.1;
  EXPECT_GT(gpt2::sampling_distribution(l, o)[0][0].item<double>(), 0.9999);
  o.temperature = 100;
  auto p = gpt2::sampling_distribution(l, o);
  EXPECT_NEAR(p[0][0].item<double>(), 1.0 / 3, 0.02);
  EXPECT_NEAR(p.sum().item<double>(), 1.0, 1e-12);
}

TEST(Sampler, GreedyTakesTheFirstLargest) {
  SamplingOptions o;
  o.temperature = 0;
  std::vector<SampleRng> rngs{SampleRng(1, 0), SampleRng(1, 1)};
  torch::Tensor l = torch::tensor({0.f, 3.f, 1.f, 3.f, 9.f, 2.f, 9.f, 0.f}).view({2, 4});  // [2, 4]
  auto ids = gpt2::sample_tokens(l, o, rngs);
  EXPECT_EQ(ids, (std::vector<int64_t>{1, 0}));
  auto d = gpt2::sampling_distribution(l, o);
  EXPECT_EQ(d[0][1].item<double>(), 1.0);
  EXPECT_EQ(d.sum().item<double>(), 2.0);
}

TEST(Sampler, DrawIndexIsAnInverseCdf) {
  const double p[] = {0.0, 0.25, 0.0, 0.75, 0.0};
  EXPECT_EQ(gpt2::draw_index(p, 5, 0.0), 1);
  EXPECT_EQ(gpt2::draw_index(p, 5, 0.2499), 1);
  EXPECT_EQ(gpt2::draw_index(p, 5, 0.25), 3);
  EXPECT_EQ(gpt2::draw_index(p, 5, 0.9999999999), 3);
  const double unnormalised[] = {2.0, 6.0};
  EXPECT_EQ(gpt2::draw_index(unnormalised, 2, 0.24), 0);
  EXPECT_EQ(gpt2::draw_index(unnormalised, 2, 0.26), 1);
  const double none[] = {0.0, 0.0};
  EXPECT_THROW(gpt2::draw_index(none, 2, 0.5), gpt2::Error);
}

TEST(Sampler, RandomStreamsAreReproducibleAndIndependent) {
  SampleRng a(42, 7), b(42, 7), c(42, 8), d(43, 7);
  std::vector<double> va, vb, vc, vd;
  for (int i = 0; i < 100; ++i) {
    va.push_back(a.uniform());
    vb.push_back(b.uniform());
    vc.push_back(c.uniform());
    vd.push_back(d.uniform());
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  EXPECT_NE(va, vd);
  for (double u : va) {
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(Sampler, RowsDoNotDependOnBatching) {
  torch::manual_seed(3);
  torch::Tensor l = torch::randn({4, 50});  // [4, 50]
  SamplingOptions o;
  o.top_k = 20;
  o.top_p = 0.9;
  std::vector<SampleRng> batch;
  for (uint64_t i = 0; i < 4; ++i) batch.emplace_back(99, 10 + i);
  std::vector<int64_t> together;
  for (int step = 0; step < 5; ++step) {
    auto ids = gpt2::sample_tokens(l, o, batch);
    together.insert(together.end(), ids.begin(), ids.end());
  }
  for (int64_t r = 0; r < 4; ++r) {
    std::vector<SampleRng> one{SampleRng(99, 10 + static_cast<uint64_t>(r))};
    for (int step = 0; step < 5; ++step) {
      auto ids = gpt2::sample_tokens(l.narrow(0, r, 1), o, one);
      EXPECT_EQ(ids[0], together[static_cast<size_t>(step * 4 + r)]) << "row " << r << " step " << step;
    }
  }
}

TEST(Sampler, RejectsNonFiniteLogitsAndBadOptions) {
  std::vector<SampleRng> rngs{SampleRng(1, 0)};
  SamplingOptions o;
  EXPECT_THROW(gpt2::sample_tokens(row({1.f, std::nanf("")}), o, rngs), gpt2::Error);
  EXPECT_THROW(gpt2::sample_tokens(torch::zeros({2, 3}), o, rngs), gpt2::UsageError);  // 2 rows, 1 stream
  auto bad = [](double t, int64_t k, double p) {
    SamplingOptions s;
    s.temperature = t;
    s.top_k = k;
    s.top_p = p;
    return s;
  };
  EXPECT_NO_THROW(gpt2::validate_sampling(bad(0, 0, 1)));
  EXPECT_NO_THROW(gpt2::validate_sampling(bad(0.7, 40, 0.9)));
  EXPECT_THROW(gpt2::validate_sampling(bad(-1, 0, 1)), gpt2::UsageError);
  EXPECT_THROW(gpt2::validate_sampling(bad(std::numeric_limits<double>::infinity(), 0, 1)), gpt2::UsageError);
  EXPECT_THROW(gpt2::validate_sampling(bad(1, -1, 1)), gpt2::UsageError);
  EXPECT_THROW(gpt2::validate_sampling(bad(1, 0, 0)), gpt2::UsageError);
  EXPECT_THROW(gpt2::validate_sampling(bad(1, 0, 1.5)), gpt2::UsageError);
}
