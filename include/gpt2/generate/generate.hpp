// The generation loop: each distinct prompt in one pass through the KV cache,
// then one token per step (last-position logits only), sampled per row with its
// own random stream. Rows stop at <|endoftext|> (unless ignore_eot), at a stop
// string, after `length` tokens, or when the caller asks to stop.
//
// A row's numbers never depend on the other rows of its batch: prompts are
// computed one row at a time, decode steps on the CPU run in groups of at most
// ops::kMaxKernelRows rows through kernels whose per-row arithmetic is fixed,
// and every row samples from its own stream SampleRng(seed, sample index). So a
// sample is the same whatever batch size or shard produced it (same weights,
// dtype and machine).
//
// With context_shift, generation runs past n_ctx: the next token is always
// predicted from the sequence so far while it fits in n_ctx; when it would not,
// the context becomes its last K = n_ctx / 2 tokens (positions renumbered from
// 0, their keys/values recomputed in one pass), grows again until full, and is
// cut to its last K again.
//
// Text is produced incrementally and is always clean UTF-8: bytes of a
// character split across tokens are held back until complete, invalid bytes
// become U+FFFD (as the released decoder's errors="replace"), and text that
// could still turn out to be the start of a stop string is held back until
// it cannot.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gpt2/model/model.hpp"
#include "gpt2/generate/row_settings.hpp"
#include "gpt2/generate/sampler.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

struct GenerateOptions {
  int64_t length = 0;            // tokens to generate per row, >= 1
  SamplingOptions sampling;
  uint64_t seed = 0;             // row r draws from SampleRng(seed, first_sample + r)
  uint64_t first_sample = 0;     // global index of the batch's first row
  bool ignore_eot = false;       // false: a row ends at <|endoftext|>
  std::vector<std::string> stop; // a row ends before the first occurrence of any of these
  bool context_shift = false;    // run past n_ctx (see above) instead of refusing
};

// One row of a generate_rows() request: its prompt, its sample index (its random
// stream is SampleRng(seed, sample_index)) and its own settings, if any.
struct RowRequest {
  std::vector<TokenId> prompt;
  uint64_t sample_index = 0;
  std::shared_ptr<const RowSettings> settings;  // nullptr: the request's options
};

enum class FinishReason { kLength, kEndOfText, kStop, kInterrupted };
std::string to_string(FinishReason r);  // "length", "eot", "stop", "interrupted"

struct GeneratedRow {
  std::vector<TokenId> tokens;  // sampled tokens (a final <|endoftext|> that ended the row excluded)
  std::string text;             // the row's text (clean UTF-8, cut before a stop string)
  FinishReason finish = FinishReason::kLength;
};

struct GenerateStats {
  int64_t prompt_tokens = 0;     // batch x prompt length, processed in one pass
  double prompt_ms = 0;
  int64_t generated_tokens = 0;  // tokens sampled, all rows together
  double generate_ms = 0;        // every step after the prompt pass, sampling included
  int64_t context_shifts = 0;    // times the context was cut to its last n_ctx/2 tokens
  double prompt_tokens_per_s() const { return prompt_ms > 0 ? prompt_tokens * 1000.0 / prompt_ms : 0; }
  double generated_tokens_per_s() const {
    return generate_ms > 0 ? generated_tokens * 1000.0 / generate_ms : 0;
  }
  // "prompt 8 tokens in 20 ms (400 tokens/s); generated 100 tokens in 900 ms (111 tokens/s)"
  std::string describe() const;
};

struct GenerateResult {
  std::vector<GeneratedRow> rows;
  GenerateStats stats;
};

struct GenerateCallbacks {
  // Text of `row` that is now final, in order (never split inside a character).
  std::function<void(int64_t row, const std::string& text)> on_text;
  // Polled before each step; returning true ends every unfinished row as kInterrupted.
  std::function<bool()> should_stop;
};

// Generates `batch` rows continuing `prompt` (every row starts from the same
// prompt; row r is sample first_sample + r). Throws UsageError when the prompt
// is empty, length < 1, batch < 1, or (without context_shift) the positions
// computed (prompt + length - 1: the last sampled token is never fed back, as in
// the released code) exceed the model's n_ctx; gpt2::Error for a
// model/tokenizer mismatch.
GenerateResult generate(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                        const std::vector<TokenId>& prompt, int64_t batch,
                        const GenerateOptions& options, const GenerateCallbacks& callbacks = {});

// Generates one row per request; every prompt must have the same number of
// tokens (rows of different prompts share the batch). options.first_sample is
// not used: each row carries its sample index; a row's RowSettings override
// `options` for that row. Same errors as generate().
GenerateResult generate_rows(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                             const std::vector<RowRequest>& rows, const GenerateOptions& options,
                             const GenerateCallbacks& callbacks = {});

}  // namespace gpt2
