#include "gpt2/score/score.hpp"

#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gpt2/base/errors.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/kernels/score_kernels.hpp"

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
  log_rank_sum += std::log(static_cast<double>(t.rank));
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
double ScoreTotals::mean_log_rank() const {
  return tokens_scored ? log_rank_sum / static_cast<double>(tokens_scored) : 0.0;
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
  const int64_t number = begin_document();
  feed(ids);
  end_document(text_bytes);
  return number;
}

int64_t Scorer::begin_document() {
  if (open_) throw std::logic_error("Scorer::begin_document: the previous document was not ended");
  open_ = true;
  Doc d;
  d.number = next_number_++;
  d.totals.compared = reference_ != nullptr;
  docs_.push_back(std::move(d));
  if (opt_.eot_prefix) feed(&opt_.eot_id, 1);
  return docs_.back().number;
}

void Scorer::feed(const TokenId* ids, size_t n) {
  if (!open_) throw std::logic_error("Scorer::feed: no document was begun");
  Doc& d = docs_.back();
  d.seq.insert(d.seq.end(), ids, ids + n);
  d.length += static_cast<int64_t>(n);
  plan(d);
  while (unbatched_tokens_ > 0 && unbatched_tokens_ >= opt_.batch_tokens) run_batch();
}

void Scorer::end_document(int64_t text_bytes) {
  if (!open_) throw std::logic_error("Scorer::end_document: no document was begun");
  open_ = false;
  Doc& d = docs_.back();
  const int64_t n_ids = d.length - (opt_.eot_prefix ? 1 : 0);
  if (scored_count(n_ids) == 0) {
    // Nothing of it was planned (a planned window means more than a window of tokens).
    docs_.pop_back();
    --next_number_;
    throw UsageError(n_ids == 0 ? "nothing to score: the text is empty"
                                : "nothing to score: one token and no <|endoftext|> prefix gives no token a context");
  }
  d.complete = true;
  d.totals.text_bytes = text_bytes;
  plan(d);
  while (unbatched_tokens_ > 0 && unbatched_tokens_ >= opt_.batch_tokens) run_batch();
}

// plan_windows, one window at a time: a window that ends before the tokens fed
// so far end is full and not the last; the rest waits for the document's end.
void Scorer::plan(Doc& d) {
  while (!d.planned_all) {
    const int64_t begin = d.next_begin;
    if (!d.complete && begin + opt_.window >= d.length) return;
    if (begin >= d.length) {  // only for an empty sequence
      d.planned_all = true;
      return;
    }
    const int64_t end = std::min(begin + opt_.window, d.length);
    d.windows.push_back({begin, end, std::max(d.prev_end, begin + 1)});
    d.prev_end = end;
    d.next_begin += opt_.stride;
    ++d.unfinished;
    unbatched_tokens_ += end - begin;
    if (d.complete && end == d.length) d.planned_all = true;
  }
}

int64_t Scorer::tokens_held() const {
  int64_t n = 0;
  for (const Doc& d : docs_) n += static_cast<int64_t>(d.seq.size());
  return n;
}

void Scorer::flush() {
  while (unbatched_tokens_ > 0) run_batch();
}

void Scorer::trim(Doc& d) {
  const int64_t keep_from = d.windows.empty() ? d.next_begin : d.windows.front().begin;
  const int64_t drop = std::min(keep_from - d.seq_from, static_cast<int64_t>(d.seq.size()));
  if (drop <= 0 || 2 * drop < static_cast<int64_t>(d.seq.size())) return;
  d.seq.erase(d.seq.begin(), d.seq.begin() + drop);
  d.seq_from += drop;
}

