// The matrix products of the GPT-2 forward pass, in one place so that fast
// kernels (batch-1 matrix-vector products, reduced-precision weights) can
// replace the reference libtorch calls without touching the model code.
//
// The model holds each projection as an ops::Linear and the tied output
// projection as an ops::TiedOutput; it never multiplies weights itself.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace gpt2::ops {

// How projection weights are stored for the products. Activations, LayerNorm,
// softmax and accumulation stay float32 whatever this is.
enum class WeightType { kFloat32, kBFloat16, kInt8 };
WeightType parse_weight_type(const std::string& s);  // "float32"|"bfloat16"|"int8"; UsageError otherwise
std::string to_string(WeightType t);

// y = x @ W + b, W given in Conv1D / TF layout [in, out].
class Linear {
 public:
  Linear() = default;
  // w: [in, out] float32, b: [out] float32. May repack/convert w (float32 keeps
  // the given tensor, e.g. a memory-mapped one, without copying when possible).
  Linear(const torch::Tensor& w, const torch::Tensor& b, WeightType type = WeightType::kFloat32);

  // x: [N, in] float32 -> [N, out] float32
  torch::Tensor operator()(const torch::Tensor& x) const;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  int64_t weight_bytes() const;  // bytes read from memory per product (weights + bias)
  WeightType type() const { return type_; }

 private:
  WeightType type_ = WeightType::kFloat32;
  int64_t in_ = 0, out_ = 0;
  torch::Tensor w_;       // representation depends on type_
  torch::Tensor b_;       // [out] float32
  torch::Tensor scales_;  // int8 only
};

// logits = x @ wte^T: the output projection tied to the token embedding.
class TiedOutput {
 public:
  TiedOutput() = default;
  // wte: [V, C] float32
  TiedOutput(const torch::Tensor& wte, WeightType type = WeightType::kFloat32);

  // x: [N, C] float32 -> [N, V] float32
  torch::Tensor operator()(const torch::Tensor& x) const;

  int64_t weight_bytes() const;
  WeightType type() const { return type_; }

 private:
  WeightType type_ = WeightType::kFloat32;
  torch::Tensor w_;       // [V, C] in the chosen representation
  torch::Tensor scales_;  // int8 only
};

}  // namespace gpt2::ops
