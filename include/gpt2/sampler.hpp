// Token sampling with the released semantics (openai/gpt-2 src/sample.py), per row:
//   logits / temperature -> top-k -> top-p -> one multinomial draw.
// temperature 0 means greedy (argmax, first index on ties). Filters set removed
// logits to -inf. Draws are by inverse CDF over float64 probabilities with a
// per-sample random stream, so results are deterministic and do not depend on
// batch size or on how many samples were drawn before.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace gpt2 {

struct SamplingOptions {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
};

// Throws UsageError (naming the flag) for temperature < 0 or not finite,
// top_k < 0, top_p outside (0, 1].
void validate_sampling(const SamplingOptions& opt);

// logits [B, V] -> [B, V]: every logit below the k-th largest of its row set to
// -inf (ties with the k-th largest are kept). k = 0 or k >= V: unchanged.
torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k);

// logits [B, V] -> [B, V], the released top_p_logits rule: sort the row
// descending, cumulative softmax; n = number of sorted entries whose cumulative
// probability is <= p; keep every logit >= the max(n, 1)-th largest. p >= 1: unchanged.
torch::Tensor top_p_filter(const torch::Tensor& logits, double p);

// temperature (> 0), then top-k, then top-p: logits [B, V] -> filtered [B, V] float32.
torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& opt);

// The distribution a draw follows: softmax of filter_logits, [B, V] float64 on the CPU.
// For temperature 0, one-hot at the greedy token.
torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& opt);

// A sample's own random stream: mt19937_64 seeded from (seed, sample_index)
// through std::seed_seq (both fully specified by the C++ standard, so the
// stream is the same on every platform).
class SampleRng {
 public:
  SampleRng(uint64_t seed, uint64_t sample_index);
  double uniform();  // in [0, 1), 53 random bits

 private:
  std::mt19937_64 gen_;
};

// Inverse CDF: the first index i with probs[0..i] summing to more than
// u * sum(probs), skipping zero entries. probs: n non-negative values, u in [0, 1).
int64_t draw_index(const double* probs, int64_t n, double u);

// index of the largest value (the first one on ties), n > 0.
int64_t argmax_index(const float* values, int64_t n);

// One token per row: logits [B, V] (any device) -> B ids. rngs.size() == B; each
// row uses its own stream (one uniform per call; greedy draws none).
// Throws gpt2::Error if a row's logits are not finite.
std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const SamplingOptions& opt,
                                   std::vector<SampleRng>& rngs);

}  // namespace gpt2
