// The matrix products of the GPT-2 forward pass, in one place so that fast
// kernels (batch-1 matrix-vector products, reduced-precision weights) can replace
// the reference libtorch calls without touching the model code.
#pragma once

#include <torch/types.h>

namespace gpt2::ops {

// y = x @ w + b
//   x: [N, in]  float32, contiguous rows
//   w: [in, out] (Conv1D / TF layout)
//   b: [out]
//   -> [N, out]
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);

// logits = x @ wte^T   (output projection tied to the token embedding)
//   x:   [N, C]
//   wte: [V, C]
//   -> [N, V]
torch::Tensor tied_logits(const torch::Tensor& x, const torch::Tensor& wte);

}  // namespace gpt2::ops
