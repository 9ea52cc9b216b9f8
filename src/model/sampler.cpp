#include "gpt2/sampler.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "gpt2/errors.hpp"

namespace gpt2 {

namespace {
constexpr float kRemoved = -std::numeric_limits<float>::infinity();

std::string num(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

void check_logits(const torch::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1)
    throw UsageError("sampler: logits must be [batch, vocab]");
}
}  // namespace

void validate_sampling(const SamplingOptions& opt) {
  if (!std::isfinite(opt.temperature) || opt.temperature < 0)
    throw UsageError("--temperature must be a finite number >= 0 (0 = greedy), got " +
                     num(opt.temperature));
  if (opt.top_k < 0) throw UsageError("--top-k must be >= 0 (0 = off), got " + std::to_string(opt.top_k));
  if (!(opt.top_p > 0 && opt.top_p <= 1))
    throw UsageError("--top-p must be in (0, 1] (1 = off), got " + num(opt.top_p));
}

torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k) {
  check_logits(logits);
  if (k <= 0 || k >= logits.size(1)) return logits;
  torch::Tensor kth = std::get<0>(logits.topk(k, /*dim=*/1)).narrow(1, k - 1, 1);  // [B, 1]
  return logits.masked_fill(logits < kth, kRemoved);                                // [B, V]
}

torch::Tensor top_p_filter(const torch::Tensor& logits, double p) {
  check_logits(logits);
  if (p >= 1.0) return logits;
  torch::Tensor sorted = std::get<0>(logits.sort(/*dim=*/1, /*descending=*/true));   // [B, V]
  torch::Tensor cum = torch::softmax(sorted.to(torch::kFloat64), 1).cumsum(1);       // [B, V]
  torch::Tensor n = (cum <= p).sum(1, /*keepdim=*/true);                             // [B, 1]
  torch::Tensor idx = (n - 1).clamp_min(0);                                          // [B, 1]
  torch::Tensor threshold = sorted.gather(1, idx);                                   // [B, 1]
  return logits.masked_fill(logits < threshold, kRemoved);                           // [B, V]
}

torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& opt) {
  check_logits(logits);
  if (!(opt.temperature > 0)) throw UsageError("filter_logits needs a temperature > 0");
  torch::Tensor x = logits.to(torch::kFloat32) / opt.temperature;  // [B, V]
  x = top_k_filter(x, opt.top_k);                                   // [B, V]
  return top_p_filter(x, opt.top_p);                                // [B, V]
}

torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& opt) {
  check_logits(logits);
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  if (opt.temperature == 0) {
    torch::Tensor out = torch::zeros(cpu.sizes(), torch::kFloat64);         // [B, V]
    for (int64_t b = 0; b < cpu.size(0); ++b)
      out[b][argmax_index(cpu[b].data_ptr<float>(), cpu.size(1))] = 1.0;
    return out;
  }
  return torch::softmax(filter_logits(cpu, opt).to(torch::kFloat64), 1);   // [B, V]
}

SampleRng::SampleRng(uint64_t seed, uint64_t sample_index) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(sample_index), static_cast<uint32_t>(sample_index >> 32),
                    0x67707432u /* "gpt2" */};
  gen_.seed(seq);
}

double SampleRng::uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

int64_t draw_index(const double* probs, int64_t n, double u) {
  double total = 0;
  int64_t last_nonzero = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (probs[i] > 0) {
      total += probs[i];
      last_nonzero = i;
    }
  }
  if (last_nonzero < 0 || !std::isfinite(total)) throw Error("sampler: the distribution has no mass");
  const double target = u * total;
  double cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!(probs[i] > 0)) continue;
    cum += probs[i];
    if (cum > target) return i;
  }
  return last_nonzero;  // rounding left target at the very top
}

int64_t argmax_index(const float* values, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const SamplingOptions& opt,
                                   std::vector<SampleRng>& rngs) {
  check_logits(logits);
  const int64_t B = logits.size(0), V = logits.size(1);
  if (static_cast<int64_t>(rngs.size()) != B)
    throw UsageError("sampler: " + std::to_string(rngs.size()) + " random streams for " +
                     std::to_string(B) + " rows");
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  if (!torch::isfinite(cpu).all().item<bool>())
    throw Error("the model produced non-finite logits (NaN or infinity)");
  std::vector<int64_t> out(static_cast<size_t>(B));
  if (opt.temperature == 0) {
    for (int64_t b = 0; b < B; ++b) out[static_cast<size_t>(b)] = argmax_index(cpu[b].data_ptr<float>(), V);
    return out;
  }
  torch::Tensor probs = torch::softmax(filter_logits(cpu, opt).to(torch::kFloat64), 1).contiguous();  // [B, V]
  const double* p = probs.data_ptr<double>();
  for (int64_t b = 0; b < B; ++b)
    out[static_cast<size_t>(b)] = draw_index(p + b * V, V, rngs[static_cast<size_t>(b)].uniform());
  return out;
}

}  // namespace gpt2