void Scorer::run_batch() {
  const auto t0 = std::chrono::steady_clock::now();
  // Windows in input order while their tokens fit the budget (at least one).
  std::vector<Job> jobs;
  int64_t packed = 0;
  for (Doc& d : docs_) {
    if (opt_.one_document_per_pass && !jobs.empty()) break;
    bool full = false;
    while (!d.windows.empty()) {
      const ScoreWindow w = d.windows.front();
      const int64_t len = w.end - w.begin;
      if (!jobs.empty() && packed + len > opt_.batch_tokens) {
        full = true;
        break;
      }
      jobs.push_back({&d, w});
      packed += len;
      unbatched_tokens_ -= len;
      d.windows.pop_front();
    }
    if (full) break;
  }
  if (jobs.empty()) return;

  // The windows packed one after another, no padding: ids [N], one length per window.
  const int64_t B = static_cast<int64_t>(jobs.size());
  torch::Tensor ids = torch::empty({packed}, torch::kInt64);  // [N]
  int64_t* idp = ids.data_ptr<int64_t>();
  std::vector<int64_t> lengths;
  // The scored positions in job order: their rows in the [N, C] hidden states (a
  // window's row k predicts its token k + 1) and their target ids.
  std::vector<int64_t> rows, targets;
  int64_t offset = 0;
  for (int64_t b = 0; b < B; ++b) {
    const Job& j = jobs[static_cast<size_t>(b)];
    for (int64_t i = j.w.begin; i < j.w.end; ++i) idp[offset + i - j.w.begin] = j.doc->at(i);
    for (int64_t i = j.w.score_from; i < j.w.end; ++i) {
      rows.push_back(offset + (i - 1 - j.w.begin));
      targets.push_back(j.doc->at(i));
    }
    lengths.push_back(j.w.end - j.w.begin);
    offset += j.w.end - j.w.begin;
    tokens_forwarded_ += j.w.end - j.w.begin;
  }
  for (const Job& j : jobs) trim(*j.doc);  // the batch's ids are copied
  const Analysis a = analyse(ids, lengths, rows, targets);
  const auto table = a.table.accessor<double, 2>();
  const auto top_v = a.top_v.accessor<double, 2>();
  const auto top_i = a.top_i.accessor<int64_t, 2>();

  int64_t r = 0;  // row of `a` for the next scored token
  for (int64_t b = 0; b < B; ++b) {
    const Job& j = jobs[static_cast<size_t>(b)];
    Doc& d = *j.doc;
    TokenScore s;
    for (int64_t i = j.w.score_from; i < j.w.end; ++i, ++r) {
      s.index = i;
      s.id = static_cast<TokenId>(targets[static_cast<size_t>(r)]);
      s.logprob = table[r][0];
      s.rank = static_cast<int64_t>(table[r][1]);
      s.entropy = table[r][2];
      if (reference_ != nullptr) {
        s.kl = table[r][3];
        s.top1_agree = table[r][4] != 0.0;
        s.reference_logprob = table[r][5];
      }
      s.top.clear();
      for (int64_t k = 0; k < opt_.top; ++k) s.top.push_back({static_cast<TokenId>(top_i[r][k]), top_v[r][k]});
      d.totals.add(s);
      ++tokens_scored_;
      if (on_token_) on_token_(d.number, s);
    }
    if (--d.unfinished == 0 && d.planned_all) {
      // Jobs are in input order, so a finished document is the first queued one.
      if (on_document_) on_document_(d.number, d.totals);
      docs_.pop_front();
    }
  }
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// ---------------------------------------------------------------------------
// Per-position analysis of a chunk of logits: appends the logprob, rank and
// entropy columns ([n] float64 each) to cols and, with top > 0, the top-N
// log-probs [n, top] float64 and ids [n, top] int64 to top_vs / top_is.
// ---------------------------------------------------------------------------

namespace {

bool fused_analysis(const torch::Tensor& x) { return x.is_cpu() && x.scalar_type() == torch::kFloat32; }

// CPU float32 logits x [n, V]: the fused kernel (score_kernels.hpp), two passes per
// row and no [n, V] temporaries; top-N from x itself (the order of x is the order
// of log p, log p = x - log_norm).
void analyse_fused(const torch::Tensor& logits, const int64_t* targets, int64_t top, std::vector<torch::Tensor>& cols,
                   std::vector<torch::Tensor>& top_vs, std::vector<torch::Tensor>& top_is) {
  const torch::Tensor x = logits.contiguous();  // [n, V]
  const int64_t n = x.size(0), V = x.size(1);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor logprob = torch::empty({n}, f64), entropy = torch::empty({n}, f64);  // [n]
  torch::Tensor log_norm = torch::empty({n}, f64);                                   // [n]
  torch::Tensor rank = torch::empty({n}, torch::kInt64);                             // [n]
  score_kernels::analyse_rows(x.data_ptr<float>(), n, V, targets, logprob.data_ptr<double>(),
                              rank.data_ptr<int64_t>(), entropy.data_ptr<double>(),
                              top > 0 ? log_norm.data_ptr<double>() : nullptr, ops::kernel_threads());
  cols.insert(cols.end(), {logprob, rank.to(torch::kFloat64), entropy});
  if (top > 0) {
    auto tk = x.topk(top, 1);  // [n, top]
    top_vs.push_back(std::get<0>(tk).to(torch::kFloat64) - log_norm.unsqueeze(1));
    top_is.push_back(std::get<1>(tk));
  }
}

// Any device: libtorch ops. x [n, V] is shifted in place (x - max); tgt [n, 1];
// mask and e are [n, V] scratch (bool, x's dtype).
void analyse_libtorch(torch::Tensor x, const torch::Tensor& tgt, int64_t top, torch::Tensor mask, torch::Tensor e,
                      std::vector<torch::Tensor>& cols, std::vector<torch::Tensor>& top_vs,
                      std::vector<torch::Tensor>& top_is) {
  torch::gt_out(mask, x, x.gather(1, tgt));
  const torch::Tensor rank = mask.sum(1).to(torch::kFloat64) + 1;  // [n]
  // log p = z - log sum exp(z) with z = x - max (x shifted in place; one exp per entry);
  // the entropy -sum p log p = log sum exp(z) - sum exp(z) z / sum exp(z).
  const torch::Tensor& z = x.sub_(x.amax(1, true));  // [n, V]
  torch::exp_out(e, z);
  const torch::Tensor sum = e.sum(1, true), log_sum = sum.log();                       // [n, 1]
  cols.push_back((z.gather(1, tgt) - log_sum).squeeze(1).to(torch::kFloat64));          // logprob [n]
  cols.push_back(rank);                                                                 // rank [n]
  cols.push_back((log_sum - e.mul_(z).sum(1, true) / sum).squeeze(1).to(torch::kFloat64));  // entropy [n]
  if (top > 0) {
    auto tk = z.topk(top, 1);  // the order of z is the order of log p
    top_vs.push_back((std::get<0>(tk) - log_sum).to(torch::kFloat64));
    top_is.push_back(std::get<1>(tk));
  }
}

}  // namespace

Scorer::Analysis Scorer::analyse(const torch::Tensor& ids, const std::vector<int64_t>& lengths,
                                 const std::vector<int64_t>& rows, const std::vector<int64_t>& targets) {
  c10::InferenceMode guard;
  const int64_t V = model_.hparams().n_vocab, R = static_cast<int64_t>(rows.size());
  // The blocks run once for the batch; the output head only for the scored positions
  // (a window of n_ctx with stride n_ctx/2 scores half of them).
  const torch::Tensor hidden = model_.forward_hidden_packed(ids, lengths);  // [N, C]
  torch::Tensor ref_hidden;                                                   // [N, C]
  if (reference_ != nullptr) ref_hidden = reference_->forward_hidden_packed(ids, lengths);
  const torch::Tensor row_ids = torch::tensor(rows, torch::kInt64).to(hidden.device());      // [R]
  const torch::Tensor target_ids = torch::tensor(targets, torch::kInt64).to(hidden.device());  // [R]

  // Logits in chunks of at most kHeadChunkBytes, of equal sizes, into one reused
  // buffer (a fresh block that large would be a fresh mapping each time: glibc maps
  // blocks above its adaptive threshold, and each 4 KiB then costs a page fault).
  const int64_t most = std::max<int64_t>(1, kHeadChunkBytes / (V * static_cast<int64_t>(sizeof(float))));
  const int64_t n_chunks = std::max<int64_t>(1, (R + most - 1) / most);
  const int64_t chunk = (R + n_chunks - 1) / n_chunks;
  if (R > 0 && (!logits_buf_.defined() || logits_buf_.size(0) < chunk || logits_buf_.size(1) != V ||
                logits_buf_.device() != hidden.device()))
    logits_buf_ = torch::empty({std::max(chunk, logits_buf_.defined() ? logits_buf_.size(0) : 0), V},
                               hidden.options());
  std::vector<torch::Tensor> tables, top_vs, top_is;
  for (int64_t r0 = 0; r0 < R; r0 += chunk) {
    const int64_t n = std::min(chunk, R - r0);
    const torch::Tensor sel = row_ids.narrow(0, r0, n);                                // [n]
    const torch::Tensor tgt = target_ids.narrow(0, r0, n).unsqueeze(1);                // [n, 1]
    torch::Tensor x = logits_buf_.narrow(0, 0, n);                                     // [n, V]
    model_.head_logits_into(hidden.index_select(0, sel), x);
    torch::Tensor y;                                                                   // [n, V]
    if (reference_ != nullptr) y = reference_->head_logits(ref_hidden.index_select(0, sel));
    // CPU float32 (the usual case): the fused kernel; else (e.g. CUDA) libtorch ops.
    const bool fused = fused_analysis(x) && (!y.defined() || fused_analysis(y));
    std::vector<torch::Tensor> cols, ref_cols;
    if (reference_ != nullptr) {
      // KL in float64: its first-order terms cancel, float32 leaves noise of ~1e-6 nats.
      const torch::Tensor lp64 = torch::log_softmax(x.to(torch::kFloat64), 1);          // [n, V]
      const torch::Tensor lpr64 = torch::log_softmax(y.to(torch::kFloat64), 1);         // [n, V]
      ref_cols = {
          (lpr64.exp() * (lpr64 - lp64)).sum(1),            // KL [n]
          y.argmax(1).eq(x.argmax(1)).to(torch::kFloat64),  // top-1 agree [n]
      };
      // The reference logprob [n], computed the way the scored one is (a model compared
      // with itself gives a perplexity delta of exactly 0).
      if (fused) {
        std::vector<torch::Tensor> ref_analysis, no_top_v, no_top_i;
        analyse_fused(y, targets.data() + r0, 0, ref_analysis, no_top_v, no_top_i);
        ref_cols.push_back(ref_analysis[0]);
      } else {
        const torch::Tensor zr = y - y.amax(1, true);  // [n, V]
        ref_cols.push_back((zr.gather(1, tgt) - zr.exp().sum(1, true).log()).squeeze(1).to(torch::kFloat64));
      }
    }
    if (fused) {
      analyse_fused(x, targets.data() + r0, opt_.top, cols, top_vs, top_is);
    } else {
      // Reused buffers (no fresh [n, V] blocks per chunk): the rank mask and exp(z).
      if (!exp_buf_.defined() || exp_buf_.size(0) < n || exp_buf_.size(1) != V) {
        exp_buf_ = torch::empty({chunk, V}, x.options());
        mask_buf_ = torch::empty({chunk, V}, x.options().dtype(torch::kBool));
      }
      analyse_libtorch(x, tgt, opt_.top, mask_buf_.narrow(0, 0, n), exp_buf_.narrow(0, 0, n), cols, top_vs, top_is);
    }
    cols.insert(cols.end(), ref_cols.begin(), ref_cols.end());
    tables.push_back(torch::stack(cols, 1));  // [n, columns]
  }
  Analysis a;
  const int64_t columns = reference_ != nullptr ? 6 : 3;
  a.table = R > 0 ? torch::cat(tables).cpu().contiguous() : torch::zeros({0, columns}, torch::kFloat64);
  a.top_v = opt_.top > 0 && R > 0 ? torch::cat(top_vs).cpu().contiguous() : torch::zeros({R, 0}, torch::kFloat64);
  a.top_i = opt_.top > 0 && R > 0 ? torch::cat(top_is).cpu().contiguous() : torch::zeros({R, 0}, torch::kInt64);
  return a;
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
