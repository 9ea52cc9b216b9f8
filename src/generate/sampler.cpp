#include "gpt2/generate/sampler.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler_table.hpp"

namespace gpt2 {

namespace {
constexpr float kRemoved = -std::numeric_limits<float>::infinity();

void check_logits(const torch::Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1)
    throw UsageError("sampler: logits must be [batch, vocab]");
}
}  // namespace

void validate_sampling(const SamplingOptions& opt, int64_t vocab) {
  if (auto problem = sampling_problem(opt, vocab, /*by_key=*/false)) throw UsageError(*problem);
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
  const SamplerChain chain(opt, /*logit_stages=*/false);  // the stages after the temperature
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  std::vector<torch::Tensor> rows;
  for (int64_t b = 0; b < cpu.size(0); ++b) rows.push_back(chain.filtered(cpu.narrow(0, b, 1), {}));
  return torch::cat(rows, 0);  // [B, V]
}

torch::Tensor sampling_distribution(const torch::Tensor& logits, const SamplingOptions& opt) {
  check_logits(logits);
  const SamplerChain chain(opt, /*logit_stages=*/false);
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  std::vector<torch::Tensor> rows;
  for (int64_t b = 0; b < cpu.size(0); ++b) rows.push_back(chain.distribution(cpu.narrow(0, b, 1), {}));
  return torch::stack(rows);  // [B, V]
}

SamplerChain::SamplerChain(const SamplingOptions& options, bool logit_stages) : options_(options) {
  for (const SamplerSpec& spec : sampler_table()) {
    if (spec.phase == SamplerPhase::kFilter && greedy()) continue;
    if (spec.phase == SamplerPhase::kLogits && !logit_stages) continue;
    if (auto stage = spec.stage(options_))
      (spec.phase == SamplerPhase::kLogits ? logit_stages_ : filter_stages_).push_back(std::move(stage));
  }
}
SamplerChain::SamplerChain(SamplerChain&&) noexcept = default;
SamplerChain& SamplerChain::operator=(SamplerChain&&) noexcept = default;
SamplerChain::~SamplerChain() = default;

torch::Tensor SamplerChain::penalised(const torch::Tensor& row, const RowHistory& history) const {
  if (logit_stages_.empty()) return row;
  if (history.prompt == nullptr || history.generated == nullptr)
    throw UsageError("sampler: penalties need the row's history");
  torch::Tensor x = row.clone();  // [1, V]: never modify the caller's logits
  for (const auto& stage : logit_stages_) x = stage->apply(x, history);
  return x;
}

torch::Tensor SamplerChain::filtered(const torch::Tensor& row, const RowHistory& history) const {
  torch::Tensor x = penalised(row, history);  // [1, V]
  for (const auto& stage : filter_stages_) x = stage->apply(x, history);
  return x;
}

torch::Tensor SamplerChain::distribution(const torch::Tensor& row, const RowHistory& history) const {
  check_logits(row);
  if (greedy()) {
    torch::Tensor x = penalised(row.contiguous(), history);  // [1, V]
    torch::Tensor out = torch::zeros({row.size(1)}, torch::kFloat64);  // [V]
    out[argmax_index(x.data_ptr<float>(), x.size(1))] = 1.0;
    return out;
  }
  return torch::softmax(filtered(row.contiguous(), history).to(torch::kFloat64), 1)[0];  // [V]
}

int64_t SamplerChain::sample(const torch::Tensor& row, const RowHistory& history, SampleRng& rng) const {
  const int64_t V = row.size(1);
  if (greedy()) {
    torch::Tensor x = penalised(row, history);  // [1, V]
    return argmax_index(x.data_ptr<float>(), V);
  }
  torch::Tensor probs = torch::softmax(filtered(row, history).to(torch::kFloat64), 1).contiguous();  // [1, V]
  return draw_index(probs.data_ptr<double>(), V, rng.uniform());
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

std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const std::vector<const SamplerChain*>& chains,
                                   std::vector<SampleRng>& rngs, const std::vector<RowHistory>& history) {
  check_logits(logits);
  const int64_t B = logits.size(0);
  if (static_cast<int64_t>(rngs.size()) != B || static_cast<int64_t>(chains.size()) != B)
    throw UsageError("sampler: " + std::to_string(rngs.size()) + " random streams and " +
                     std::to_string(chains.size()) + " chains for " + std::to_string(B) + " rows");
  torch::Tensor cpu = logits.to(torch::kCPU, torch::kFloat32).contiguous();  // [B, V]
  if (!torch::isfinite(cpu).all().item<bool>())
    throw Error("the model produced non-finite logits (NaN or infinity)");
  std::vector<int64_t> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const size_t i = static_cast<size_t>(b);
    const SamplerChain& chain = *chains[i];
    if (chain.needs_history() && history.size() != chains.size())
      throw UsageError("sampler: penalties need every row's history");
    out[i] = chain.sample(cpu.narrow(0, b, 1), chain.needs_history() ? history[i] : RowHistory{}, rngs[i]);
  }
  return out;
}

std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const SamplingOptions& opt,
                                   std::vector<SampleRng>& rngs, const std::vector<RowHistory>& history) {
  check_logits(logits);
  const SamplerChain chain(opt);
  return sample_tokens(logits, std::vector<const SamplerChain*>(static_cast<size_t>(logits.size(0)), &chain), rngs,
                       history);
}

}  // namespace gpt2
