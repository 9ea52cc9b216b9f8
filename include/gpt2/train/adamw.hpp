// AdamW (Loshchilov & Hutter; the update torch.optim.AdamW makes), written out
// plainly on a list of parameters, with its state exposed for checkpoints; the
// learning-rate schedule (linear warm-up, then constant or cosine); and
// gradient-norm clipping.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gpt2 {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled; applied to parameters with dim >= 2 only
};

class AdamW {
 public:
  AdamW(std::vector<torch::Tensor> params, AdamWOptions options = {});

  // One update with learning rate `lr` from each parameter's .grad() (a
  // parameter without a gradient is treated as having a zero gradient):
  //   t += 1;  p -= lr * wd * p                       (dim >= 2 only)
  //   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
  //   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
  void step(double lr);
  void zero_grad();

  int64_t steps() const { return t_; }
  const std::vector<torch::Tensor>& exp_avg() const { return m_; }
  const std::vector<torch::Tensor>& exp_avg_sq() const { return v_; }
  // Restores a saved state (same parameter order and shapes; tensors are copied).
  // UsageError on a mismatch.
  void load_state(int64_t steps, const std::vector<torch::Tensor>& exp_avg,
                  const std::vector<torch::Tensor>& exp_avg_sq);

 private:
  std::vector<torch::Tensor> params_, m_, v_;
  AdamWOptions o_;
  int64_t t_ = 0;
};

// Scales every gradient by min(1, max_norm / total_norm) (the global L2 norm
// over all gradients, as torch.nn.utils.clip_grad_norm_) and returns the norm
// before clipping. max_norm <= 0: no clipping, only the norm.
double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

enum class LrSchedule { kConstant, kCosine };
LrSchedule parse_lr_schedule(const std::string& s);  // "constant" | "cosine"; UsageError otherwise
std::string to_string(LrSchedule s);

// The learning rate of optimizer step `step` (0-based) of `total_steps`:
// lr * (step + 1) / warmup during the first `warmup` steps, then `lr`
// (constant) or lr * (1 + cos(pi * (step - warmup) / (total_steps - warmup))) / 2 (cosine).
double learning_rate(double lr, int64_t step, int64_t warmup, LrSchedule schedule, int64_t total_steps);

}  // namespace gpt2
