#include "gpt2/ops.hpp"

#include <torch/torch.h>

namespace gpt2::ops {

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::addmm(b, x, w);  // [N, out]
}

torch::Tensor tied_logits(const torch::Tensor& x, const torch::Tensor& wte) {
  return torch::mm(x, wte.t());  // [N, V]
}

}  // namespace gpt2::ops
