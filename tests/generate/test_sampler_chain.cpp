// The sampler chain against an independent reference: every sampler written out
// as its published formula on small vectors, in double precision, with plain
// loops (no libtorch, nothing from the code under test), composed in the
// documented order. Then draws from the chain are checked against that reference
// distribution (chi-square), and rows with different chains in one batch against
// each row sampled alone.
#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <nlohmann/json.hpp>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler.hpp"
#include "gpt2/generate/sampler_table.hpp"

namespace {

using gpt2::SamplingOptions;
using Vec = std::vector<double>;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// ---- the reference ---------------------------------------------------------

Vec softmax(const Vec& l) {
  double m = kNegInf;
  for (double v : l) m = std::max(m, v);
  Vec p(l.size());
  double z = 0;
  for (size_t i = 0; i < l.size(); ++i) z += p[i] = l[i] == kNegInf ? 0.0 : std::exp(l[i] - m);
  for (double& v : p) v /= z;
  return p;
}

// Hugging Face's RepetitionPenaltyLogitsProcessor over the distinct context tokens.
void ref_repetition(Vec& l, const std::vector<int64_t>& context, double r) {
  std::vector<bool> seen(l.size(), false);
  for (int64_t id : context) seen[static_cast<size_t>(id)] = true;
  for (size_t i = 0; i < l.size(); ++i)
    if (seen[i]) l[i] = l[i] > 0 ? l[i] / r : l[i] * r;
}
// OpenAI: mu[j] -> mu[j] - c[j] * alpha_frequency - (c[j] > 0) * alpha_presence.
void ref_presence_frequency(Vec& l, const std::vector<int64_t>& generated, double presence, double frequency) {
  std::map<int64_t, int> c;
  for (int64_t id : generated) ++c[id];
  for (auto [id, n] : c) l[static_cast<size_t>(id)] -= n * frequency + presence;
}
void ref_bias(Vec& l, const gpt2::LogitBias& bias) {
  for (auto [id, b] : bias) l[static_cast<size_t>(id)] = b <= -100 ? kNegInf : l[static_cast<size_t>(id)] + b;
}
// top-k with ties: keep every logit >= the k-th largest.
void ref_top_k(Vec& l, int64_t k) {
  if (k <= 0 || k >= static_cast<int64_t>(l.size())) return;
  Vec s = l;
  std::sort(s.begin(), s.end(), std::greater<double>());
  const double kth = s[static_cast<size_t>(k - 1)];
  for (double& v : l) if (v < kth) v = kNegInf;
}
// The released top_p_logits: sorted descending, cumulative softmax, n = #(cum <= p),
// keep every logit >= the max(n, 1)-th largest.
void ref_top_p(Vec& l, double p) {
  if (p >= 1) return;
  Vec s = l;
  std::sort(s.begin(), s.end(), std::greater<double>());
  const Vec ps = softmax(s);
  double cum = 0;
  size_t n = 0;
  for (double v : ps) if ((cum += v) <= p) ++n;
  const double threshold = s[std::max<size_t>(n, 1) - 1];
  for (double& v : l) if (v < threshold) v = kNegInf;
}
// min-p: keep tokens with probability >= p * the largest probability.
void ref_min_p(Vec& l, double p) {
  if (p <= 0) return;
  const Vec pr = softmax(l);
  const double top = *std::max_element(pr.begin(), pr.end());
  for (size_t i = 0; i < l.size(); ++i) if (pr[i] < p * top) l[i] = kNegInf;
}
// Hugging Face's TypicalLogitsWarper(mass, min_tokens_to_keep = 1).
void ref_typical(Vec& l, double mass) {
  if (mass >= 1) return;
  const Vec pr = softmax(l);
  double h = 0;
  for (double v : pr) if (v > 0) h -= v * std::log(v);
  std::vector<size_t> order(l.size());
  std::iota(order.begin(), order.end(), 0);
  Vec score(l.size());
  for (size_t i = 0; i < l.size(); ++i) score[i] = pr[i] > 0 ? std::abs(-std::log(pr[i]) - h) : INFINITY;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double cum = 0;
  size_t last = 0;
  for (size_t j = 0; j < order.size(); ++j) if ((cum += pr[order[j]]) < mass) last = j + 1;
  last = std::min(last, order.size() - 1);
  const double cut = score[order[last]];
  for (size_t j = 1; j < order.size(); ++j)  // the best-scored token always stays
    if (score[order[j]] > cut) l[order[j]] = kNegInf;
}

Vec reference(Vec l, const SamplingOptions& o, const std::vector<int64_t>& prompt, const std::vector<int64_t>& generated) {
  std::vector<int64_t> context = prompt;
  context.insert(context.end(), generated.begin(), generated.end());
  if (o.repetition_penalty != 1) ref_repetition(l, context, o.repetition_penalty);
  ref_presence_frequency(l, generated, o.presence_penalty, o.frequency_penalty);
  ref_bias(l, o.logit_bias);
  if (o.temperature == 0) {  // greedy: one-hot at the first largest
    Vec d(l.size(), 0.0);
    d[static_cast<size_t>(std::max_element(l.begin(), l.end()) - l.begin())] = 1;
    return d;
  }
  for (double& v : l) v /= o.temperature;
  ref_top_k(l, o.top_k);
  ref_top_p(l, o.top_p);
  ref_min_p(l, o.min_p);
  ref_typical(l, o.typical_p);
  return softmax(l);
}

// ---- the cases ---------------------------------------------------------------

// Logits of float32 values (the chain works on float32 logits; the reference reads
// the same values widened).
const std::vector<float> kLogits = {1.25f, -0.5f, 2.0f, 0.375f, 0.375f, -2.0f, 1.5f, 0.0f, 3.0f, -1.0f};
const std::vector<int64_t> kChainPrompt = {2, 8, 8};
const std::vector<int64_t> kGenerated = {0, 8, 3, 0, 0};

std::vector<std::pair<const char*, SamplingOptions>> cases() {
  std::vector<std::pair<const char*, SamplingOptions>> c;
  SamplingOptions o;
  c.push_back({"plain", o});
  o = {}; o.temperature = 0.7; o.top_k = 4; c.push_back({"T 0.7, top-k 4 (a tie at the 4th)", o});
  o = {}; o.top_p = 0.8; c.push_back({"top-p 0.8", o});
  o = {}; o.temperature = 1.4; o.min_p = 0.2; c.push_back({"T 1.4, min-p 0.2", o});
  o = {}; o.typical_p = 0.6; c.push_back({"typical 0.6", o});
  o = {}; o.repetition_penalty = 1.7; c.push_back({"repetition 1.7", o});
  o = {}; o.presence_penalty = 0.8; o.frequency_penalty = 0.45; c.push_back({"presence 0.8, frequency 0.45", o});
  o = {}; o.logit_bias = {{8, -100}, {5, 2.5}}; c.push_back({"bias: ban 8, +2.5 on 5", o});
  o = {}; o.repetition_penalty = 1.3; o.presence_penalty = -0.5; o.frequency_penalty = 0.2;
  o.logit_bias = {{1, 1.0}}; o.temperature = 0.9; o.top_k = 6; o.top_p = 0.95; o.min_p = 0.05; o.typical_p = 0.9;
  c.push_back({"everything", o});
  o = {}; o.temperature = 0; o.repetition_penalty = 2.0; o.logit_bias = {{2, 0.5}}; c.push_back({"greedy with penalties", o});
  return c;
}

torch::Tensor row_tensor() { return torch::tensor(kLogits).unsqueeze(0); }  // [1, V]

TEST(SamplerChain, DistributionMatchesTheWrittenOutFormulas) {
  const Vec widened(kLogits.begin(), kLogits.end());
  const gpt2::RowHistory h{&kChainPrompt, &kGenerated};
  for (const auto& [name, o] : cases()) {
    gpt2::validate_sampling(o, static_cast<int64_t>(kLogits.size()));
    const Vec want = reference(widened, o, kChainPrompt, kGenerated);
    const torch::Tensor got = gpt2::SamplerChain(o).distribution(row_tensor(), h);  // [V] float64
    ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size())) << name;
    int kept = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double g = got[static_cast<int64_t>(i)].item<double>();
      // The chain works in float32 up to the softmax: 1e-6 relative covers its rounding.
      EXPECT_NEAR(g, want[i], 1e-6 * std::max(1.0, want[i])) << name << ", token " << i;
      EXPECT_EQ(g == 0, want[i] == 0) << name << ": token " << i << " kept by one and not the other";
      kept += want[i] > 0;
    }
    EXPECT_GE(kept, 1) << name;
  }
}

