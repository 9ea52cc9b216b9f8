#include "gpt2/serve/engine.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "gpt2/generate/context.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/score/score.hpp"
#include "gpt2/generate/text_stream.hpp"

namespace gpt2::serve {

// ---------------------------------------------------------------- RequestHandle

bool RequestHandle::next(EngineEvent& e, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
  e = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestHandle::push(EngineEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

// ---------------------------------------------------------------- one slot

struct Engine::Slot {
  KVCache cache;  // batch 1, n_ctx positions
  enum class State { kFree, kPrompt, kDecode } state = State::kFree;
  EngineRequest req;
  std::shared_ptr<RequestHandle> handle;
  uint64_t order = 0;           // admission number
  bool echo_done = false;
  int64_t prefilled = 0;        // prompt tokens in the cache
  std::optional<TextStream> text;
  std::vector<SampleRng> rng;   // one stream
  std::optional<SamplerChain> chain;  // the request's samplers, built once
  std::vector<int64_t> prompt, generated;
  int64_t next_id = 0;          // the sampled token the next decode step feeds
};

namespace {

// log_softmax in float64 of one row of logits: the log-prob of `id` and the
// `top` most likely entries (most likely first, lower id first on ties).
TokenLogprob logprob_of(const float* logits, int64_t V, TokenId id, int64_t top) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < V; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(sum);
  TokenLogprob out;
  out.id = id;
  out.logprob = static_cast<double>(logits[id]) - lse;
  out.rank = 1;
  for (int64_t i = 0; i < V; ++i) out.rank += logits[i] > logits[id] ? 1 : 0;
  if (top > 0) {
    const int64_t k = std::min(top, V);
    std::vector<int64_t> idx(static_cast<size_t>(V));
    for (int64_t i = 0; i < V; ++i) idx[static_cast<size_t>(i)] = i;
    std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int64_t j = 0; j < k; ++j) {
      const int64_t i = idx[static_cast<size_t>(j)];
      out.top.push_back({static_cast<TokenId>(i), static_cast<double>(logits[i]) - lse});
    }
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- Engine

Engine::Engine(GPT2Impl& model, std::shared_ptr<const Tokenizer> tokenizer, const EngineOptions& options)
    : model_(model), tokenizer_(std::move(tokenizer)), options_(options) {
  if (options_.slots < 1) throw UsageError("--parallel must be at least 1, got " + std::to_string(options_.slots));
  if (options_.queue < 0) throw UsageError("the request queue cannot be negative");
  if (options_.prefill_chunk < 1) throw UsageError("the prefill chunk must be at least 1 token");
  if (!tokenizer_) throw UsageError("engine: no tokenizer");
  if (tokenizer_->vocab_size() > model_.hparams().n_vocab)
    throw Error("the tokenizer has " + std::to_string(tokenizer_->vocab_size()) + " tokens but the model only " +
                std::to_string(model_.hparams().n_vocab));
  for (int64_t i = 0; i < options_.slots; ++i) {
    auto s = std::make_unique<Slot>();
    s->cache = model_.make_cache(1, 0);
    slots_.push_back(std::move(s));
  }
  totals_.slots = options_.slots;
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    accepting_ = false;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<RequestHandle> Engine::submit(EngineRequest r) {
  const int64_t T = static_cast<int64_t>(r.prompt.size());
  if (T < 1) throw UsageError("the prompt is empty (it must have at least one token)");
  const int64_t vocab = tokenizer_->vocab_size();
  for (TokenId id : r.prompt)
    if (id < 0 || id >= vocab)
      throw UsageError("prompt token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                       std::to_string(vocab - 1) + ")");
  if (r.max_tokens < 0) throw UsageError("max_tokens must be at least 0, got " + std::to_string(r.max_tokens));
  const int64_t n_ctx = model_.hparams().n_ctx;
  if (r.max_tokens == 0 ? T > n_ctx : !fits_context(T, r.max_tokens, n_ctx))
    throw UsageError("the prompt (" + std::to_string(T) + " tokens) and max_tokens (" + std::to_string(r.max_tokens) +
                     ") need " + std::to_string(r.max_tokens == 0 ? T : positions_needed(T, r.max_tokens)) +
                     " positions; the model's context is " + std::to_string(n_ctx));
  if (r.logprobs > 20 || r.logprobs < -1) throw UsageError("logprobs must be between 0 and 20");
  validate_sampling(r.sampling, vocab);
  auto handle = std::make_shared<RequestHandle>();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) throw BusyError("the server is shutting down");
    const int64_t free_slots = options_.slots - active_;
    if (static_cast<int64_t>(queue_.size()) >= options_.queue + std::max<int64_t>(0, free_slots))
      throw BusyError("the server is busy: " + std::to_string(options_.slots) + " requests running and " +
                      std::to_string(queue_.size()) + " waiting");
    queue_.emplace_back(std::move(r), handle);
  }
  cv_.notify_all();
  return handle;
}

void Engine::run_on_engine(const std::function<void(GPT2Impl&)>& fn) {
  auto task = std::make_shared<Task>();
  task->fn = fn;
  std::future<void> done = task->done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) throw BusyError("the server is shutting down");
    tasks_.push_back(task);
  }
  cv_.notify_all();
  done.get();
}

std::vector<std::vector<float>> Engine::embed(const std::vector<std::vector<TokenId>>& inputs, bool last) {
  const int64_t n_ctx = model_.hparams().n_ctx, vocab = tokenizer_->vocab_size();
  for (const auto& in : inputs) {
    const int64_t T = static_cast<int64_t>(in.size());
    if (T < 1) throw UsageError("an input is empty (it must have at least one token)");
    if (T > n_ctx)
      throw UsageError("an input of " + std::to_string(T) + " tokens is longer than the model's context of " +
                       std::to_string(n_ctx));
    for (TokenId id : in)
      if (id < 0 || id >= vocab) throw UsageError("token id " + std::to_string(id) + " is outside the vocabulary");
  }
  std::vector<std::vector<float>> out;
  run_on_engine([&](GPT2Impl& m) {
    c10::InferenceMode guard;
    const auto buffers = m.named_buffers(false);
    const torch::Tensor g = buffers["ln_f_g"], b = buffers["ln_f_b"];
    const int64_t C = m.hparams().n_embd;
    for (const auto& in : inputs) {
      std::vector<int64_t> ids(in.begin(), in.end());
      torch::Tensor x = m.forward_hidden(torch::tensor(ids, torch::kInt64).unsqueeze(0))[0];  // [T, C]
      torch::Tensor y = torch::layer_norm(x, {C}, g, b, GPT2Impl::kLayerNormEps);           // [T, C]
      torch::Tensor v = (last ? y[y.size(0) - 1] : y.mean(0)).to(torch::kCPU).contiguous();  // [C]
      out.emplace_back(v.data_ptr<float>(), v.data_ptr<float>() + C);
    }
  });
  return out;
}

void Engine::stop_accepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

bool Engine::wait_idle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return active_ == 0 && queue_.empty(); });
}

