// `gpt2 bench` measurements (see include/gpt2/bench.hpp).
#include "gpt2/bench/bench.hpp"

#include "gpt2/base/format.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/generate/decode_session.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/model/model_loader.hpp"

namespace gpt2 {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int64_t peak_rss_bytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // ru_maxrss is in KiB on Linux
}

void check_options(const BenchOptions& o) {
  if (o.threads < 0) throw UsageError("--threads must be >= 0 (0: every core), got " + std::to_string(o.threads));
  if (o.repetitions < 1 || o.repetitions > 1000)
    throw UsageError("--reps must be in 1..1000, got " + std::to_string(o.repetitions));
  if (o.decode_tokens < 1) throw UsageError("--tokens must be >= 1, got " + std::to_string(o.decode_tokens));
  for (int64_t t : o.prompt_lengths)
    if (t < 1) throw UsageError("--prompt lengths must be >= 1, got " + std::to_string(t));
  for (int64_t b : o.batches)
    if (b < 1 || b > 4096) throw UsageError("--batch sizes must be in 1..4096, got " + std::to_string(b));
}

// ids: [B, T] int64 uniformly random tokens.
torch::Tensor random_ids(int64_t batch, int64_t t, int64_t vocab, at::Generator& gen) {
  return torch::randint(vocab, {batch, t}, gen, torch::kInt64);
}

// Greedy continuation of `prompt` ([1, P]) for n tokens: ids [1, P + n].
torch::Tensor greedy(GPT2Impl& model, const torch::Tensor& prompt, int64_t n) {
  DecodeSession session(model, 1, prompt.size(1) + n);
  auto next = session.prefill(prompt).argmax(-1, true);  // [1, 1]
  std::vector<torch::Tensor> parts = {prompt, next};
  for (int64_t i = 1; i < n; ++i) {
    next = session.step(next).argmax(-1, true);
    parts.push_back(next);
  }
  return torch::cat(parts, 1);  // [1, P + n]
}

// Runs f with the products on the given backend, restoring the previous one.
template <class F>
auto with_backend(ops::Backend b, const F& f) {
  const ops::Backend before = ops::backend();
  ops::set_backend(b);
  struct Restore {
    ops::Backend b;
    ~Restore() { ops::set_backend(b); }
  } restore{before};
  return f();
}

// Logits predicting seq[P..P+n) fed token by token through the cache (the
// decoding path: few-row kernels), teacher-forced on seq: [n, V] float64.
torch::Tensor stepwise_logits(GPT2Impl& model, const torch::Tensor& seq, int64_t p, int64_t n) {
  DecodeSession session(model, 1, p + n);
  std::vector<torch::Tensor> rows = {session.prefill(seq.narrow(1, 0, p))};  // [1, V]
  for (int64_t i = 0; i + 1 < n; ++i) rows.push_back(session.step(seq.narrow(1, p + i, 1)));
  return torch::cat(rows, 0).to(torch::kFloat64);  // [n, V]
}

BenchReport::Accuracy measure_accuracy(GPT2Impl& model, GPT2Impl& reference, int64_t prompt_len, int64_t n,
                                       at::Generator& gen) {
  BenchReport::Accuracy a;
  const int64_t n_ctx = model.hparams().n_ctx;
  prompt_len = std::max<int64_t>(1, std::min({prompt_len, n_ctx / 2, ops::kMaxKernelRows}));
  n = std::max<int64_t>(1, std::min(n, n_ctx - prompt_len));
  auto prompt = random_ids(1, prompt_len, model.hparams().n_vocab, gen);                 // [1, P]
  auto seq32 = with_backend(ops::Backend::kReference, [&] { return greedy(reference, prompt, n); });  // [1, P + n]
  auto seq = greedy(model, prompt, n);                                                   // [1, P + n]
  // Logits at the positions that predict the continuation, both models fed seq32.
  auto l32 = with_backend(ops::Backend::kReference, [&] { return stepwise_logits(reference, seq32, prompt_len, n); });  // [n, V]
  auto l = stepwise_logits(model, seq32, prompt_len, n);                                 // [n, V]
  a.measured = true;
  a.prompt_tokens = prompt_len;
  a.generated_tokens = n;
  a.rel_logit_error = ((l - l32).norm() / l32.norm().clamp_min(1e-30)).item<double>();
  a.max_abs_logit_error = (l - l32).abs().max().item<double>();
  a.teacher_forced_agreement = l.argmax(-1).eq(l32.argmax(-1)).to(torch::kFloat64).mean().item<double>();
  auto same = seq.narrow(1, prompt_len, n).eq(seq32.narrow(1, prompt_len, n))[0];        // [n]
  while (a.greedy_common_prefix < n && same[a.greedy_common_prefix].item<bool>()) ++a.greedy_common_prefix;
  return a;
}

