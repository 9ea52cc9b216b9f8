// Scoring text with the model: per-token log-probabilities, ranks and
// entropies, per-document NLL / perplexity / bits per byte / GLTR rank
// buckets, and the divergence between two precisions of one model.
//
// Long sequences are scored in windows by Hugging Face's "perplexity of
// fixed-length models" rule (plan_windows). Each window is one full forward
// pass without a cache (GPT2Impl::forward(ids), positions 0..T-1, the matrix
// path); windows of many documents (and of one long document) are packed into one
// pass without padding (GPT2Impl::forward_hidden_packed: each window has its own
// positions and attends to itself only). The output head runs
// on the scored positions only, a few MiB of logits at a time: memory never holds a
// batch's [B, T, V] logits, nor a document's.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include "gpt2/model/model.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

// One window over a sequence S: it covers S[begin, end) and scores the
// indices [score_from, end) (each predicted from the window's tokens before it).
struct ScoreWindow {
  int64_t begin = 0, end = 0, score_from = 0;
  bool operator==(const ScoreWindow& o) const {
    return begin == o.begin && end == o.end && score_from == o.score_from;
  }
};

// Hugging Face's rule for a sequence of `length` tokens: window k covers
// S[k*stride, min(k*stride + window, length)); it scores the indices the
// previous window did not (from the previous window's end), never index 0 nor
// a window's first index; the last window is the first that reaches the end.
// Requires window >= 1 and 1 <= stride <= window (UsageError otherwise).
// length 0 gives no windows.
std::vector<ScoreWindow> plan_windows(int64_t length, int64_t window, int64_t stride);

struct ScoreOptions {
  int64_t window = 0;       // tokens per window; 0: n_ctx
  int64_t stride = 0;       // window start step; 0: window / 2 (at least 1)
  bool eot_prefix = true;   // S = [<|endoftext|>] + ids (else S = ids)
  int64_t top = 0;          // most likely alternatives kept per token
  int64_t batch_tokens = 1024;  // window tokens packed into one forward pass (at least one window)
  TokenId eot_id = 50256;   // <|endoftext|> (the prefix)
  // A forward pass holds the windows of one document only. Then a document's
  // numbers depend on nothing but the document (its windows are batched the
  // same way whatever was queued before it): shards of a corpus and a resumed
  // run reproduce one process bit for bit. Otherwise windows of several
  // documents share passes, and other matrix shapes change the last float32 bits.
  bool one_document_per_pass = false;
};

// Fills in the defaults (window n_ctx, stride window/2) and checks the values
// against the model: UsageError naming the option (--window, --stride, --top).
ScoreOptions resolve_score_options(ScoreOptions o, const HParams& hp);

// Rank buckets (GLTR): rank <= 10, (10, 100], (100, 1000], > 1000.
constexpr int kBuckets = 4;
int rank_bucket(int64_t rank);

struct TopToken {
  TokenId id = 0;
  double logprob = 0;
};

// One scored token of S.
struct TokenScore {
  int64_t index = 0;     // position in S
  TokenId id = 0;
  double logprob = 0;    // natural log of its probability given its window's tokens before it
  int64_t rank = 0;      // 1 + number of vocabulary entries with a strictly larger logit
  double entropy = 0;    // of the predicted distribution, nats
  std::vector<TopToken> top;  // the `top` most likely entries, most likely first
  // Only when a reference model is compared (Scorer with a reference):
  double kl = 0;             // KL(P_reference || P_model) at this position, nats
  bool top1_agree = false;   // both distributions have the same most likely token
  double reference_logprob = 0;
};

// Totals over a document's scored tokens.
struct ScoreTotals {
  int64_t tokens_scored = 0;
  int64_t text_bytes = 0;  // UTF-8 bytes of the text (for bits per byte)
  double nll = 0;          // sum of -logprob, nats
  double log_rank_sum = 0; // sum of ln(rank)
  std::array<int64_t, kBuckets> buckets{};
  bool compared = false;
  double kl_sum = 0;
  int64_t top1_agreements = 0;
  double reference_nll = 0;

  void add(const TokenScore& t);
  double mean_nll() const;
  double perplexity() const;     // exp(mean_nll)
  double bits_per_byte() const;  // nll / ln 2 / text_bytes (0 without bytes)
  double bucket_fraction(int b) const;
  double mean_log_rank() const;  // mean of ln(rank) over the scored tokens (GLTR's / DetectGPT's log-rank)
  double kl_divergence() const;  // mean KL over scored positions
  double top1_agreement() const;
  double reference_perplexity() const;
  double perplexity_delta() const;  // perplexity() - reference_perplexity()
};

struct ScoredSequence {
  std::vector<TokenScore> tokens;
  ScoreTotals totals;
};

// Scores the sequence S = ids as given (no prefix added; index 0 is context
// only) with `window` / `stride` (0: the defaults). Returns every scored token
// and the totals; mean NLL is totals.mean_nll(). For validation losses and
// tests; UsageError when nothing can be scored (fewer than 2 tokens).
ScoredSequence score_tokens(GPT2Impl& model, const std::vector<TokenId>& ids, int64_t window = 0,
                            int64_t stride = 0, int64_t top = 0);

