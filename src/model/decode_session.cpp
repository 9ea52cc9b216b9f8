#include "gpt2/decode_session.hpp"

#include <torch/torch.h>

namespace gpt2 {

DecodeSession::DecodeSession(GPT2Impl& model, int64_t batch, int64_t capacity)
    : model_(model), cache_(model.make_cache(batch, capacity)) {}

torch::Tensor DecodeSession::prefill(const torch::Tensor& ids) {
  serial_.reset();  // a long prompt uses every thread (the model guards short ones itself)
  cache_.reset();
  torch::Tensor logits = model_.forward(ids, cache_, true);  // [B, V]
  if (cache_.batch() <= ops::kMaxKernelRows && model_.device().is_cpu()) serial_.emplace();
  return logits;
}

torch::Tensor DecodeSession::step(const torch::Tensor& next) {
  return model_.forward(next, cache_, true);  // [B, V]
}

torch::Tensor DecodeSession::step(const std::vector<int64_t>& next) {
  return step(torch::tensor(next, torch::kInt64).unsqueeze(1));  // [B, 1]
}

}  // namespace gpt2
