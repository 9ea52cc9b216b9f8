#include "gpt2/generate/decode_session.hpp"

#include <torch/torch.h>

#include <map>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

DecodeSession::DecodeSession(GPT2Impl& model, int64_t batch, int64_t capacity)
    : model_(model), cache_(model.make_cache(batch, capacity)) {}

torch::Tensor DecodeSession::prefill(const torch::Tensor& ids) {
  serial_.reset();  // a long prompt uses every thread (the model guards short ones itself)
  cache_.reset();
  torch::Tensor logits = model_.forward(ids, cache_, true);  // [B, V]
  if (few_rows()) serial_.emplace();
  return logits;
}

torch::Tensor DecodeSession::prefill_rows(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = cache_.batch();
  if (static_cast<int64_t>(rows.size()) != B || rows.empty())
    throw UsageError("prefill_rows: " + std::to_string(rows.size()) + " rows for a batch of " + std::to_string(B));
  const int64_t T = static_cast<int64_t>(rows[0].size());
  for (const auto& r : rows)
    if (static_cast<int64_t>(r.size()) != T || T < 1)
      throw UsageError("prefill_rows: every row needs the same number (>= 1) of tokens");
  c10::InferenceMode inference;
  serial_.reset();
  std::vector<torch::Tensor> logits(static_cast<size_t>(B));  // B x [V]
  std::map<std::vector<int64_t>, int64_t> first_row;           // row tokens -> the row computed for them
  KVCache one = model_.make_cache(1, T);
  for (int64_t b = 0; b < B; ++b) {
    auto [it, fresh] = first_row.emplace(rows[static_cast<size_t>(b)], b);
    if (fresh) {
      one.reset();
      torch::Tensor ids = torch::tensor(rows[static_cast<size_t>(b)], torch::kInt64).unsqueeze(0);  // [1, T]
      logits[static_cast<size_t>(b)] = model_.forward(ids, one, true)[0];                          // [V]
      // Copy this row's keys/values into every row that shares its tokens.
      for (int64_t d = b; d < B; ++d)
        if (rows[static_cast<size_t>(d)] == rows[static_cast<size_t>(b)]) cache_.copy_row(d, one, 0, T);
    } else {
      logits[static_cast<size_t>(b)] = logits[static_cast<size_t>(it->second)];
    }
  }
  cache_.set_length(T);
  if (few_rows()) serial_.emplace();
  return torch::stack(logits);  // [B, V]
}

bool DecodeSession::few_rows() const {
  return model_.device().is_cpu() && (cache_.batch() <= ops::kMaxKernelRows || model_.can_decode_step(cache_.batch(), 1));
}

void DecodeSession::rewind(int64_t n) {
  if (n < 0 || n > cache_.length())
    throw UsageError("rewind to " + std::to_string(n) + " positions: the session holds " +
                     std::to_string(cache_.length()));
  cache_.set_length(n);
}

torch::Tensor DecodeSession::step(const torch::Tensor& next) {
  return model_.forward(next, cache_, true);  // [B, V]
}

torch::Tensor DecodeSession::step(const std::vector<int64_t>& next) {
  return step(torch::tensor(next, torch::kInt64).unsqueeze(1));  // [B, 1]
}

}  // namespace gpt2
