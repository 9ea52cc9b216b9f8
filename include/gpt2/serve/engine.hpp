// The continuous-batching engine behind `gpt2 serve` (no HTTP here).
//
// One scheduler thread owns the model and `slots` slots, each a batch-1 KV
// cache with its own length. Every iteration it
//   1. admits queued requests into free slots (first come, first served),
//   2. ends cancelled requests (their slots free at once),
//   3. runs ONE unit of prompt work for the oldest request still reading its
//      prompt: the echo scoring of its prompt, or one chunk of at most
//      `prefill_chunk` prompt tokens into its cache (so a long prompt delays the
//      running streams by at most one chunk per generated token),
//   4. decodes one token for every generating slot in one batched fused step
//      (GPT2Impl::decode_rows: rows at different cache lengths).
// A request's numbers do not depend on the other requests: its prompt chunks
// are cut at the same places whatever else runs, the decode step's per-row
// arithmetic is independent of the batch, and each request samples from its
// own SampleRng(seed, sample_index). So with a seed (or temperature 0) its
// output is the same alone or among others.
//
// Requests beyond the slots wait in a bounded queue; beyond it submit() throws
// BusyError. Callers read a request's events from its RequestHandle (any
// thread) and may cancel() it at any time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/generate/sampler.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::serve {

// The engine cannot take the request now (queue full, or shutting down).
class BusyError : public Error {
 public:
  using Error::Error;
};

struct EngineOptions {
  int64_t slots = 8;           // requests decoded together
  int64_t queue = 64;          // requests waiting for a slot; more: BusyError
  int64_t prefill_chunk = 128; // prompt tokens per unit of prompt work
  int threads = 0;             // > 0: libtorch threads of the engine thread
};

// A token with its log-probability (natural log, of the model's own
// distribution before any sampling setting) and, when asked for, its most
// likely alternatives (most likely first).
struct TokenAlternative {
  TokenId id = 0;
  double logprob = 0;
};
struct TokenLogprob {
  TokenId id = 0;
  double logprob = std::numeric_limits<double>::quiet_NaN();  // NaN: none (a prompt's first token)
  int64_t rank = 0;  // 1 + entries with a larger logit (GLTR); 0 with no log-prob
  std::vector<TokenAlternative> top;
};

struct EngineRequest {
  std::vector<TokenId> prompt;  // >= 1 token, ids < the tokenizer's vocabulary
  int64_t max_tokens = 16;      // 0: nothing generated (an echo-only request)
  SamplingOptions sampling;
  uint64_t seed = 0;            // draws come from SampleRng(seed, sample_index)
  uint64_t sample_index = 0;
  std::vector<std::string> stop;  // the text ends before the first of these
  bool ignore_eos = false;        // false: <|endoftext|> ends the request
  int64_t logprobs = -1;          // 0..20: each generated token's log-prob and this many alternatives
  bool echo_logprobs = false;     // the prompt's log-probs first (with `logprobs` alternatives, >= 0)
};

enum class Finish { kLength, kStop, kCancelled, kError };

struct EngineEvent {
  enum class Kind { kPrompt, kToken, kDone };
  Kind kind = Kind::kToken;
  // kPrompt: one entry per prompt token (the first has no log-prob).
  std::vector<TokenLogprob> prompt;
  // kToken: the sampled token; `text` is the text that became final with it
  // (possibly empty: bytes of a character or a possible stop string held back).
  // kDone: `text` is whatever was still held back.
  TokenLogprob token;
  std::string text;
  // kDone:
  Finish finish = Finish::kLength;
  std::string error;  // kError: what went wrong
  int64_t prompt_tokens = 0, completion_tokens = 0;
};

// A submitted request as its caller sees it.
class RequestHandle {
 public:
  // Waits up to `timeout` for the next event. False on timeout. After kDone no
  // more events come.
  bool next(EngineEvent& e, std::chrono::milliseconds timeout);
  // Ends the request at the engine's next iteration (its slot freed), with
  // Finish::kCancelled; harmless after it finished.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  friend class Engine;
  void push(EngineEvent e);
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EngineEvent> events_;
  std::atomic<bool> cancelled_{false};
};

struct EngineStats {
  int64_t slots = 0, active = 0, queued = 0;
  int64_t prompt_tokens = 0, generated_tokens = 0;  // totals since start
  int64_t decode_steps = 0, decode_rows = 0;         // batched steps and rows in them (mean batch = rows/steps)
};

class Engine {
 public:
  // The model and tokenizer must outlive the engine. Starts the scheduler thread.
  Engine(GPT2Impl& model, std::shared_ptr<const Tokenizer> tokenizer, const EngineOptions& options);
  ~Engine();  // cancels everything and joins the thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks `r` (UsageError: empty prompt, bad id, over the context naming the
  // numbers, bad sampling values) and queues it. BusyError when the queue is
  // full or the engine is shutting down.
  std::shared_ptr<RequestHandle> submit(EngineRequest r);

  // Runs `fn` on the scheduler thread between two iterations (work that needs
  // the model, such as embeddings) and waits for it; rethrows what it throws.
  void run_on_engine(const std::function<void(GPT2Impl&)>& fn);

  // Embeddings: per input (1..n_ctx tokens, positions 0..T-1, no cache), the
  // final layer-normed hidden states averaged over the positions, or the last
  // position's when `last`. Runs on the scheduler thread between two steps.
  // UsageError for an empty or too long input or a bad id.
  std::vector<std::vector<float>> embed(const std::vector<std::vector<TokenId>>& inputs, bool last);

  // Stops taking requests (submit throws BusyError); queued and running ones go on.
  void stop_accepting();
  // Waits until nothing is queued or running, at most `timeout`. True when idle.
  bool wait_idle(std::chrono::milliseconds timeout);
  // Cancels every queued and running request.
  void cancel_all();

  EngineStats stats() const;
  const EngineOptions& options() const { return options_; }
  int64_t n_ctx() const { return model_.hparams().n_ctx; }

 private:
  struct Slot;
  struct Task {
    std::function<void(GPT2Impl&)> fn;
    std::promise<void> done;
  };
  void loop();
  void admit_locked();
  bool prompt_work(Slot& s);      // one unit of prompt work; false when the slot is done with its prompt
  void after_logits(Slot& s, const float* logits);  // sample, report, finish or go on
  void finish(Slot& s, Finish why, const std::string& error = "");

  GPT2Impl& model_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  EngineOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // work arrived / stop
  std::condition_variable idle_cv_;  // a request finished
  std::deque<std::pair<EngineRequest, std::shared_ptr<RequestHandle>>> queue_;
  std::deque<std::shared_ptr<Task>> tasks_;
  int64_t active_ = 0;               // slots in use (guarded by mu_)
  uint64_t admitted_ = 0;            // admission counter (prompt work goes to the oldest)
  bool accepting_ = true, stop_ = false;
  EngineStats totals_;               // token counters (guarded by mu_)
  std::thread thread_;
};

}  // namespace gpt2::serve
