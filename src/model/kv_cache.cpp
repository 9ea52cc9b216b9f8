#include "gpt2/model/kv_cache.hpp"

#include <torch/torch.h>

#include <string>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

KVCache::KVCache(const HParams& hp, int64_t batch, int64_t capacity,
                 const torch::TensorOptions& options) {
  if (batch <= 0) throw UsageError("KV cache batch size must be positive, got " + std::to_string(batch));
  if (capacity == 0) capacity = hp.n_ctx;
  if (capacity < 0 || capacity > hp.n_ctx)
    throw UsageError("KV cache capacity " + std::to_string(capacity) + " is outside 1.." +
                     std::to_string(hp.n_ctx) + " (n_ctx)");
  batch_ = batch;
  capacity_ = capacity;
  keys_.reserve(static_cast<size_t>(hp.n_layer));
  values_.reserve(static_cast<size_t>(hp.n_layer));
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    keys_.push_back(torch::empty({batch, hp.n_head, capacity, hp.head_dim()}, options));    // [B, H, S, D]
    values_.push_back(torch::empty({batch, hp.n_head, capacity, hp.head_dim()}, options));  // [B, H, S, D]
  }
}

std::pair<torch::Tensor, torch::Tensor> KVCache::write(int64_t layer, const torch::Tensor& k,
                                                       const torch::Tensor& v) {
  if (layer < 0 || layer >= num_layers())
    throw UsageError("KV cache has no layer " + std::to_string(layer));
  const int64_t t = k.size(2);
  if (length_ + t > capacity_)
    throw UsageError("KV cache is full: " + std::to_string(length_) + " + " + std::to_string(t) +
                     " positions exceed its capacity of " + std::to_string(capacity_));
  if (k.size(0) != batch_ || v.size(0) != batch_)
    throw UsageError("KV cache holds batch " + std::to_string(batch_) + ", got " +
                     std::to_string(k.size(0)));
  auto& K = keys_[static_cast<size_t>(layer)];    // [B, H, S, D]
  auto& V = values_[static_cast<size_t>(layer)];  // [B, H, S, D]
  K.narrow(2, length_, t).copy_(k);
  V.narrow(2, length_, t).copy_(v);
  return {K.narrow(2, 0, length_ + t), V.narrow(2, 0, length_ + t)};  // [B, H, length+T, D] each
}

void KVCache::advance(int64_t t) {
  if (t < 0 || length_ + t > capacity_)
    throw UsageError("KV cache cannot advance by " + std::to_string(t) + " from " +
                     std::to_string(length_) + " (capacity " + std::to_string(capacity_) + ")");
  length_ += t;
}

void KVCache::copy_row(int64_t dst_row, const KVCache& src, int64_t src_row, int64_t n) {
  if (src.num_layers() != num_layers() || dst_row < 0 || dst_row >= batch_ || src_row < 0 ||
      src_row >= src.batch_ || n < 0 || n > src.capacity_ || n > capacity_)
    throw UsageError("KV cache copy_row: row " + std::to_string(src_row) + " -> " + std::to_string(dst_row) +
                     ", " + std::to_string(n) + " positions do not fit");
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l][dst_row].narrow(1, 0, n).copy_(src.keys_[l][src_row].narrow(1, 0, n));      // [H, n, D]
    values_[l][dst_row].narrow(1, 0, n).copy_(src.values_[l][src_row].narrow(1, 0, n));  // [H, n, D]
  }
}

void KVCache::set_length(int64_t n) {
  if (n < 0 || n > capacity_)
    throw UsageError("KV cache length " + std::to_string(n) + " is outside 0.." + std::to_string(capacity_));
  length_ = n;
}

void* KVCache::key_data(int64_t layer) { return keys_.at(static_cast<size_t>(layer)).data_ptr(); }
void* KVCache::value_data(int64_t layer) { return values_.at(static_cast<size_t>(layer)).data_ptr(); }

int64_t KVCache::bytes() const {
  int64_t n = 0;
  for (const auto& k : keys_) n += k.numel() * static_cast<int64_t>(k.element_size());
  for (const auto& v : values_) n += v.numel() * static_cast<int64_t>(v.element_size());
  return n;
}

}  // namespace gpt2