void Engine::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& q : queue_) q.second->cancel();
  for (auto& s : slots_)
    if (s->handle) s->handle->cancel();
  cv_.notify_all();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = totals_;
  s.active = active_;
  s.queued = static_cast<int64_t>(queue_.size());
  return s;
}

void Engine::admit_locked() {
  for (auto& sp : slots_) {
    if (queue_.empty()) return;
    Slot& s = *sp;
    if (s.state != Slot::State::kFree) continue;
    s.req = std::move(queue_.front().first);
    s.handle = std::move(queue_.front().second);
    queue_.pop_front();
    s.state = Slot::State::kPrompt;
    s.order = admitted_++;
    s.echo_done = !s.req.echo_logprobs;
    s.prefilled = 0;
    s.cache.reset();
    s.text.emplace(tokenizer_, s.req.stop);
    s.rng.clear();
    s.rng.emplace_back(s.req.seed, s.req.sample_index);
    s.chain.emplace(s.req.sampling);
    s.prompt.assign(s.req.prompt.begin(), s.req.prompt.end());
    s.generated.clear();
    ++active_;
  }
}

void Engine::finish(Slot& s, Finish why, const std::string& error) {
  EngineEvent e;
  e.kind = EngineEvent::Kind::kDone;
  e.finish = why;
  e.error = error;
  if (s.text) e.text = s.text->finish();
  if (why == Finish::kLength && s.text && s.text->stopped()) e.finish = Finish::kStop;
  e.prompt_tokens = static_cast<int64_t>(s.prompt.size());
  e.completion_tokens = static_cast<int64_t>(s.generated.size());
  std::shared_ptr<RequestHandle> handle = std::move(s.handle);
  s.text.reset();
  s.chain.reset();
  s.state = Slot::State::kFree;
  {
    std::lock_guard<std::mutex> lock(mu_);
    --active_;  // before the caller hears of the end: a finished request never counts as active
  }
  idle_cv_.notify_all();
  handle->push(std::move(e));
}

