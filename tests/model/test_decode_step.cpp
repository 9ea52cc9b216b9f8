// The fused decode step (src/model/decode_step.cpp) against the libtorch-
// orchestrated path with the same projection kernels, and its AVX-512 helpers
// (src/model/step_kernels.hpp) against float64 formulas at odd sizes.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/kernels/ops.hpp"
#include "kernels/cpu_features.hpp"
#include "support/model_test_util.hpp"
#include "gpt2/kernels/step_kernels.hpp"

namespace {

using gpt2::GPT2;
using gpt2::ops::WeightType;

bool have_avx512() { return gpt2::ops::kernels::cpu_features().avx512; }

torch::Tensor f32(const std::vector<float>& v) { return torch::tensor(v, torch::kFloat32); }

TEST(StepKernels, LayerNormMatchesFloat64) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU lacks AVX-512: the fused step is never used";
  torch::manual_seed(1);
  for (int64_t c : {1, 15, 16, 37, 768}) {
    auto x = torch::randn({3, c}) * 4 + 2, g = torch::randn({c}), b = torch::randn({c});
    auto y = torch::empty({3, c});
    gpt2::step::layer_norm(x.data_ptr<float>(), 3, c, g.data_ptr<float>(), b.data_ptr<float>(), 1e-5f,
                           y.data_ptr<float>());
    auto x64 = x.to(torch::kFloat64);
    auto mean = x64.mean(1, true), var = (x64 - mean).pow(2).mean(1, true);
    auto want = (x64 - mean) / torch::sqrt(var + 1e-5) * g.to(torch::kFloat64) + b.to(torch::kFloat64);
    // float32 sums of c terms: a few ulps of the normalized value times |g|, plus |b|'s ulp
    EXPECT_LT((y.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5 * (1 + g.abs().max().item<double>()) * 4)
        << "c " << c;
  }
}

TEST(StepKernels, GeluMatchesTheTanhFormulaInFloat64) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU lacks AVX-512: the fused step is never used";
  auto x = torch::linspace(-12, 12, 4001);  // 4001: a masked tail
  std::vector<float> special = {0.0f, -0.0f, 1e-7f, -1e-7f, 40.0f, -40.0f, 1e4f, -1e4f};
  x = torch::cat({x, f32(special)});
  auto y = x.clone();
  gpt2::step::gelu_tanh(y.data_ptr<float>(), y.numel());
  auto x64 = x.to(torch::kFloat64);
  auto want = 0.5 * x64 * (1 + torch::tanh(std::sqrt(2.0 / M_PI) * (x64 + 0.044715 * x64.pow(3))));
  // tanh from exp with ~1e-7 relative error, and 1 - e cancels near 0: the
  // error is a few float32 ulps of |x|.
  auto err = (y.to(torch::kFloat64) - want).abs() / (x64.abs() * 1e-6 + 1e-30);
  EXPECT_LE(err.max().item<double>(), 1.0);
  EXPECT_FALSE(torch::isnan(y).any().item<bool>());
}

TEST(StepKernels, AttendMatchesSoftmaxWeightedSumInFloat64) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU lacks AVX-512: the fused step is never used";
  torch::manual_seed(2);
  for (int64_t d : {8, 24, 64, 80, 300}) {
    for (int64_t s : {1, 2, 17, 129}) {
      auto q = torch::randn({d}) * 2, k = torch::randn({s, d}), v = torch::randn({s, d});
      std::vector<float> scores(static_cast<size_t>(s));
      auto out = torch::empty({d});
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      gpt2::step::attend(q.data_ptr<float>(), k.data_ptr<float>(), v.data_ptr<float>(), s, d, scale, scores.data(),
                         out.data_ptr<float>());
      auto p = torch::softmax(torch::mv(k.to(torch::kFloat64), q.to(torch::kFloat64)) * scale, 0);  // [s]
      auto want = torch::mv(v.to(torch::kFloat64).t(), p);                                            // [d]
      EXPECT_LT((out.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5) << "d " << d << " s " << s;
    }
  }
}

