// One decoding run over a model: its KV cache and its thread policy.
//
// prefill() runs the prompt in one pass; every step() after it feeds one token
// per row. For few rows on the CPU the session holds an ops::SerialLibtorchGuard
// from the first step on (libtorch's small ops, sampling over the vocabulary
// included, stay on the calling thread so an idle OpenMP team does not take the
// kernels' cores), so no decode loop has to remember to place it.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "gpt2/model/kv_cache.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/kernels/ops.hpp"

namespace gpt2 {

class DecodeSession {
 public:
  // A cache for `batch` rows and `capacity` positions (0: n_ctx).
  DecodeSession(GPT2Impl& model, int64_t batch, int64_t capacity = 0);

  // ids: [B, T] int64 -> last-position logits [B, V]. Starts from an empty cache.
  torch::Tensor prefill(const torch::Tensor& ids);
  // Every row its own tokens, all of one length T (positions 0..T-1): each
  // distinct row is computed alone ([1, T]) and its keys/values copied into the
  // rows that share it, so a row's numbers never depend on the other rows of
  // the batch. -> last-position logits [B, V]. Starts from an empty cache.
  torch::Tensor prefill_rows(const std::vector<std::vector<int64_t>>& rows);
  // next: [B, 1] int64 (one token per row) -> logits [B, V].
  torch::Tensor step(const torch::Tensor& next);
  // Same from host ids, one per row.
  torch::Tensor step(const std::vector<int64_t>& next);

  // Keeps the first n positions and forgets the rest (the next step writes
  // position n): decode again from a prefix without recomputing it. n must be
  // at most length().
  void rewind(int64_t n);

  int64_t batch() const { return cache_.batch(); }
  int64_t length() const { return cache_.length(); }
  const KVCache& cache() const { return cache_; }

 private:
  // Steps of this batch run the kernels (or the fused step) only: hold the guard.
  bool few_rows() const;

  GPT2Impl& model_;
  KVCache cache_;
  std::optional<ops::SerialLibtorchGuard> serial_;
};

}  // namespace gpt2
