#include "gpt2/score.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "gpt2/errors.hpp"

namespace gpt2 {

std::vector<ScoreWindow> plan_windows(int64_t length, int64_t window, int64_t stride) {
  if (window < 1) throw UsageError("window must be at least 1, got " + std::to_string(window));
  if (stride < 1 || stride > window)
    throw UsageError("stride must be between 1 and the window (" + std::to_string(window) + "), got " +
                     std::to_string(stride));
  std::vector<ScoreWindow> out;
  int64_t prev_end = 0;
  for (int64_t begin = 0; begin < length; begin += stride) {
    const int64_t end = std::min(begin + window, length);
    out.push_back({begin, end, std::max(prev_end, begin + 1)});
    prev_end = end;
    if (end == length) break;
  }
  return out;
}

ScoreOptions resolve_score_options(ScoreOptions o, const HParams& hp) {
  if (o.window == 0) o.window = hp.n_ctx;
  if (o.window < 2)
    throw UsageError("--window must be at least 2 (a window's first token is never scored), got " +
                     std::to_string(o.window));
  if (o.window > hp.n_ctx)
    throw UsageError("--window " + std::to_string(o.window) + " is larger than the model's context of " +
                     std::to_string(hp.n_ctx) + " tokens");
  if (o.stride == 0) o.stride = std::max<int64_t>(1, o.window / 2);
  if (o.stride < 1 || o.stride > o.window)
    throw UsageError("--stride must be between 1 and the window (" + std::to_string(o.window) + "), got " +
                     std::to_string(o.stride));
  if (o.top < 0) throw UsageError("--top must be >= 0, got " + std::to_string(o.top));
  o.top = std::min(o.top, hp.n_vocab);
  o.batch_tokens = std::max(o.batch_tokens, o.window);
  if (o.eot_id < 0 || o.eot_id >= hp.n_vocab)
    throw UsageError("<|endoftext|> id " + std::to_string(o.eot_id) + " is outside the model's vocabulary");
  return o;
}

int rank_bucket(int64_t rank) {
  if (rank <= 10) return 0;
  if (rank <= 100) return 1;
  if (rank <= 1000) return 2;
  return 3;
}

// ---------------------------------------------------------------------------
// Totals
// ---------------------------------------------------------------------------

void ScoreTotals::add(const TokenScore& t) {
  ++tokens_scored;
  nll -= t.logprob;
  ++buckets[static_cast<size_t>(rank_bucket(t.rank))];
  kl_sum += t.kl;
  top1_agreements += t.top1_agree ? 1 : 0;
  reference_nll -= t.reference_logprob;
}

double ScoreTotals::mean_nll() const { return tokens_scored ? nll / static_cast<double>(tokens_scored) : 0.0; }
double ScoreTotals::perplexity() const { return std::exp(mean_nll()); }
double ScoreTotals::bits_per_byte() const {
  return text_bytes ? nll / std::log(2.0) / static_cast<double>(text_bytes) : 0.0;
}
double ScoreTotals::bucket_fraction(int b) const {
  return tokens_scored ? static_cast<double>(buckets[static_cast<size_t>(b)]) / static_cast<double>(tokens_scored)
                       : 0.0;
}
double ScoreTotals::kl_divergence() const {
  return tokens_scored ? kl_sum / static_cast<double>(tokens_scored) : 0.0;
}
double ScoreTotals::top1_agreement() const {
  return tokens_scored ? static_cast<double>(top1_agreements) / static_cast<double>(tokens_scored) : 0.0;
}
double ScoreTotals::reference_perplexity() const {
  return tokens_scored ? std::exp(reference_nll / static_cast<double>(tokens_scored)) : 1.0;
}
double ScoreTotals::perplexity_delta() const { return perplexity() - reference_perplexity(); }

// ---------------------------------------------------------------------------
// Scorer
// ---------------------------------------------------------------------------

Scorer::Scorer(GPT2Impl& model, const ScoreOptions& options, GPT2Impl* reference)
    : model_(model), reference_(reference), opt_(options) {
  if (reference_ != nullptr && !(reference_->hparams() == model_.hparams()))
    throw UsageError("the reference model's hparams differ from the scored model's");
}

std::vector<TokenId> Scorer::sequence(const std::vector<TokenId>& ids) const {
  std::vector<TokenId> seq;
  seq.reserve(ids.size() + 1);
  if (opt_.eot_prefix) seq.push_back(opt_.eot_id);
  seq.insert(seq.end(), ids.begin(), ids.end());
  return seq;
}

int64_t Scorer::scored_count(int64_t n_ids) const {
  int64_t n = 0;
  for (const ScoreWindow& w : plan_windows(n_ids + (opt_.eot_prefix ? 1 : 0), opt_.window, opt_.stride))
    n += w.end - w.score_from;
  return n;
}

int64_t Scorer::add(const std::vector<TokenId>& ids, int64_t text_bytes) {
  if (scored_count(static_cast<int64_t>(ids.size())) == 0)
    throw UsageError(ids.empty() ? "nothing to score: the text is empty"
                                 : "nothing to score: one token and no <|endoftext|> prefix gives no token a context");
  Doc d;
  const int64_t number = d.number = next_number_++;
  d.seq = sequence(ids);
  d.windows = plan_windows(static_cast<int64_t>(d.seq.size()), opt_.window, opt_.stride);
  d.totals.text_bytes = text_bytes;
  d.totals.compared = reference_ != nullptr;
  for (const ScoreWindow& w : d.windows) unbatched_tokens_ += w.end - w.begin;
  docs_.push_back(std::move(d));
  while (unbatched_tokens_ > 0 && unbatched_tokens_ >= opt_.batch_tokens) run_batch();
  return number;
}

void Scorer::flush() {
  while (unbatched_tokens_ > 0) run_batch();
}

void Scorer::run_batch() {
  const auto t0 = std::chrono::steady_clock::now();
  // Windows in input order while rows x longest window fits the budget (at least one).
  std::vector<Job> jobs;
  int64_t longest = 0;
  for (Doc& d : docs_) {
    bool full = false;
    while (d.next_window < d.windows.size()) {
      const ScoreWindow& w = d.windows[d.next_window];
      const int64_t len = w.end - w.begin;
      const int64_t rows = static_cast<int64_t>(jobs.size()) + 1;
      if (!jobs.empty() && rows * std::max(longest, len) > opt_.batch_tokens) {
        full = true;
        break;
      }
      jobs.push_back({&d, w});
      longest = std::max(longest, len);
      unbatched_tokens_ -= len;
      ++d.next_window;
    }
    if (full) break;
  }
  if (jobs.empty()) return;

  const int64_t B = static_cast<int64_t>(jobs.size());
  torch::Tensor ids = torch::full({B, longest}, static_cast<int64_t>(opt_.eot_id), torch::kInt64);  // [B, T]
  auto acc = ids.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const Job& j = jobs[static_cast<size_t>(b)];
    for (int64_t i = j.w.begin; i < j.w.end; ++i) acc[b][i - j.w.begin] = j.doc->seq[static_cast<size_t>(i)];
    tokens_forwarded_ += j.w.end - j.w.begin;
  }
  // Right padding only follows the real tokens: causal attention keeps it out of them.
  const torch::Tensor logits = model_.forward(ids);  // [B, T, V]
  torch::Tensor ref_logits;                          // [B, T, V]
  if (reference_ != nullptr) ref_logits = reference_->forward(ids);

