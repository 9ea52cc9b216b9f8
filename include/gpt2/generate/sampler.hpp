// Token sampling with the released semantics (openai/gpt-2 src/sample.py), per row:
//   logits / temperature -> top-k -> top-p -> one multinomial draw,
// extended by the samplers users expect (all off by default), in this order:
//   repetition penalty -> presence/frequency penalties -> logit bias   (on the raw
//   logits, so they change greedy decoding too)
//   -> / temperature -> top-k -> top-p -> min-p -> typical-p -> draw.
// temperature 0 means greedy (argmax of the penalised logits, first index on
// ties). Filters set removed logits to -inf. Draws are by inverse CDF over float64 probabilities with a
// per-sample random stream, so results are deterministic and do not depend on
// batch size or on how many samples were drawn before.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace gpt2 {

// Every sampling setting of one row. Each field is one row of the spec table
// (sampler_table.hpp), which gives its flag, JSON key, help, range and stage.
struct SamplingOptions {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  // Hugging Face's repetition penalty over every token of the context (prompt
  // included): logit / R where logit > 0, else logit * R. 1 = off.
  double repetition_penalty = 1.0;
  // OpenAI's rule over the generated tokens: logit - A * [count > 0] - B * count. 0 = off.
  double presence_penalty = 0.0;
  double frequency_penalty = 0.0;
  // (token id, bias) added to that token's logit; -inf or <= -100 bans it.
  std::vector<std::pair<int64_t, double>> logit_bias;
  // After temperature: keep tokens with probability >= min_p * the top probability. 0 = off.
  double min_p = 0.0;
  // Locally typical sampling (Hugging Face's TypicalLogitsWarper), mass p. 1 = off.
  double typical_p = 1.0;
};

// Throws UsageError naming the flag (e.g. "--top-p must be in (0, 1] ...") for the
// first setting out of its range (the checks are the spec table's, see
// sampler_table.hpp). `vocab` > 0 also checks logit-bias ids against the vocabulary.
void validate_sampling(const SamplingOptions& opt, int64_t vocab = 0);

// Parses "ID=BIAS" (BIAS a number, "-inf" allowed). UsageError naming --logit-bias.
std::pair<int64_t, double> parse_logit_bias(const std::string& s);

// ---- the penalties, on one row's logits (float, V entries), in place ----
// context: every token id of the row so far (prompt + generated).
void apply_repetition_penalty(float* logits, int64_t V, const std::vector<int64_t>& context, double penalty);
// generated: the tokens this row has sampled.
void apply_presence_frequency(float* logits, int64_t V, const std::vector<int64_t>& generated, double presence,
                              double frequency);
// Bias <= -100 (or -inf) bans the token (-inf).
void apply_logit_bias(float* logits, int64_t V, const std::vector<std::pair<int64_t, double>>& bias);

// logits [B, V] -> [B, V]: tokens whose probability is below p * the row's top
// probability set to -inf. p = 0: unchanged.
torch::Tensor min_p_filter(const torch::Tensor& logits, double p);
// logits [B, V] -> [B, V], Hugging Face's TypicalLogitsWarper(mass = p,
// min_tokens_to_keep = 1). p >= 1: unchanged.
torch::Tensor typical_filter(const torch::Tensor& logits, double p);

// logits [B, V] -> [B, V]: every logit below the k-th largest of its row set to
// -inf (ties with the k-th largest are kept). k = 0 or k >= V: unchanged.
torch::Tensor top_k_filter(const torch::Tensor& logits, int64_t k);

// logits [B, V] -> [B, V], the released top_p_logits rule: sort the row
// descending, cumulative softmax; n = number of sorted entries whose cumulative
// probability is <= p; keep every logit >= the max(n, 1)-th largest. p >= 1: unchanged.
torch::Tensor top_p_filter(const torch::Tensor& logits, double p);

// temperature (> 0), then top-k, top-p, min-p, typical-p: logits [B, V] -> filtered [B, V] float32
// (each row through the chain; no penalties).
torch::Tensor filter_logits(const torch::Tensor& logits, const SamplingOptions& opt);

// The distribution a draw follows, [B, V] float64 on the CPU: each row's
// SamplerChain::distribution without a history (so without penalties).
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

// What the penalties need of one row: its prompt and the tokens it generated.
struct RowHistory {
  const std::vector<int64_t>* prompt = nullptr;
  const std::vector<int64_t>* generated = nullptr;
};

// One sampler: a small step on one row's logits ([1, V] float32 on the CPU,
// contiguous). Stages before the temperature edit the logits in place (they change
// greedy decoding too); stages after it may return a new tensor (filtered
// entries set to -inf). The stages and their order are the rows of the spec table
// (gpt2/generate/sampler_table.hpp).
class SamplerStage {
 public:
  virtual ~SamplerStage() = default;
  virtual torch::Tensor apply(torch::Tensor row, const RowHistory& history) const = 0;  // [1, V] -> [1, V]
};

// The samplers of one row, built once from its settings (validated first): the
// penalties, then (temperature > 0) the temperature and the filters, then one
// draw. Rows of one batch may each have their own chain.
class SamplerChain {
 public:
  // logit_stages false: only the temperature and the filters (no penalties).
  explicit SamplerChain(const SamplingOptions& options, bool logit_stages = true);
  SamplerChain(SamplerChain&&) noexcept;
  SamplerChain& operator=(SamplerChain&&) noexcept;
  ~SamplerChain();

  const SamplingOptions& options() const { return options_; }
  bool greedy() const { return options_.temperature == 0; }
  // Whether the penalties need the row's history.
  bool needs_history() const { return !logit_stages_.empty(); }

  // The logits every stage leaves: [1, V] float32 (before the softmax).
  // `row`: [1, V] float32 CPU; never modified.
  torch::Tensor filtered(const torch::Tensor& row, const RowHistory& history) const;
  // The distribution the draw follows: [V] float64 (one-hot at the argmax when greedy).
  torch::Tensor distribution(const torch::Tensor& row, const RowHistory& history) const;
  // One token: the argmax of the penalised logits (greedy), else an inverse-CDF
  // draw of one uniform from `rng`.
  int64_t sample(const torch::Tensor& row, const RowHistory& history, SampleRng& rng) const;

 private:
  torch::Tensor penalised(const torch::Tensor& row, const RowHistory& history) const;
  SamplingOptions options_;
  std::vector<std::unique_ptr<SamplerStage>> logit_stages_;   // before the temperature
  std::vector<std::unique_ptr<SamplerStage>> filter_stages_;  // temperature and after
};

// One token per row: logits [B, V] (any device) -> B ids, row b sampled by
// chains[b] from rngs[b] (one uniform per call; greedy draws none). `history`
// gives every row's tokens (size B) when a chain has penalties. Throws
// gpt2::Error if a row's logits are not finite.
std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const std::vector<const SamplerChain*>& chains,
                                   std::vector<SampleRng>& rngs, const std::vector<RowHistory>& history = {});
// The same with one set of settings for every row.
std::vector<int64_t> sample_tokens(const torch::Tensor& logits, const SamplingOptions& opt,
                                   std::vector<SampleRng>& rngs, const std::vector<RowHistory>& history = {});

}  // namespace gpt2