bool Engine::prompt_work(Slot& s) {
  const int64_t T = static_cast<int64_t>(s.prompt.size());
  if (!s.echo_done) {  // the prompt's log-probs, by the same code as `gpt2 score`
    EngineEvent e;
    e.kind = EngineEvent::Kind::kPrompt;
    e.prompt.resize(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) e.prompt[static_cast<size_t>(i)].id = static_cast<TokenId>(s.prompt[static_cast<size_t>(i)]);
    if (T >= 2) {
      std::vector<TokenId> ids(s.prompt.begin(), s.prompt.end());
      const ScoredSequence scored = score_tokens(model_, ids, 0, 0, std::max<int64_t>(0, s.req.logprobs));
      for (const TokenScore& t : scored.tokens) {
        TokenLogprob& p = e.prompt[static_cast<size_t>(t.index)];
        p.logprob = t.logprob;
        p.rank = t.rank;
        for (const TopToken& a : t.top) p.top.push_back({a.id, a.logprob});
      }
    }
    s.handle->push(std::move(e));
    s.echo_done = true;
    if (s.req.max_tokens == 0) {
      finish(s, Finish::kLength);
      return false;
    }
    return true;
  }
  if (s.req.max_tokens == 0) {
    finish(s, Finish::kLength);
    return false;
  }
  const int64_t n = std::min(options_.prefill_chunk, T - s.prefilled);
  torch::Tensor ids = torch::from_blob(s.prompt.data() + s.prefilled, {1, n}, torch::kInt64);  // [1, n]
  torch::Tensor logits = model_.forward(ids, s.cache, true);                                   // [1, V]
  s.prefilled += n;
  {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.prompt_tokens += n;
  }
  if (s.prefilled < T) return true;
  logits = logits.to(torch::kCPU).contiguous();
  after_logits(s, logits.data_ptr<float>());
  return false;
}

void Engine::after_logits(Slot& s, const float* logits) {
  const int64_t vocab = tokenizer_->vocab_size();
  torch::Tensor row = torch::from_blob(const_cast<float*>(logits), {1, vocab}, torch::kFloat32);  // [1, vocab]
  const std::vector<RowHistory> history = {{&s.prompt, &s.generated}};
  const int64_t id = sample_tokens(row, {&*s.chain}, s.rng, history)[0];
  if (id == tokenizer_->eot_id() && !s.req.ignore_eos) {
    finish(s, Finish::kStop);
    return;
  }
  s.generated.push_back(id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    totals_.generated_tokens += 1;
  }
  EngineEvent e;
  e.kind = EngineEvent::Kind::kToken;
  if (s.req.logprobs >= 0)
    e.token = logprob_of(logits, vocab, static_cast<TokenId>(id), s.req.logprobs);
  else
    e.token.id = static_cast<TokenId>(id);
  e.text = s.text->push(static_cast<TokenId>(id));
  s.handle->push(std::move(e));
  if (s.text->stopped()) {
    finish(s, Finish::kStop);
  } else if (static_cast<int64_t>(s.generated.size()) >= s.req.max_tokens) {
    finish(s, Finish::kLength);
  } else {
    s.next_id = id;
    s.state = Slot::State::kDecode;
  }
}