  for (int64_t b = 0; b < B; ++b) {
    const Job& j = jobs[static_cast<size_t>(b)];
    torch::Tensor r;
    if (reference_ != nullptr) r = ref_logits[b];
    analyse(logits[b], reference_ != nullptr ? &r : nullptr, j);
    Doc& d = *j.doc;
    if (++d.done_windows == d.windows.size()) {
      // Jobs are in input order, so a finished document is the first queued one.
      if (on_document_) on_document_(d.number, d.totals);
      docs_.pop_front();
    }
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// logits: [T, V] of one batch row (the window's tokens first); ref_logits the same
// from the reference model. Scores S[score_from, end) of the job's window.
void Scorer::analyse(const torch::Tensor& logits, const torch::Tensor* ref_logits, const Job& job) {
  c10::InferenceMode guard;
  const ScoreWindow& w = job.w;
  const int64_t n = w.end - w.score_from;
  if (n <= 0) return;
  const int64_t first = w.score_from - 1 - w.begin;  // row predicting S[score_from]
  const torch::Tensor x = logits.narrow(0, first, n);  // [n, V]
  std::vector<int64_t> tgt(job.doc->seq.begin() + w.score_from, job.doc->seq.begin() + w.end);
  const torch::Tensor targets = torch::tensor(tgt, torch::kInt64).to(x.device()).unsqueeze(1);  // [n, 1]

  const torch::Tensor lp = torch::log_softmax(x, 1);                               // [n, V]
  const torch::Tensor target_logit = x.gather(1, targets);                         // [n, 1]
  std::vector<torch::Tensor> cols = {
      lp.gather(1, targets).squeeze(1).to(torch::kFloat64),                         // logprob [n]
      (x > target_logit).sum(1).to(torch::kFloat64) + 1,                           // rank [n]
      (lp.exp() * lp).sum(1).neg().to(torch::kFloat64),                             // entropy [n]
  };
  if (ref_logits != nullptr) {
    const torch::Tensor y = ref_logits->narrow(0, first, n);                        // [n, V]
    const torch::Tensor lpr = torch::log_softmax(y, 1);                             // [n, V]
    // KL in float64: its first-order terms cancel, float32 leaves noise of ~1e-6 nats.
    const torch::Tensor lp64 = torch::log_softmax(x.to(torch::kFloat64), 1);        // [n, V]
    const torch::Tensor lpr64 = torch::log_softmax(y.to(torch::kFloat64), 1);       // [n, V]
    cols.push_back((lpr64.exp() * (lpr64 - lp64)).sum(1));                          // KL [n]
    cols.push_back(y.argmax(1).eq(x.argmax(1)).to(torch::kFloat64));               // top-1 agree [n]
    cols.push_back(lpr.gather(1, targets).squeeze(1).to(torch::kFloat64));          // reference logprob [n]
  }
  const torch::Tensor table = torch::stack(cols, 1).cpu().contiguous();  // [n, columns]
  const auto t = table.accessor<double, 2>();
  torch::Tensor top_v = torch::zeros({n, 0}, torch::kFloat64), top_i = torch::zeros({n, 0}, torch::kInt64);  // [n, top]
  if (opt_.top > 0) {
    auto tk = lp.topk(opt_.top, 1);
    top_v = std::get<0>(tk).to(torch::kFloat64).cpu().contiguous();
    top_i = std::get<1>(tk).cpu().contiguous();
  }
  const auto tv = top_v.accessor<double, 2>();
  const auto ti = top_i.accessor<int64_t, 2>();

  ScoreTotals& totals = job.doc->totals;
  TokenScore s;
  for (int64_t i = 0; i < n; ++i) {
    s.index = w.score_from + i;
    s.id = static_cast<TokenId>(tgt[static_cast<size_t>(i)]);
    s.logprob = t[i][0];
    s.rank = static_cast<int64_t>(t[i][1]);
    s.entropy = t[i][2];
    if (ref_logits != nullptr) {
      s.kl = t[i][3];
      s.top1_agree = t[i][4] != 0.0;
      s.reference_logprob = t[i][5];
    }
    s.top.clear();
    for (int64_t k = 0; k < opt_.top; ++k)
      s.top.push_back({static_cast<TokenId>(ti[i][k]), tv[i][k]});
    totals.add(s);
    ++tokens_scored_;
    if (on_token_) on_token_(job.doc->number, s);
  }
}

ScoredSequence score_tokens(GPT2Impl& model, const std::vector<TokenId>& ids, int64_t window, int64_t stride,
                            int64_t top) {
  ScoreOptions o;
  o.window = window;
  o.stride = stride;
  o.top = top;
  o.eot_prefix = false;
  o = resolve_score_options(o, model.hparams());
  if (ids.size() < 2) throw UsageError("nothing to score: fewer than 2 tokens");
  ScoredSequence out;
  Scorer scorer(model, o);
  scorer.on_token([&out](int64_t, const TokenScore& t) { out.tokens.push_back(t); });
  scorer.on_document([&out](int64_t, const ScoreTotals& totals) { out.totals = totals; });
  scorer.add(ids, 0);
  scorer.flush();
  return out;
}

}  // namespace gpt2
