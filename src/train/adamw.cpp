#include "gpt2/train/adamw.hpp"

#include <torch/torch.h>

#include <cmath>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

AdamW::AdamW(std::vector<torch::Tensor> params, AdamWOptions options) : params_(std::move(params)), o_(options) {
  torch::NoGradGuard no_grad;
  for (const auto& p : params_) {
    m_.push_back(torch::zeros_like(p));
    v_.push_back(torch::zeros_like(p));
  }
}

void AdamW::step(double lr) {
  torch::NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const torch::Tensor g = p.grad().defined() ? p.grad() : torch::zeros_like(p);
    if (o_.weight_decay != 0 && p.dim() >= 2) p.mul_(1.0 - lr * o_.weight_decay);
    m_[i].mul_(o_.beta1).add_(g, 1.0 - o_.beta1);
    v_[i].mul_(o_.beta2).addcmul_(g, g, 1.0 - o_.beta2);
    const torch::Tensor denom = (v_[i] / bc2).sqrt_().add_(o_.eps);
    p.addcdiv_(m_[i], denom, -lr / bc1);
  }
}

void AdamW::zero_grad() {
  for (auto& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void AdamW::load_state(int64_t steps, const std::vector<torch::Tensor>& exp_avg,
                       const std::vector<torch::Tensor>& exp_avg_sq) {
  if (exp_avg.size() != params_.size() || exp_avg_sq.size() != params_.size())
    throw UsageError("optimizer state holds " + std::to_string(exp_avg.size()) + " tensors, the model " +
                     std::to_string(params_.size()));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (exp_avg[i].sizes() != params_[i].sizes() || exp_avg_sq[i].sizes() != params_[i].sizes())
      throw UsageError("optimizer state tensor " + std::to_string(i) + " has the wrong shape");
    m_[i].copy_(exp_avg[i]);
    v_[i].copy_(exp_avg_sq[i]);
  }
  t_ = steps;
}

double clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  double sq = 0;
  for (const auto& p : params)
    if (p.grad().defined()) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm) {
    const double coef = max_norm / (norm + 1e-6);  // as torch.nn.utils.clip_grad_norm_
    for (const auto& p : params)
      if (p.grad().defined()) p.grad().mul_(coef);
  }
  return norm;
}

LrSchedule parse_lr_schedule(const std::string& s) {
  if (s == "constant") return LrSchedule::kConstant;
  if (s == "cosine") return LrSchedule::kCosine;
  throw UsageError("--schedule must be constant or cosine, got '" + s + "'");
}

std::string to_string(LrSchedule s) { return s == LrSchedule::kCosine ? "cosine" : "constant"; }

double learning_rate(double lr, int64_t step, int64_t warmup, LrSchedule schedule, int64_t total_steps) {
  if (warmup > 0 && step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (schedule == LrSchedule::kConstant) return lr;
  const int64_t span = std::max<int64_t>(1, total_steps - warmup);
  const double progress = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(span));
  return lr * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace gpt2
