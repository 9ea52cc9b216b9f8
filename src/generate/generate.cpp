#include "gpt2/generate/generate.hpp"

#include <torch/cuda.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>

#include "gpt2/generate/context.hpp"
#include "gpt2/generate/decode_session.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/generate/text_stream.hpp"

namespace gpt2 {

std::string to_string(FinishReason r) {
  switch (r) {
    case FinishReason::kLength: return "length";
    case FinishReason::kEndOfText: return "eot";
    case FinishReason::kStop: return "stop";
    case FinishReason::kInterrupted: return "interrupted";
  }
  return "?";
}

std::string GenerateStats::describe() const {
  auto i = [](double v) { return std::to_string(static_cast<int64_t>(v)); };
  return "prompt " + std::to_string(prompt_tokens) + " tokens in " + i(prompt_ms) + " ms (" + i(prompt_tokens_per_s()) +
         " tokens/s); generated " + std::to_string(generated_tokens) + " tokens in " + i(generate_ms) + " ms (" +
         i(generated_tokens_per_s()) + " tokens/s)";
}

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
// Every check of a request, before anything is computed.
void check_request(const HParams& hp, const std::shared_ptr<const Tokenizer>& tokenizer,
                   const std::vector<RowRequest>& rows, const GenerateOptions& options) {
  if (!tokenizer) throw UsageError("generate: no tokenizer");
  if (rows.empty()) throw UsageError("--batch-size must be at least 1");
  const int64_t T = static_cast<int64_t>(rows[0].prompt.size());
  if (T < 1) throw UsageError("the prompt is empty (it must have at least one token)");
  for (const RowRequest& r : rows)
    if (static_cast<int64_t>(r.prompt.size()) != T)
      throw UsageError("generate_rows: every prompt of a batch must have the same number of tokens");
  for (const RowRequest& r : rows) {
    const int64_t length = r.settings && r.settings->length ? *r.settings->length : options.length;
    if (length < 1) throw UsageError("--length must be at least 1");
    if (options.context_shift) {
      if (T > hp.n_ctx)
        throw UsageError("a prompt of " + std::to_string(T) + " tokens does not fit the model's context of " +
                         std::to_string(hp.n_ctx) + " tokens, even with --context-shift; use a shorter prompt or "
                         "--truncate-prompt");
    } else {
      check_context(T, length, hp.n_ctx, false, true);  // the one context rule (gpt2/context.hpp)
    }
  }
  const int64_t vocab = tokenizer->vocab_size();
  validate_sampling(options.sampling, vocab);
  for (const RowRequest& r : rows)
    if (r.settings && r.settings->sampling) validate_sampling(*r.settings->sampling, vocab);
  if (vocab > hp.n_vocab)
    throw Error("the tokenizer has " + std::to_string(vocab) + " tokens but the model only " +
                std::to_string(hp.n_vocab));
  for (const RowRequest& r : rows)
    for (TokenId id : r.prompt)
      if (id < 0 || id >= vocab) throw UsageError("prompt token id " + std::to_string(id) + " is outside the vocabulary");
}

// The state of one row while it is generated.
struct Row {
  std::vector<int64_t> prompt;  // its prompt
  std::vector<int64_t> fed;     // every token of its sequence so far (prompt + each sampled token)
  std::vector<int64_t> generated;  // the tokens it keeps (for penalties)
  int64_t length = 0;              // tokens to generate
  bool done = false;
};

// One group of rows (at most ops::kMaxKernelRows on the CPU) generated together.
// `offset`: index of the group's first row in `result` and in the callbacks.
void generate_group(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                    const std::vector<RowRequest>& requests, int64_t offset, const GenerateOptions& options,
                    const GenerateCallbacks& callbacks, GenerateResult& result) {
  const HParams& hp = model.hparams();
  const int64_t B = static_cast<int64_t>(requests.size());
  const int64_t T = static_cast<int64_t>(requests[0].prompt.size());
  const int64_t vocab = tokenizer->vocab_size();
  const TokenId eot = tokenizer->eot_id();

  std::vector<Row> rows(static_cast<size_t>(B));
  std::vector<TextStream> texts;
  std::vector<SampleRng> rngs;
  std::vector<RowHistory> history;
  std::vector<SamplerChain> chains;  // one per row, built once
  int64_t max_length = 0;
  for (int64_t r = 0; r < B; ++r) {
    const RowRequest& req = requests[static_cast<size_t>(r)];
    const RowSettings own = req.settings ? *req.settings : RowSettings{};
    Row& row = rows[static_cast<size_t>(r)];
    row.prompt.assign(req.prompt.begin(), req.prompt.end());
    row.fed = row.prompt;
    row.length = own.length.value_or(options.length);
    max_length = std::max(max_length, row.length);
    texts.emplace_back(tokenizer, own.stop.value_or(options.stop));
    rngs.emplace_back(own.seed.value_or(options.seed), req.sample_index);
    chains.emplace_back(own.sampling.value_or(options.sampling));
  }
  std::vector<const SamplerChain*> chain_of;
  for (const SamplerChain& c : chains) chain_of.push_back(&c);
  for (Row& row : rows) history.push_back({&row.prompt, &row.generated});
  int64_t unfinished = B;
  auto emit = [&](int64_t r, const std::string& s) {
    if (!s.empty() && callbacks.on_text) callbacks.on_text(offset + r, s);
  };
  auto end_row = [&](int64_t r, FinishReason why) {
    const size_t i = static_cast<size_t>(r);
    GeneratedRow& out = result.rows[static_cast<size_t>(offset + r)];
    emit(r, texts[i].finish());
    out.finish = texts[i].stopped() ? FinishReason::kStop : why;
    out.text = texts[i].text();
    rows[i].done = true;
    --unfinished;
  };
  auto interrupted = [&] { return callbacks.should_stop && callbacks.should_stop(); };
  if (interrupted()) {
    for (int64_t r = 0; r < B; ++r) end_row(r, FinishReason::kInterrupted);
    return;
  }

  const int64_t capacity = options.context_shift ? hp.n_ctx : positions_needed(T, max_length);
  const int64_t keep = std::max<int64_t>(1, hp.n_ctx / 2);  // K: the context kept by a shift
  DecodeSession session(model, B, capacity);
  auto t0 = Clock::now();
  std::vector<std::vector<int64_t>> prompts;
  for (const Row& row : rows) prompts.push_back(row.prompt);
  torch::Tensor logits = session.prefill_rows(prompts);  // [B, V]
  if (logits.is_cuda()) torch::cuda::synchronize();
  result.stats.prompt_tokens += B * T;
  result.stats.prompt_ms += ms_since(t0);

  t0 = Clock::now();
  for (int64_t step = 0; step < max_length; ++step) {
    if (vocab < hp.n_vocab) logits = logits.narrow(1, 0, vocab);  // [B, vocab]: never ids without text
    const std::vector<int64_t> next = sample_tokens(logits, chain_of, rngs, history);
    result.stats.generated_tokens += unfinished;
    for (int64_t r = 0; r < B; ++r) {
      Row& row = rows[static_cast<size_t>(r)];
      row.fed.push_back(next[static_cast<size_t>(r)]);
      if (row.done) continue;
      const TokenId id = static_cast<TokenId>(next[static_cast<size_t>(r)]);
      if (id == eot && !options.ignore_eot) {
        end_row(r, FinishReason::kEndOfText);
        continue;
      }
      row.generated.push_back(id);
      result.rows[static_cast<size_t>(offset + r)].tokens.push_back(id);
      emit(r, texts[static_cast<size_t>(r)].push(id));
      if (texts[static_cast<size_t>(r)].stopped()) end_row(r, FinishReason::kStop);
      else if (row.length < max_length && static_cast<int64_t>(row.generated.size()) == row.length)
        end_row(r, FinishReason::kLength);  // a shorter row of the batch (its own --length)
    }
    if (unfinished == 0 || step + 1 == max_length) break;
    if (interrupted()) {
      for (int64_t r = 0; r < B; ++r)
        if (!rows[static_cast<size_t>(r)].done) end_row(r, FinishReason::kInterrupted);
      break;
    }
    if (session.length() < hp.n_ctx) {
      logits = session.step(next);  // [B, V]
    } else {  // context shift: the last K tokens of every row, recomputed from position 0
      std::vector<std::vector<int64_t>> windows;
      for (const Row& row : rows) windows.emplace_back(row.fed.end() - keep, row.fed.end());
      logits = session.prefill_rows(windows);  // [B, V]
      result.stats.context_shifts += 1;
    }
  }
  for (int64_t r = 0; r < B; ++r)
    if (!rows[static_cast<size_t>(r)].done) end_row(r, FinishReason::kLength);
  result.stats.generate_ms += ms_since(t0);
}

}  // namespace

