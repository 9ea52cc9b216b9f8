// GPT-2 for training: ordinary autograd parameters (owned copies, requires_grad)
// registered from ModelWeights by walking the weight registry, and a forward
// pass written with plain differentiable libtorch ops. The inference model
// (gpt2/model.hpp: memory-mapped weights, custom kernels, KV cache) is separate
// and unchanged; to_weights() hands the trained weights to it and to
// save_model_dir.
//
// The output projection is tied: the logits are x @ wte^T with the same `wte`
// parameter as the token embedding, so its gradient sums both uses.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <vector>

#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/weight_registry.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2 {

class TrainableGPT2Impl : public torch::nn::Module {
 public:
  // Copies every weight (any device/dtype/layout, e.g. memory-mapped) into an
  // owned contiguous tensor of `dtype` (float32, or float64 for gradient checks)
  // on `device`, with requires_grad. FormatError for a bad shape (check_model_weights).
  explicit TrainableGPT2Impl(const ModelWeights& weights, torch::Dtype dtype = torch::kFloat32,
                             torch::Device device = torch::kCPU);

  // ids [B, T] int64 (T <= n_ctx) -> logits [B, T, V]. UsageError for bad ids.
  torch::Tensor forward(const torch::Tensor& ids);

  const HParams& hparams() const { return w_.hp; }
  torch::Device device() const { return device_; }
  torch::Dtype dtype() const { return dtype_; }
  // The parameter of a registry weight (its .grad() after backward).
  torch::Tensor& at(const WeightId& id) { return w_.at(id); }
  // Every parameter with its registry id, in registry order (one entry for the tied wte).
  const std::vector<WeightId>& weight_ids() const { return ids_; }
  std::vector<torch::Tensor> params() const;

  // Detached float32 CPU copies, as ModelWeights (for save_model_dir and GPT2).
  ModelWeights to_weights() const;

 private:
  ModelWeights w_;  // the parameters themselves (registered with the module)
  std::vector<WeightId> ids_;
  torch::Device device_;
  torch::Dtype dtype_;
};

TORCH_MODULE(TrainableGPT2);

// Mean cross-entropy of next tokens: logits [B, T, V], targets [B, T] int64 -> scalar.
torch::Tensor lm_loss(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace gpt2
