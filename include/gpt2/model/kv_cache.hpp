// Per-layer key/value cache for incremental decoding.
//
// Each layer owns two preallocated tensors [batch, n_head, capacity, head_dim]
// (float32, or float16 to halve what a long context costs to read);
// a forward pass writes the keys/values of its T new positions at
// [length, length + T) with narrow().copy_() (never cat), and the model then
// advances `length` by T once every layer has written.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "gpt2/base/hparams.hpp"

namespace gpt2 {

class KVCache {
 public:
  KVCache() = default;
  // capacity: positions to hold, 1..n_ctx (0 means n_ctx). Throws UsageError for
  // a non-positive batch or a capacity outside that range.
  KVCache(const HParams& hp, int64_t batch, int64_t capacity, const torch::TensorOptions& options);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }  // positions already filled
  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }
  bool empty() const { return keys_.empty(); }

  // Writes k, v ([B, H, T, D]) of `layer` at positions [length, length + T) and
  // returns views of that layer's keys and values over [0, length + T)
  // ([B, H, length + T, D] each). Does not advance. Throws UsageError when the
  // new positions do not fit.
  std::pair<torch::Tensor, torch::Tensor> write(int64_t layer, const torch::Tensor& k,
                                                const torch::Tensor& v);
  // Marks T more positions as filled (after every layer has written them).
  void advance(int64_t t);
  // Forgets every position (the memory is kept for reuse).
  void reset() { length_ = 0; }

  // Copies positions [0, n) of row `src_row` of `src` into row `dst_row` of this
  // cache (same layers and heads). Does not change length().
  void copy_row(int64_t dst_row, const KVCache& src, int64_t src_row, int64_t n);
  // Declares positions [0, n) filled in every row (after copy_row into each).
  void set_length(int64_t n);

  // The element type of keys and values (float32 or float16).
  torch::ScalarType dtype() const { return keys_.empty() ? torch::kFloat32 : keys_.front().scalar_type(); }
  // A layer's keys / values as raw [B, H, capacity, D] storage of dtype() (CPU
  // caches only; the fused decode step writes and reads them directly).
  void* key_data(int64_t layer);
  void* value_data(int64_t layer);

  // Bytes held by the cache tensors.
  int64_t bytes() const;

 private:
  int64_t batch_ = 0, capacity_ = 0, length_ = 0;
  std::vector<torch::Tensor> keys_;    // n_layer x [B, H, capacity, D]
  std::vector<torch::Tensor> values_;  // n_layer x [B, H, capacity, D]
};

}  // namespace gpt2