TEST(StepKernels, Float16CacheAttendAndWrites) {
  if (!have_avx512()) GTEST_SKIP() << "this CPU lacks AVX-512: the fused step is never used";
  torch::manual_seed(3);
  // to_half rounds like libtorch's float -> half (to nearest even), odd lengths.
  for (int64_t n : {1, 15, 17, 64, 100}) {
    auto x = torch::randn({n}) * 30;
    std::vector<uint16_t> h(static_cast<size_t>(n));
    gpt2::step::to_half(x.data_ptr<float>(), n, h.data());
    auto want = x.to(torch::kHalf);
    EXPECT_EQ(std::memcmp(h.data(), want.data_ptr(), static_cast<size_t>(n) * 2), 0) << "n " << n;
  }
  // attend over float16 keys/values equals the float64 formula over the same (widened) values.
  for (int64_t d : {8, 24, 64, 80}) {
    for (int64_t s : {1, 17, 129}) {
      auto q = torch::randn({d}) * 2;
      auto k = torch::randn({s, d}).to(torch::kHalf), v = torch::randn({s, d}).to(torch::kHalf);
      std::vector<float> scores(static_cast<size_t>(s));
      auto out = torch::empty({d});
      const float scale = 1.0f / std::sqrt(static_cast<float>(d));
      gpt2::step::attend(q.data_ptr<float>(), static_cast<const uint16_t*>(k.data_ptr()),
                         static_cast<const uint16_t*>(v.data_ptr()), s, d, scale, scores.data(), out.data_ptr<float>());
      auto k64 = k.to(torch::kFloat64), v64 = v.to(torch::kFloat64);
      auto p = torch::softmax(torch::mv(k64, q.to(torch::kFloat64)) * scale, 0);  // [s]
      auto want = torch::mv(v64.t(), p);                                          // [d]
      EXPECT_LT((out.to(torch::kFloat64) - want).abs().max().item<double>(), 1e-5) << "d " << d << " s " << s;
    }
  }
}

// Every weight type and KV cache type: logits of the fused step equal those of
// the same model's libtorch-orchestrated step (last_only = false takes it) with
// the same kernels.
class DecodeStep
    : public ::testing::TestWithParam<std::tuple<WeightType, int /*threads*/, torch::ScalarType /*kv cache*/>> {
 protected:
  void TearDown() override { at::set_num_threads(threads_); }
  int threads_ = at::get_num_threads();
};