void Engine::loop() {
  if (options_.threads > 0) at::set_num_threads(options_.threads);
  c10::InferenceMode inference;
  for (;;) {
    std::vector<std::shared_ptr<Task>> tasks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !tasks_.empty() || active_ > 0 || !queue_.empty(); });
      if (stop_) break;
      admit_locked();
      tasks.assign(tasks_.begin(), tasks_.end());
      tasks_.clear();
    }
    for (auto& t : tasks) {
      try {
        t->fn(model_);
        t->done.set_value();
      } catch (...) {
        t->done.set_exception(std::current_exception());
      }
    }
    // Cancelled requests leave first: their slots are free for the next iteration.
    for (auto& sp : slots_)
      if (sp->state != Slot::State::kFree && sp->handle->cancelled()) finish(*sp, Finish::kCancelled);
    // One unit of prompt work, for the oldest request reading its prompt.
    Slot* oldest = nullptr;
    for (auto& sp : slots_)
      if (sp->state == Slot::State::kPrompt && (oldest == nullptr || sp->order < oldest->order)) oldest = sp.get();
    if (oldest != nullptr) {
      try {
        prompt_work(*oldest);
      } catch (const std::exception& ex) {
        finish(*oldest, Finish::kError, ex.what());
      }
    }
    // One token for every generating request, in one batched step.
    std::vector<Slot*> rows;
    for (auto& sp : slots_)
      if (sp->state == Slot::State::kDecode) rows.push_back(sp.get());
    if (rows.empty()) continue;
    std::vector<int64_t> ids;
    std::vector<KVCache*> caches;
    for (Slot* s : rows) {
      ids.push_back(s->next_id);
      caches.push_back(&s->cache);
    }
    try {
      ops::SerialLibtorchGuard serial;  // the step and the per-row sampling: few rows, this thread
      torch::Tensor logits = model_.decode_rows(ids, caches).to(torch::kCPU).contiguous();  // [B, V]
      {
        std::lock_guard<std::mutex> lock(mu_);
        totals_.decode_steps += 1;
        totals_.decode_rows += static_cast<int64_t>(rows.size());
      }
      const int64_t V = logits.size(1);
      for (size_t b = 0; b < rows.size(); ++b) {
        try {
          after_logits(*rows[b], logits.data_ptr<float>() + static_cast<int64_t>(b) * V);
        } catch (const std::exception& ex) {
          finish(*rows[b], Finish::kError, ex.what());
        }
      }
    } catch (const std::exception& ex) {
      for (Slot* s : rows)
        if (s->state != Slot::State::kFree) finish(*s, Finish::kError, ex.what());
    }
  }
  // Stopping: every request still known ends as cancelled.
  for (auto& sp : slots_)
    if (sp->state != Slot::State::kFree) finish(*sp, Finish::kCancelled);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& q : queue_) {
    EngineEvent e;
    e.kind = EngineEvent::Kind::kDone;
    e.finish = Finish::kCancelled;
    q.second->push(std::move(e));
  }
  queue_.clear();
  for (auto& t : tasks_) t->done.set_exception(std::make_exception_ptr(BusyError("the server is shutting down")));
  tasks_.clear();
}

}  // namespace gpt2::serve
