// Statistical check: sampled frequencies follow the filtered distribution
// (fixed seed, so the result is deterministic; chi-square against the expected counts).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "gpt2/sampler.hpp"

namespace {

struct Case {
  gpt2::SamplingOptions opt;
  const char* name;
};

}  // namespace

TEST(SamplerStats, FrequenciesMatchTheFilteredDistribution) {
  const std::vector<float> logits = {1.2f, -0.3f, 2.0f, 0.4f, 0.4f, -2.0f, 1.5f, 0.0f};
  const int64_t V = static_cast<int64_t>(logits.size());
  const int64_t rows = 2000, steps = 10, N = rows * steps;
  gpt2::SamplingOptions plain, topk, topp, both;
  topk.top_k = 4;
  topk.temperature = 0.8;
  topp.top_p = 0.8;
  both.top_k = 5;
  both.top_p = 0.9;
  both.temperature = 1.3;
  for (const Case& c : {Case{plain, "plain"}, Case{topk, "top-k 4, T 0.8"}, Case{topp, "top-p 0.8"},
                        Case{both, "top-k 5, top-p 0.9, T 1.3"}}) {
    torch::Tensor l = torch::tensor(logits).unsqueeze(0).expand({rows, V}).contiguous();  // [rows, V]
    std::vector<gpt2::SampleRng> rngs;
    rngs.reserve(rows);
    for (int64_t i = 0; i < rows; ++i) rngs.emplace_back(2024, static_cast<uint64_t>(i));
    std::vector<int64_t> counts(static_cast<size_t>(V), 0);
    for (int64_t s = 0; s < steps; ++s)  // each row's stream draws once per step, as in generation
      for (int64_t id : gpt2::sample_tokens(l, c.opt, rngs)) counts[static_cast<size_t>(id)]++;

    torch::Tensor p = gpt2::sampling_distribution(l.narrow(0, 0, 1), c.opt)[0];  // [V]
    double chi2 = 0;
    int kept = 0;
    for (int64_t i = 0; i < V; ++i) {
      const double expected = p[i].item<double>() * N;
      if (expected == 0) {
        EXPECT_EQ(counts[static_cast<size_t>(i)], 0) << c.name << ": filtered-out token " << i << " drawn";
        continue;
      }
      ++kept;
      const double d = static_cast<double>(counts[static_cast<size_t>(i)]) - expected;
      chi2 += d * d / expected;
    }
    ASSERT_GE(kept, 2) << c.name;
    // 99.9% quantiles of chi-square for df = kept - 1 (1..7)
    const double crit[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32};
    EXPECT_LT(chi2, crit[kept - 1]) << c.name << ": chi-square " << chi2 << " with " << kept - 1 << " dof";
  }
}