// Streams documents through the model in batches of windows. Results come out
// in input order: on_token for each scored token, then on_document with the
// totals once a document's last window is done.
class Scorer {
 public:
  using TokenFn = std::function<void(int64_t doc, const TokenScore&)>;
  using DocumentFn = std::function<void(int64_t doc, const ScoreTotals&)>;

  // `options` must be resolved (resolve_score_options). With a `reference`
  // model (same hparams), every position also gets KL(P_reference || P_model)
  // and the top-1 agreement. The models must outlive the Scorer.
  Scorer(GPT2Impl& model, const ScoreOptions& options, GPT2Impl* reference = nullptr);

  void on_token(TokenFn fn) { on_token_ = std::move(fn); }
  void on_document(DocumentFn fn) { on_document_ = std::move(fn); }

  // The sequence S a document's ids are scored as (eot prefix or not).
  std::vector<TokenId> sequence(const std::vector<TokenId>& ids) const;
  // Tokens of S that would be scored for `n_ids` text tokens (0: nothing to score).
  int64_t scored_count(int64_t n_ids) const;

  // Queues a document (its text's token ids and UTF-8 byte count) and scores
  // whatever full batches are ready. Returns its number (0, 1, ...).
  // UsageError "nothing to score" when it has no token to score.
  int64_t add(const std::vector<TokenId>& ids, int64_t text_bytes);

  // One document of any length, fed in pieces: begin_document(), feed() its
  // ids piece by piece, end_document() with its byte count. A window is planned
  // as soon as the tokens fed show it is not the last (the windows are those
  // of plan_windows over the whole sequence), and a token is dropped once no
  // planned or later window needs it: memory holds about one window of the
  // document plus the piece being fed, not the document. One document at a
  // time (std::logic_error otherwise). end_document throws UsageError
  // "nothing to score" (and forgets the document) when it had no token to score.
  int64_t begin_document();
  void feed(const TokenId* ids, size_t n);
  void feed(const std::vector<TokenId>& ids) { feed(ids.data(), ids.size()); }
  void end_document(int64_t text_bytes);

  // Scores everything still queued (an open document: the windows planned so far).
  void flush();

  int64_t tokens_scored() const { return tokens_scored_; }
  int64_t tokens_held() const;  // token ids of queued documents kept in memory
  int64_t tokens_forwarded() const { return tokens_forwarded_; }  // window positions run through the model
  double seconds() const { return seconds_; }                    // in forward passes and analysis

 private:
  struct Doc {
    int64_t number = 0;
    std::vector<TokenId> seq;         // S[seq_from, seq_from + seq.size()): the tokens still needed
    int64_t seq_from = 0;
    int64_t length = 0;               // tokens of S fed so far
    bool complete = false;            // its last token was fed
    std::deque<ScoreWindow> windows;  // planned, not yet put in a batch
    int64_t next_begin = 0;           // where the next window to plan begins
    int64_t prev_end = 0;             // end of the last planned window
    bool planned_all = false;         // its last window is planned
    int64_t unfinished = 0;           // planned windows whose tokens are not yet reported
    ScoreTotals totals;
    TokenId at(int64_t i) const { return seq[static_cast<size_t>(i - seq_from)]; }
  };
  struct Job {
    Doc* doc;
    ScoreWindow w;
  };

  // Per scored position, in order: [R, columns] float64 (logprob, rank, entropy; with a
  // reference also kl, top-1 agreement, reference logprob) and the top entries
  // [R, top] (log-probs float64, ids int64), on the CPU.
  struct Analysis {
    torch::Tensor table, top_v, top_i;
  };
  // Bytes of logits put through the output head (and analysed) at a time, into one
  // reused buffer: fewer, larger head products (each product repacks the whole
  // [V, C] weight: at 8 MiB, 41 rows, a 1,024-token window with 512 scored
  // positions repacked it 13 times), and no fresh mapping per chunk.
  static constexpr int64_t kHeadChunkBytes = int64_t{32} << 20;

  // Plans the windows of `d` that the tokens fed so far determine.
  void plan(Doc& d);
  // Drops the tokens of `d` before its next window (amortized: when they are most of it).
  static void trim(Doc& d);
  void run_batch();
  // ids [N] of a batch's windows packed with their lengths; the scored positions as rows of its
  // [N, C] hidden states and their targets.
  Analysis analyse(const torch::Tensor& ids, const std::vector<int64_t>& lengths, const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& targets);

  GPT2Impl& model_;
  GPT2Impl* reference_;
  ScoreOptions opt_;
  TokenFn on_token_;
  DocumentFn on_document_;
  std::deque<Doc> docs_;
  int64_t next_number_ = 0;
  bool open_ = false;  // a document is between begin_document and end_document
  int64_t unbatched_tokens_ = 0;  // window tokens queued but not yet in a batch
  int64_t tokens_scored_ = 0, tokens_forwarded_ = 0;
  double seconds_ = 0;
  torch::Tensor exp_buf_, mask_buf_;  // [chunk, V] float32 / bool, reused by analyse()
  torch::Tensor logits_buf_;          // [chunk, V] float32, the head's output, reused by analyse()
};

}  // namespace gpt2
