#include "gpt2/generate/context.hpp"

#include <string>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

int64_t positions_needed(int64_t prompt_tokens, int64_t length) { return prompt_tokens + length - 1; }

bool fits_context(int64_t prompt_tokens, int64_t length, int64_t n_ctx) {
  return positions_needed(prompt_tokens, length) <= n_ctx;
}

int64_t max_length_after(int64_t prompt_tokens, int64_t n_ctx) { return n_ctx - prompt_tokens + 1; }

int64_t max_prompt_for(int64_t length, int64_t n_ctx) { return n_ctx - length + 1; }

void check_context(int64_t prompt_tokens, int64_t length, int64_t n_ctx, bool can_truncate, bool can_shift) {
  if (fits_context(prompt_tokens, length, n_ctx)) return;
  const int64_t max_len = max_length_after(prompt_tokens, n_ctx);
  const int64_t room = max_prompt_for(length, n_ctx);
  std::string msg = "a prompt of " + std::to_string(prompt_tokens) + " tokens and --length " + std::to_string(length) +
                    " need " + std::to_string(positions_needed(prompt_tokens, length)) +
                    " positions, more than the model's context of " + std::to_string(n_ctx) + " tokens; ";
  msg += max_len >= 1 ? "use --length " + std::to_string(max_len) + " or less" : "use a shorter prompt";
  if (room >= 1)
    msg += can_truncate ? ", or --truncate-prompt to keep the last " + std::to_string(room) + " prompt tokens"
                        : ", or a prompt of at most " + std::to_string(room) + " tokens";
  else
    msg += " (--length " + std::to_string(length) + " alone exceeds the context)";
  if (can_shift && prompt_tokens <= n_ctx) msg += ", or --context-shift to generate past the context";
  throw UsageError(msg);
}

}  // namespace gpt2
