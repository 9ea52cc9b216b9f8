// AdamW against its formula written out here element by element (and against
// libtorch's own torch::optim::AdamW), gradient clipping, the lr schedule.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "gpt2/train/adamw.hpp"
#include "gpt2/base/errors.hpp"

namespace {

torch::Tensor param(std::vector<int64_t> shape, int seed) {
  torch::manual_seed(seed);
  return torch::randn(shape, torch::kFloat64).requires_grad_(true);
}

}  // namespace

TEST(AdamW, TwoStepsEqualTheFormula) {
  const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
  torch::Tensor w = param({3, 4}, 1), b = param({4}, 2);
  const std::vector<torch::Tensor> p0 = {w.detach().clone(), b.detach().clone()};
  gpt2::AdamWOptions o;
  o.weight_decay = wd;
  gpt2::AdamW opt({w, b}, o);
  std::vector<std::vector<torch::Tensor>> grads;
  for (int s = 0; s < 2; ++s) {
    torch::manual_seed(100 + s);
    grads.push_back({torch::randn({3, 4}, torch::kFloat64), torch::randn({4}, torch::kFloat64)});
    w.mutable_grad() = grads[s][0].clone();
    b.mutable_grad() = grads[s][1].clone();
    opt.step(lr);
  }
  EXPECT_EQ(opt.steps(), 2);
  // The formula, scalar by scalar.
  for (int k = 0; k < 2; ++k) {
    const torch::Tensor got = (k == 0 ? w : b).detach();
    for (int64_t i = 0; i < got.numel(); ++i) {
      double p = p0[k].view({-1})[i].item<double>(), m = 0, v = 0;
      for (int t = 1; t <= 2; ++t) {
        const double g = grads[t - 1][k].view({-1})[i].item<double>();
        if (k == 0) p -= lr * wd * p;  // decoupled decay, matrices only
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const double mhat = m / (1 - std::pow(b1, t)), vhat = v / (1 - std::pow(b2, t));
        p -= lr * mhat / (std::sqrt(vhat) + eps);
      }
      EXPECT_NEAR(got.view({-1})[i].item<double>(), p, 1e-12) << "tensor " << k << " element " << i;
    }
  }
}

TEST(AdamW, EqualsLibtorchAdamW) {
  torch::Tensor a = param({5, 3}, 3), c = param({5, 3}, 3);
  torch::Tensor av = param({3}, 4), cv = param({3}, 4);
  gpt2::AdamWOptions o;
  o.weight_decay = 0.05;
  gpt2::AdamW ours({a, av}, o);
  torch::optim::AdamW theirs_w({c}, torch::optim::AdamWOptions(0.003).weight_decay(0.05).eps(1e-8));
  torch::optim::AdamW theirs_b({cv}, torch::optim::AdamWOptions(0.003).weight_decay(0).eps(1e-8));
  for (int s = 0; s < 5; ++s) {
    torch::manual_seed(200 + s);
    const torch::Tensor g = torch::randn({5, 3}, torch::kFloat64), gv = torch::randn({3}, torch::kFloat64);
    a.mutable_grad() = g.clone();
    c.mutable_grad() = g.clone();
    av.mutable_grad() = gv.clone();
    cv.mutable_grad() = gv.clone();
    ours.step(0.003);
    theirs_w.step();
    theirs_b.step();
  }
  EXPECT_LT((a - c).abs().max().item<double>(), 1e-12);
  EXPECT_LT((av - cv).abs().max().item<double>(), 1e-12);
}

TEST(AdamW, StateRoundTripsThroughLoadState) {
  torch::Tensor a = param({2, 2}, 5), b = a.detach().clone().requires_grad_(true);
  gpt2::AdamW oa({a}), ob({b});
  a.mutable_grad() = torch::ones({2, 2}, torch::kFloat64);
  oa.step(0.1);
  ob.load_state(oa.steps(), oa.exp_avg(), oa.exp_avg_sq());
  {
    torch::NoGradGuard ng;
    b.copy_(a);
  }
  a.mutable_grad() = torch::full({2, 2}, 0.5, torch::kFloat64);
  b.mutable_grad() = torch::full({2, 2}, 0.5, torch::kFloat64);
  oa.step(0.1);
  ob.step(0.1);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_THROW(ob.load_state(1, {}, {}), gpt2::UsageError);
}

TEST(AdamW, ClipGradNormScalesToMaxNorm) {
  torch::Tensor a = torch::zeros({2}, torch::kFloat64).requires_grad_(true);
  torch::Tensor b = torch::zeros({1}, torch::kFloat64).requires_grad_(true);
  a.mutable_grad() = torch::tensor({3.0, 0.0}, torch::kFloat64);
  b.mutable_grad() = torch::tensor({4.0}, torch::kFloat64);
  EXPECT_DOUBLE_EQ(gpt2::clip_grad_norm({a, b}, 1.0), 5.0);
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-6);
  EXPECT_NEAR(b.grad()[0].item<double>(), 0.8, 1e-6);
  EXPECT_NEAR(gpt2::clip_grad_norm({a, b}, 10.0), 1.0, 1e-6);  // below the limit: unchanged
  EXPECT_NEAR(a.grad()[0].item<double>(), 0.6, 1e-6);
}

TEST(LearningRate, WarmupThenConstantOrCosine) {
  using gpt2::LrSchedule;
  EXPECT_DOUBLE_EQ(gpt2::learning_rate(1e-4, 0, 4, LrSchedule::kConstant, 100), 0.25e-4);
  EXPECT_DOUBLE_EQ(gpt2::learning_rate(1e-4, 3, 4, LrSchedule::kConstant, 100), 1e-4);
  EXPECT_DOUBLE_EQ(gpt2::learning_rate(1e-4, 50, 4, LrSchedule::kConstant, 100), 1e-4);
  EXPECT_DOUBLE_EQ(gpt2::learning_rate(1e-4, 4, 4, LrSchedule::kCosine, 104), 1e-4);
  EXPECT_NEAR(gpt2::learning_rate(1e-4, 54, 4, LrSchedule::kCosine, 104), 0.5e-4, 1e-15);
  EXPECT_NEAR(gpt2::learning_rate(1e-4, 104, 4, LrSchedule::kCosine, 104), 0, 1e-15);
  EXPECT_DOUBLE_EQ(gpt2::learning_rate(2e-4, 0, 0, LrSchedule::kCosine, 10), 2e-4);
  EXPECT_EQ(gpt2::parse_lr_schedule("cosine"), LrSchedule::kCosine);
  EXPECT_THROW(gpt2::parse_lr_schedule("linear"), gpt2::UsageError);
}
