// The one context rule: how many positions a generation request computes, and
// whether it fits the model's context. Every check and hint uses these.
//
// A request of a P-token prompt and L generated tokens computes P + L - 1
// positions: the last sampled token is never fed back (as in the released
// code). It fits when P + L - 1 <= n_ctx.
#pragma once

#include <cstdint>

namespace gpt2 {

// P + L - 1 (P, L >= 1).
int64_t positions_needed(int64_t prompt_tokens, int64_t length);
bool fits_context(int64_t prompt_tokens, int64_t length, int64_t n_ctx);
// The largest --length that fits after a P-token prompt: n_ctx - P + 1 (< 1 when none does).
int64_t max_length_after(int64_t prompt_tokens, int64_t n_ctx);
// The longest prompt that leaves room for L tokens: n_ctx - L + 1 (< 1 when none does).
int64_t max_prompt_for(int64_t length, int64_t n_ctx);

// Throws UsageError when the request does not fit, with a one-line message
// giving the numbers and what would fit (--length N or less; --truncate-prompt
// keeping the last M prompt tokens, when `can_truncate`; --context-shift, when
// `can_shift`).
void check_context(int64_t prompt_tokens, int64_t length, int64_t n_ctx, bool can_truncate = false,
                   bool can_shift = false);

}  // namespace gpt2
