#include "gpt2/sampler.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
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

void validate_sampling(const SamplingOptions& opt, int64_t vocab) {
  if (!std::isfinite(opt.temperature) || opt.temperature < 0)
    throw UsageError("--temperature must be a finite number >= 0 (0 = greedy), got " +
                     num(opt.temperature));
  if (opt.top_k < 0) throw UsageError("--top-k must be >= 0 (0 = off), got " + std::to_string(opt.top_k));
  if (!(opt.top_p > 0 && opt.top_p <= 1))
    throw UsageError("--top-p must be in (0, 1] (1 = off), got " + num(opt.top_p));
  if (!(opt.repetition_penalty > 0) || !std::isfinite(opt.repetition_penalty))
    throw UsageError("--repetition-penalty must be a finite number > 0 (1 = off), got " + num(opt.repetition_penalty));
  if (!(opt.presence_penalty >= -2 && opt.presence_penalty <= 2))
    throw UsageError("--presence-penalty must be in [-2, 2] (0 = off), got " + num(opt.presence_penalty));
  if (!(opt.frequency_penalty >= -2 && opt.frequency_penalty <= 2))
    throw UsageError("--frequency-penalty must be in [-2, 2] (0 = off), got " + num(opt.frequency_penalty));
  if (!(opt.min_p >= 0 && opt.min_p < 1))
    throw UsageError("--min-p must be in [0, 1) (0 = off), got " + num(opt.min_p));
  if (!(opt.typical_p > 0 && opt.typical_p <= 1))
    throw UsageError("--typical-p must be in (0, 1] (1 = off), got " + num(opt.typical_p));
  for (const auto& [id, bias] : opt.logit_bias) {
    if (std::isnan(bias) || bias == std::numeric_limits<double>::infinity())
      throw UsageError("--logit-bias " + std::to_string(id) + "=" + num(bias) + ": the bias must be a number or -inf");
    if (id < 0 || (vocab > 0 && id >= vocab))
      throw UsageError("--logit-bias: token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                       (vocab > 0 ? std::to_string(vocab - 1) : std::string("n_vocab-1")) + ")");
  }
}

std::pair<int64_t, double> parse_logit_bias(const std::string& s) {
  const size_t eq = s.find('=');
  auto bad = [&] { return UsageError("--logit-bias must be ID=BIAS (e.g. 50256=-inf or 198=2.5), got '" + s + "'"); };
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) throw bad();
  int64_t id = 0;
  double bias = 0;
  try {
    size_t used = 0;
    id = std::stoll(s.substr(0, eq), &used);
    if (used != eq) throw bad();
    const std::string b = s.substr(eq + 1);
    if (b == "-inf" || b == "-infinity") {
      bias = -std::numeric_limits<double>::infinity();
    } else {
      bias = std::stod(b, &used);
      if (used != b.size()) throw bad();
    }
  } catch (const std::logic_error&) {
    throw bad();
  }
  return {id, bias};
}

void apply_repetition_penalty(float* logits, int64_t V, const std::vector<int64_t>& context, double penalty) {
  if (penalty == 1.0) return;
  // Each distinct id once: sort a copy of the (at most n_ctx-long) context rather
  // than allocating a vocabulary-sized table per row and step.
  std::vector<int64_t> ids = context;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int64_t id : ids) {
    if (id < 0 || id >= V) continue;
    float& x = logits[id];
    x = x > 0 ? static_cast<float>(x / penalty) : static_cast<float>(x * penalty);
  }
}

void apply_presence_frequency(float* logits, int64_t V, const std::vector<int64_t>& generated, double presence,
                              double frequency) {
  if (presence == 0.0 && frequency == 0.0) return;
  std::map<int64_t, int64_t> counts;
  for (int64_t id : generated)
    if (id >= 0 && id < V) ++counts[id];
  for (const auto& [id, c] : counts)
    logits[id] = static_cast<float>(logits[id] - presence - frequency * static_cast<double>(c));
}

void apply_logit_bias(float* logits, int64_t V, const std::vector<std::pair<int64_t, double>>& bias) {
  for (const auto& [id, b] : bias) {
    if (id < 0 || id >= V) continue;
    logits[id] = b <= -100 ? kRemoved : static_cast<float>(logits[id] + b);
  }
}

torch::Tensor min_p_filter(const torch::Tensor& logits, double p) {
  check_logits(logits);
  if (p <= 0) return logits;
  torch::Tensor probs = torch::softmax(logits.to(torch::kFloat64), 1);             // [B, V]
  torch::Tensor keep = probs >= probs.amax(1, /*keepdim=*/true) * p;                // [B, V]
  return logits.masked_fill(keep.logical_not(), kRemoved);                          // [B, V]
}

torch::Tensor typical_filter(const torch::Tensor& logits, double p) {
  check_logits(logits);
  if (p >= 1.0) return logits;
  const int64_t V = logits.size(1);
  torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), 1);          // [B, V]
  torch::Tensor prob = logp.exp();                                                  // [B, V]
  torch::Tensor ent = -(logp * prob).nan_to_num(0.0).sum(1, /*keepdim=*/true);      // [B, 1]
  torch::Tensor shifted = (-logp - ent).abs();                                      // [B, V]
  auto [sorted_scores, order] = shifted.sort(1, /*descending=*/false);              // [B, V] each
  torch::Tensor sorted_logits = logits.to(torch::kFloat64).gather(1, order);        // [B, V]
  torch::Tensor cum = torch::softmax(sorted_logits, 1).cumsum(1);                   // [B, V]
  torch::Tensor last = (cum < p).sum(1, /*keepdim=*/true).clamp_max(V - 1);         // [B, 1]
  torch::Tensor remove_sorted = sorted_scores > sorted_scores.gather(1, last);      // [B, V]
  remove_sorted.narrow(1, 0, 1).fill_(false);                                       // keep at least one
  torch::Tensor remove = torch::zeros_like(remove_sorted).scatter(1, order, remove_sorted);  // [B, V]
  return logits.masked_fill(remove, kRemoved);                                      // [B, V]
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
  x = top_p_filter(x, opt.top_p);                                   // [B, V]
  x = min_p_filter(x, opt.min_p);                                   // [B, V]
  return typical_filter(x, opt.typical_p);                          // [B, V]
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
                                   std::vector<SampleRng>& rngs, const std::vector<RowHistory>& history) {
  check_logits(logits);
  const int64_t B = logits.size(0), V = logits.size(1);
  if (static_cast<int64_t>(rngs.size()) != B)
    throw UsageError("sampler: " + std::to_string(rngs.size()) + " random streams for " +
                     std::to_string(B) + " rows");
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  if (!torch::isfinite(cpu).all().item<bool>())
    throw Error("the model produced non-finite logits (NaN or infinity)");
  if (opt.has_penalties()) {
    if (static_cast<int64_t>(history.size()) != B) throw UsageError("sampler: penalties need every row's history");
    if (cpu.data_ptr() == logits.data_ptr()) cpu = cpu.clone();  // never modify the caller's logits
    for (int64_t b = 0; b < B; ++b) {
      float* row = cpu.data_ptr<float>() + b * V;
      const RowHistory& h = history[static_cast<size_t>(b)];
      std::vector<int64_t> context = *h.prompt;
      context.insert(context.end(), h.generated->begin(), h.generated->end());
      apply_repetition_penalty(row, V, context, opt.repetition_penalty);
      apply_presence_frequency(row, V, *h.generated, opt.presence_penalty, opt.frequency_penalty);
      apply_logit_bias(row, V, opt.logit_bias);
    }
  }
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