TEST(SamplerChain, EachCaseFiltersSomethingOrChangesTheDistribution) {
  // The cases are not vacuous: each differs from the plain softmax.
  const Vec widened(kLogits.begin(), kLogits.end());
  const Vec plain = softmax(widened);
  for (const auto& [name, o] : cases()) {
    if (std::string(name) == "plain") continue;
    const Vec d = reference(widened, o, kChainPrompt, kGenerated);
    double diff = 0;
    for (size_t i = 0; i < d.size(); ++i) diff += std::abs(d[i] - plain[i]);
    EXPECT_GT(diff, 1e-3) << name;
  }
}

TEST(SamplerChain, DrawsFollowTheReferenceDistribution) {
  const Vec widened(kLogits.begin(), kLogits.end());
  const gpt2::RowHistory h{&kChainPrompt, &kGenerated};
  const int64_t N = 20000;
  for (const auto& [name, o] : cases()) {
    if (o.temperature == 0) continue;
    const Vec want = reference(widened, o, kChainPrompt, kGenerated);
    const gpt2::SamplerChain chain(o);
    std::vector<int64_t> counts(want.size(), 0);
    const torch::Tensor row = row_tensor();
    for (int64_t i = 0; i < N; ++i) {
      gpt2::SampleRng rng(7, static_cast<uint64_t>(i));
      counts[static_cast<size_t>(chain.sample(row, h, rng))]++;
    }
    double chi2 = 0;
    int kept = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == 0) {
        EXPECT_EQ(counts[i], 0) << name << ": filtered-out token " << i << " drawn";
        continue;
      }
      ++kept;
      const double e = want[i] * N, d = static_cast<double>(counts[i]) - e;
      chi2 += d * d / e;
    }
    if (kept < 2) continue;
    // 99.9% quantiles of chi-square, df = kept - 1 (1..9)
    const double crit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88};
    EXPECT_LT(chi2, crit[kept - 1]) << name << ": chi-square " << chi2 << " with " << kept - 1 << " dof";
  }
}