GenerateResult generate_rows(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                             const std::vector<RowRequest>& rows, const GenerateOptions& options,
                             const GenerateCallbacks& callbacks) {
  check_request(model.hparams(), tokenizer, rows, options);
  c10::InferenceMode guard;
  GenerateResult result;
  result.rows.resize(rows.size());
  // On the CPU, groups of at most kMaxKernelRows rows: every decode step then runs
  // on the few-row kernels, whose per-row arithmetic does not depend on the batch.
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t group = model.device().is_cpu() ? ops::kMaxKernelRows : n;
  for (int64_t g = 0; g < n; g += group) {
    const int64_t end = std::min(n, g + group);
    std::vector<RowRequest> part(rows.begin() + g, rows.begin() + end);
    generate_group(model, tokenizer, part, g, options, callbacks, result);
  }
  return result;
}

GenerateResult generate(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                        const std::vector<TokenId>& prompt, int64_t batch, const GenerateOptions& options,
                        const GenerateCallbacks& callbacks) {
  if (batch < 1) throw UsageError("--batch-size must be at least 1");
  std::vector<RowRequest> rows(static_cast<size_t>(batch));
  for (int64_t r = 0; r < batch; ++r) rows[static_cast<size_t>(r)] = {prompt, options.first_sample + static_cast<uint64_t>(r), nullptr};
  return generate_rows(model, tokenizer, rows, options, callbacks);
}

}  // namespace gpt2