TEST_P(DecodeStep, EqualsTheUnfusedStep) {
  const auto [type, threads, kv] = GetParam();
  if (!gpt2::ops::kernels_active(type)) GTEST_SKIP() << "no CPU kernels for " << gpt2::ops::to_string(type);
  at::set_num_threads(threads);
  gpt2::HParams hp;
  hp.n_vocab = 300;
  hp.n_ctx = 160;
  hp.n_embd = 96;  // head_dim 32; attention goes parallel past ~85 positions at batch 4
  hp.n_head = 3;
  hp.n_layer = 2;
  gpt2::ModelOptions opt;
  opt.weight_type = type;
  opt.kv_cache_type = kv;
  GPT2 model(gpt2::test::random_weights(hp, 5), opt);
  const int64_t B = 4;
  auto prompt = torch::randint(0, hp.n_vocab, {B, 5}, torch::kInt64);  // [B, 5]
  auto fused = model->make_cache(B), plain = model->make_cache(B);
  ASSERT_EQ(fused.dtype(), kv);
  model->forward(prompt, fused, true);
  model->forward(prompt, plain, true);
  const int steps = 120;
  double worst = 0;
  int close = 0;  // steps whose logits agree to 1e-5 relative
  for (int step = 0; step < steps; ++step) {
    // Both paths start each step from the same cache (the fused one's), so
    // differences cannot accumulate over the steps.
    for (int64_t r = 0; r < B; ++r) plain.copy_row(r, fused, r, fused.length());
    plain.set_length(fused.length());
    auto next = torch::randint(0, hp.n_vocab, {B, 1}, torch::kInt64);  // [B, 1]
    torch::Tensor a = model->forward(next, fused, true);               // [B, V]: fused
    torch::Tensor b = model->forward(next, plain, false).select(1, 0);  // [B, V]: run_blocks
    ASSERT_EQ(a.sizes(), b.sizes());
    const double rel = ((a - b).abs().max() / b.abs().max()).item<double>();
    worst = std::max(worst, rel);
    close += rel < 1e-5 ? 1 : 0;
  }
  EXPECT_EQ(fused.length(), plain.length());
  const std::string name = gpt2::ops::to_string(type);
  if (type == WeightType::kInt8 || type == WeightType::kInt4) {
    // The two LayerNorms differ in the last bits, so now and then an activation
    // rounds to the neighbouring int8 step in one path (measured: 5 of 120
    // steps, up to 2% of the largest logit on this small random model); every
    // other step agrees like float32.
    EXPECT_GE(close, steps * 9 / 10) << name;
    EXPECT_LT(worst, 0.05) << name;
  } else if (kv == torch::kFloat16) {
    // The same: a key or value whose float32 differs in the last bit between the
    // paths can round to the neighbouring float16 (2^-11 apart) now and then.
    EXPECT_GE(close, steps * 9 / 10) << name << " with a float16 cache";
    EXPECT_LT(worst, 1e-2) << name << " with a float16 cache";
  } else {
    // Summation order only. On this project's 2-core EPYC VM (libtorch 1.13 with
    // OpenBLAS 0.3.21), 1 of the 120 steps differs by 1.6e-5 to 2.8e-5 of the largest
    // logit (the same before and after the layout change, bit for bit); a wrong
    // cache position or weight shows up as 1e-2 or more.
    EXPECT_GE(close, steps - 3) << name << ": summation order only, worst " << worst;
    EXPECT_LT(worst, 1e-4) << name << ": summation order only";
  }
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, DecodeStep,
                         ::testing::Combine(::testing::Values(WeightType::kFloat32, WeightType::kBFloat16,
                                                              WeightType::kInt8, WeightType::kInt4),
                                            ::testing::Values(1, 2), ::testing::Values(torch::kFloat32, torch::kFloat16)));

// A float16 KV cache holds half the bytes and changes the logits by its rounding
// only: keys and values off by <= 2^-11 relative each.
TEST(KVCacheFloat16, HalfTheBytesAndCloseToFloat32) {
  gpt2::HParams hp = gpt2::test::tiny_hparams();
  const auto w = gpt2::test::random_weights(hp, 11);
  gpt2::ModelOptions half;
  half.kv_cache_type = torch::kFloat16;
  GPT2 m32(gpt2::test::random_weights(hp, 11)), m16(gpt2::test::random_weights(hp, 11), half);
  auto c32 = m32->make_cache(2), c16 = m16->make_cache(2);
  EXPECT_EQ(c16.dtype(), torch::kFloat16);
  EXPECT_EQ(2 * c16.bytes(), c32.bytes());
  auto ids = torch::randint(0, hp.n_vocab, {2, 6}, torch::kInt64);  // [2, 6]
  torch::Tensor a = m32->forward(ids, c32, false), b = m16->forward(ids, c16, false);  // prompt: [2, 6, V]
  double worst = ((a - b).abs().max() / a.abs().max()).item<double>();
  for (int step = 0; step < 8; ++step) {  // decode steps (the fused step where the CPU has it)
    auto next = torch::randint(0, hp.n_vocab, {2, 1}, torch::kInt64);
    torch::Tensor x = m32->forward(next, c32, true), y = m16->forward(next, c16, true);  // [2, V]
    worst = std::max(worst, ((x - y).abs().max() / x.abs().max()).item<double>());
  }
  // Logits move by about the relative rounding of K and V times the attention's
  // gain on this small random model; 2^-11 ~ 5e-4, allowed 1e-2.
  EXPECT_LT(worst, 1e-2);
}

}  // namespace