TEST(SamplerChain, RowsWithTheirOwnChainsEqualEachRowAlone) {
  const auto all = cases();
  const int64_t B = static_cast<int64_t>(all.size());
  torch::Tensor logits = torch::randn({B, 40}, torch::TensorOptions().dtype(torch::kFloat32)) * 2;  // [B, 40]
  std::vector<gpt2::SamplerChain> chains;
  for (const auto& c : all) chains.emplace_back(c.second);
  std::vector<const gpt2::SamplerChain*> ptrs;
  for (const auto& c : chains) ptrs.push_back(&c);
  std::vector<gpt2::RowHistory> hist(static_cast<size_t>(B), gpt2::RowHistory{&kChainPrompt, &kGenerated});
  for (uint64_t draw = 0; draw < 20; ++draw) {
    std::vector<gpt2::SampleRng> rngs;
    for (int64_t b = 0; b < B; ++b) rngs.emplace_back(draw, static_cast<uint64_t>(b));
    const std::vector<int64_t> batch = gpt2::sample_tokens(logits, ptrs, rngs, hist);
    for (int64_t b = 0; b < B; ++b) {
      std::vector<gpt2::SampleRng> one{gpt2::SampleRng(draw, static_cast<uint64_t>(b))};
      const auto alone = gpt2::sample_tokens(logits.narrow(0, b, 1), all[static_cast<size_t>(b)].second, one,
                                             {hist[static_cast<size_t>(b)]});
      EXPECT_EQ(batch[static_cast<size_t>(b)], alone[0]) << all[static_cast<size_t>(b)].first << ", draw " << draw;
    }
  }
}

TEST(SamplerTable, SettingsJsonRoundTripsAndNamesKeys) {
  SamplingOptions o;
  o.temperature = 0.5;
  o.top_k = 7;
  o.logit_bias = {{3, -std::numeric_limits<double>::infinity()}, {4, 1.5}};
  const nlohmann::json j = gpt2::sampling_json(o);
  for (const auto& spec : gpt2::sampler_table()) EXPECT_TRUE(j.contains(spec.key)) << spec.key;
  SamplingOptions back;
  gpt2::apply_sampling_json(j, back, 10);
  EXPECT_EQ(gpt2::sampling_json(back), j);
  // OpenAI's logit_bias object form and errors naming the key.
  SamplingOptions b;
  gpt2::apply_sampling_json(nlohmann::json::parse(R"({"logit_bias": {"5": -100}, "top_p": 0.5})"), b, 10);
  EXPECT_EQ(b.logit_bias, (gpt2::LogitBias{{5, -100.0}}));
  EXPECT_EQ(b.top_p, 0.5);
  auto message = [](const char* text) {
    SamplingOptions x;
    try {
      gpt2::apply_sampling_json(nlohmann::json::parse(text), x, 10);
    } catch (const gpt2::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message(R"({"top_p": 1.5})"), "top_p must be in (0, 1] (1 = off), got 1.5");
  EXPECT_EQ(message(R"({"top_k": "x"})"), "top_k must be an integer, got \"x\"");
  EXPECT_EQ(message(R"({"temperature": -1})"), "temperature must be a finite number >= 0 (0 = greedy), got -1");
  EXPECT_EQ(message(R"({"logit_bias": {"12": 1}})"), "logit_bias: token id 12 is outside the vocabulary (0..9)");
}

}  // namespace