// The model to measure: random weights of `random_hp`, or the model directory
// opened through the one loader (gpt2/model_loader.hpp). Sets load_ms.
GPT2 build_model(const BenchOptions& opt, const HParams& random_hp, ops::WeightType type, double& load_ms) {
  const auto t0 = Clock::now();
  GPT2 model{nullptr};
  if (opt.model_dir.empty()) {
    ModelOptions mo;
    mo.weight_type = type;
    mo.kv_cache_type = opt.kv_cache_type;
    model = GPT2(random_model_weights(random_hp, opt.seed), mo);
  } else {
    ModelSpec spec;
    spec.model = opt.model_dir.string();
    spec.weight_type = type;
    spec.kv_cache_type = opt.kv_cache_type;
    spec.device = "cpu";
    model = load_model(spec).model;
  }
  load_ms = seconds_since(t0) * 1e3;
  return model;
}

}  // namespace

double BenchStat::min() const { return values.empty() ? 0 : *std::min_element(values.begin(), values.end()); }
double BenchStat::max() const { return values.empty() ? 0 : *std::max_element(values.begin(), values.end()); }
double BenchStat::median() const {
  if (values.empty()) return 0;
  auto v = values;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t decode_step_weight_bytes(const HParams& hp, ops::WeightType type) {
  const int64_t C = hp.n_embd;
  auto bytes = [&](int64_t in, int64_t out) { return ops::Projection::bytes_for(type, in, out, /*bias=*/true); };
  const int64_t per_layer = bytes(C, 3 * C) + bytes(C, C) + bytes(C, 4 * C) + bytes(4 * C, C);
  return hp.n_layer * per_layer + ops::Projection::bytes_for(type, C, hp.n_vocab, /*bias=*/false);
}

BenchReport run_bench(const BenchOptions& opt, const std::function<void(const std::string&)>& progress) {
  check_options(opt);
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  BenchReport rep;
  rep.threads = opt.threads > 0 ? opt.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  at::set_num_threads(rep.threads);
  rep.weight_type = opt.weight_type;
  rep.kv_cache_type = opt.kv_cache_type;
  rep.kernels = ops::kernel_description();
  rep.random_weights = opt.model_dir.empty();
  c10::InferenceMode guard;

  const HParams random_hp = rep.random_weights ? HParams::released(opt.random_size) : HParams{};
  GPT2 model = build_model(opt, random_hp, opt.weight_type, rep.load_ms);
  rep.hp = model->hparams();
  rep.model = rep.random_weights ? "random " + opt.random_size : opt.model_dir.string();
  rep.weight_bytes_per_step = decode_step_weight_bytes(rep.hp, opt.weight_type);
  say("loaded " + rep.model + " in " + strprintf("%.1f ms", rep.load_ms));

  auto gen = at::detail::createCPUGenerator(opt.seed + 1);
  const int64_t V = rep.hp.n_vocab, n_ctx = rep.hp.n_ctx;

  // Prompt processing: one pass over T tokens, last-position logits only.
  for (int64_t t : opt.prompt_lengths) {
    if (t > n_ctx) {
      rep.notes.push_back("prompt of " + std::to_string(t) + " tokens skipped: n_ctx is " + std::to_string(n_ctx));
      continue;
    }
    auto ids = random_ids(1, t, V, gen);  // [1, T]
    KVCache cache = model->make_cache(1, t);
    rep.kv_cache_bytes = std::max(rep.kv_cache_bytes, cache.bytes());
    model->forward(ids, cache, true);  // warm-up: first touch of weights, pools, allocator
    BenchReport::Prompt p;
    p.tokens = t;
    for (int r = 0; r < opt.repetitions; ++r) {
      cache.reset();
      const auto t0 = Clock::now();
      auto logits = model->forward(ids, cache, true);  // [1, V]
      p.tokens_per_s.values.push_back(static_cast<double>(t) / seconds_since(t0));
    }
    say("prompt " + std::to_string(t) + " tokens: " + strprintf("%.1f tok/s", p.tokens_per_s.median()));
    rep.prompts.push_back(std::move(p));
  }

  // Decoding: a random prompt of `decode_context` tokens (computed once, shared
  // by every row), then `steps` single-token steps per row from there, feeding
  // back each row's greedy choice; each run rewinds to the prompt.
  const int64_t context = opt.decode_context;
  if (context < 1 || context >= n_ctx)
    throw UsageError("--context must be 1.." + std::to_string(n_ctx - 1) + " (n_ctx - 1), got " +
                     std::to_string(context));
  const int64_t steps = std::min(opt.decode_tokens, n_ctx - context);
  if (steps < opt.decode_tokens)
    rep.notes.push_back("decode capped to " + std::to_string(steps) + " steps by n_ctx " + std::to_string(n_ctx));
  for (int64_t b : opt.batches) {
    DecodeSession session(*model, b, context + steps);
    rep.kv_cache_bytes = std::max(rep.kv_cache_bytes, session.cache().bytes());
    const torch::Tensor prompt = random_ids(1, context, V, gen);  // [1, context]
    const std::vector<int64_t> row(prompt.data_ptr<int64_t>(), prompt.data_ptr<int64_t>() + context);
    const torch::Tensor first = session.prefill_rows(std::vector<std::vector<int64_t>>(static_cast<size_t>(b), row))
                                    .argmax(-1, true);  // [B, 1]
    auto run = [&](int64_t n_steps) {
      session.rewind(context);
      torch::Tensor next = first;
      const auto t0 = Clock::now();
      for (int64_t s = 0; s < n_steps; ++s) next = session.step(next).argmax(-1, true);
      return seconds_since(t0);
    };
    run(std::min<int64_t>(steps, 8));  // warm-up
    BenchReport::Decode d;
    d.batch = b;
    d.steps = steps;
    d.context = context;
    for (int r = 0; r < opt.repetitions; ++r) {
      const double s = run(steps);
      d.tokens_per_s.values.push_back(static_cast<double>(b * steps) / s);
      d.weight_gb_per_s.values.push_back(static_cast<double>(rep.weight_bytes_per_step) * steps / s / 1e9);
    }
    say("decode batch " + std::to_string(b) + ": " + strprintf("%.1f tok/s", d.tokens_per_s.median()));
    rep.decodes.push_back(std::move(d));
  }
  rep.peak_rss_bytes = peak_rss_bytes();  // before the accuracy check builds a second model

  if (opt.accuracy) {
    double ignored_ms = 0;
    GPT2 reference = build_model(opt, random_hp, ops::WeightType::kFloat32, ignored_ms);
    rep.accuracy = measure_accuracy(*model, *reference, opt.accuracy_prompt, opt.accuracy_tokens, gen);
    say("accuracy: relative logit error " + strprintf("%.3g", rep.accuracy.rel_logit_error));
  }
  return rep;
}

std::string BenchReport::to_text() const {
  std::string s;
  s += "model      " + model + "  (n_layer " + std::to_string(hp.n_layer) + ", n_embd " + std::to_string(hp.n_embd) +
       ", n_head " + std::to_string(hp.n_head) + ", n_ctx " + std::to_string(hp.n_ctx) + ")\n";
  s += "weights    " + ops::to_string(weight_type) + ", " + format_bytes(weight_bytes_per_step) + " read per decode step\n";
  s += "kernels    " + kernels + ", " + std::to_string(threads) + " thread(s)\n";
  s += std::string(random_weights ? "init       " : "load       ") + strprintf("%.1f ms", load_ms) + "\n";
  for (const auto& p : prompts)
    s += "prompt     " + strprintf("%4.0f", static_cast<double>(p.tokens)) + " tokens   " +
         strprintf("median %8.1f tok/s", p.tokens_per_s.median()) + strprintf("  (min %.1f", p.tokens_per_s.min()) +
         strprintf(", max %.1f", p.tokens_per_s.max()) + ", " + std::to_string(p.tokens_per_s.values.size()) + " runs)\n";
  for (const auto& d : decodes)
    s += "decode     batch " + strprintf("%3.0f", static_cast<double>(d.batch)) + "   " +
         strprintf("median %8.1f tok/s", d.tokens_per_s.median()) + strprintf("  (min %.1f", d.tokens_per_s.min()) +
         strprintf(", max %.1f", d.tokens_per_s.max()) + ", " + std::to_string(d.steps) + " steps from position " +
         std::to_string(d.context) + " x " +
         std::to_string(d.tokens_per_s.values.size()) + " runs)  " +
         strprintf("weights %.1f GB/s", d.weight_gb_per_s.median()) + "\n";
  s += "memory     peak RSS " + format_bytes(peak_rss_bytes) + " (weights " + format_bytes(weight_bytes_per_step) + ", largest KV cache " +
       format_bytes(kv_cache_bytes) + " " + kv_cache_type_name(kv_cache_type) + ")\n";
  if (accuracy.measured)
    s += "accuracy   vs float32 reference: relative logit error " + strprintf("%.3g", accuracy.rel_logit_error) +
         strprintf(" (max abs %.3g)", accuracy.max_abs_logit_error) + strprintf(", same argmax at %.1f%%", 100 * accuracy.teacher_forced_agreement) +
         " of " + std::to_string(accuracy.generated_tokens) + " positions, greedy identical for the first " +
         std::to_string(accuracy.greedy_common_prefix) + " of " + std::to_string(accuracy.generated_tokens) + " tokens\n";
  for (const auto& n : notes) s += "note       " + n + "\n";
  return s;
}

std::string BenchReport::to_json() const {
  auto stat = [](const BenchStat& st) {
    return nlohmann::json{{"median", st.median()}, {"min", st.min()}, {"max", st.max()}, {"values", st.values}};
  };
  nlohmann::json j;
  j["model"] = model;
  j["random_weights"] = random_weights;
  j["hparams"] = nlohmann::json::parse(hp.to_json());
  j["dtype"] = ops::to_string(weight_type);
  j["kernels"] = kernels;
  j["threads"] = threads;
  j["load_ms"] = load_ms;
  j["weight_bytes_per_step"] = weight_bytes_per_step;
  j["prompt"] = nlohmann::json::array();
  for (const auto& p : prompts) j["prompt"].push_back({{"tokens", p.tokens}, {"tokens_per_s", stat(p.tokens_per_s)}});
  j["decode"] = nlohmann::json::array();
  for (const auto& d : decodes)
    j["decode"].push_back({{"batch", d.batch},
                           {"steps", d.steps},
                           {"context", d.context},
                           {"tokens_per_s", stat(d.tokens_per_s)},
                           {"weight_gb_per_s", stat(d.weight_gb_per_s)}});
  j["kv_cache_bytes"] = kv_cache_bytes;
  j["kv_cache"] = kv_cache_type_name(kv_cache_type);
  j["peak_rss_bytes"] = peak_rss_bytes;
  if (accuracy.measured)
    j["accuracy"] = {{"prompt_tokens", accuracy.prompt_tokens},
                     {"generated_tokens", accuracy.generated_tokens},
                     {"rel_logit_error", accuracy.rel_logit_error},
                     {"max_abs_logit_error", accuracy.max_abs_logit_error},
                     {"teacher_forced_agreement", accuracy.teacher_forced_agreement},
                     {"greedy_common_prefix", accuracy.greedy_common_prefix}};
  j["notes"] = notes;
  return j.dump();
}

}  // namespace gpt2
