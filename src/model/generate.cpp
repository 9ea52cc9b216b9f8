#include "gpt2/generate.hpp"

#include <torch/cuda.h>
#include <torch/torch.h>

#include <chrono>

#include "gpt2/context.hpp"
#include "gpt2/decode_session.hpp"
#include "gpt2/errors.hpp"
#include "gpt2/ops.hpp"
#include "gpt2/text_stream.hpp"

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
// Every check of a generate() request, before anything is computed.
void check_request(const HParams& hp, const std::shared_ptr<const Tokenizer>& tokenizer,
                   const std::vector<TokenId>& prompt, int64_t batch, const GenerateOptions& options) {
  const int64_t T = static_cast<int64_t>(prompt.size());
  if (!tokenizer) throw UsageError("generate: no tokenizer");
  if (T < 1) throw UsageError("the prompt is empty (it must have at least one token)");
  if (options.length < 1) throw UsageError("--length must be at least 1");
  if (batch < 1) throw UsageError("--batch-size must be at least 1");
  check_context(T, options.length, hp.n_ctx);  // the one context rule (gpt2/context.hpp)
  validate_sampling(options.sampling);
  const int64_t vocab = tokenizer->vocab_size();
  if (vocab > hp.n_vocab)
    throw Error("the tokenizer has " + std::to_string(vocab) + " tokens but the model only " +
                std::to_string(hp.n_vocab));
  for (TokenId id : prompt)
    if (id < 0 || id >= vocab) throw UsageError("prompt token id " + std::to_string(id) + " is outside the vocabulary");
}

}  // namespace

GenerateResult generate(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                        const std::vector<TokenId>& prompt, int64_t batch,
                        const GenerateOptions& options, const GenerateCallbacks& callbacks) {
  const HParams& hp = model.hparams();
  const int64_t T = static_cast<int64_t>(prompt.size());
  check_request(hp, tokenizer, prompt, batch, options);
  const int64_t vocab = tokenizer->vocab_size();
  const TokenId eot = tokenizer->eot_id();

  GenerateResult result;
  result.rows.resize(static_cast<size_t>(batch));
  std::vector<TextStream> texts;
  std::vector<SampleRng> rngs;
  texts.reserve(static_cast<size_t>(batch));
  rngs.reserve(static_cast<size_t>(batch));
  for (int64_t r = 0; r < batch; ++r) {
    texts.emplace_back(tokenizer, options.stop);
    rngs.emplace_back(options.seed, options.first_sample + static_cast<uint64_t>(r));
  }
  std::vector<bool> done(static_cast<size_t>(batch), false);
  int64_t unfinished = batch;
  auto emit = [&](int64_t r, const std::string& s) {
    if (!s.empty() && callbacks.on_text) callbacks.on_text(r, s);
  };
  auto end_row = [&](int64_t r, FinishReason why) {
    const size_t i = static_cast<size_t>(r);
    emit(r, texts[i].finish());
    result.rows[i].finish = texts[i].stopped() ? FinishReason::kStop : why;
    result.rows[i].text = texts[i].text();
    done[i] = true;
    --unfinished;
  };
  auto interrupted = [&] { return callbacks.should_stop && callbacks.should_stop(); };

  c10::InferenceMode guard;
  DecodeSession session(model, batch, positions_needed(T, options.length));
  if (interrupted()) {
    for (int64_t r = 0; r < batch; ++r) end_row(r, FinishReason::kInterrupted);
    return result;
  }

  // Prompt: every row the same tokens, one pass.
  auto t0 = Clock::now();
  torch::Tensor ids = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kInt64)
                          .unsqueeze(0)
                          .expand({batch, T})
                          .contiguous();                    // [B, T]
  torch::Tensor logits = session.prefill(ids);               // [B, V]
  if (logits.is_cuda()) torch::cuda::synchronize();
  result.stats.prompt_tokens = batch * T;
  result.stats.prompt_ms = ms_since(t0);

  t0 = Clock::now();
  for (int64_t step = 0; step < options.length; ++step) {
    if (vocab < hp.n_vocab) logits = logits.narrow(1, 0, vocab);  // [B, vocab]: never ids without text
    const std::vector<int64_t> next = sample_tokens(logits, options.sampling, rngs);
    result.stats.generated_tokens += unfinished;
    for (int64_t r = 0; r < batch; ++r) {
      const size_t i = static_cast<size_t>(r);
      if (done[i]) continue;
      const TokenId id = static_cast<TokenId>(next[i]);
      if (id == eot && !options.ignore_eot) {
        end_row(r, FinishReason::kEndOfText);
        continue;
      }
      result.rows[i].tokens.push_back(id);
      emit(r, texts[i].push(id));
      if (texts[i].stopped()) end_row(r, FinishReason::kStop);
    }
    if (unfinished == 0 || step + 1 == options.length) break;
    if (interrupted()) {
      for (int64_t r = 0; r < batch; ++r)
        if (!done[static_cast<size_t>(r)]) end_row(r, FinishReason::kInterrupted);
      break;
    }
    logits = session.step(next);  // [B, V]
  }
  for (int64_t r = 0; r < batch; ++r)
    if (!done[static_cast<size_t>(r)]) end_row(r, FinishReason::kLength);
  result.stats.generate_ms = ms_since(t0);
  return result;
}

}  // namespace gpt2
