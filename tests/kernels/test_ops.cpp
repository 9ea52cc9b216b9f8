// Correctness of the projection kernels (gpt2::ops) against float64 libtorch
// references on random data of odd sizes, for every weight type, one and many
// rows, one and several threads, and both backends.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <torch/torch.h>

#include <tuple>

#include "gpt2/base/errors.hpp"
#include "gpt2/kernels/ops.hpp"

namespace {

using gpt2::ops::Backend;
using gpt2::ops::Projection;
using gpt2::ops::WeightType;
// The two layouts of a projection: GPT-2's Conv1D weight [in, out] with a bias, and
// the tied output head's [out, in] rows without one.
Projection Linear(const torch::Tensor& w, const torch::Tensor& b, WeightType t = WeightType::kFloat32) {
  return Projection::conv1d(w, b, t);
}
Projection TiedOutput(const torch::Tensor& w, WeightType t = WeightType::kFloat32) { return Projection::rows(w, t); }

// Restores backend and thread count after each test.
class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override { threads_ = at::get_num_threads(); }
  void TearDown() override {
    gpt2::ops::set_backend(Backend::kAuto);
    at::set_num_threads(threads_);
  }
  int threads_ = 1;
};

// Largest |a - b| divided by the allowed error per element.
double worst_ratio(const torch::Tensor& got, const torch::Tensor& want, const torch::Tensor& allowed) {
  return ((got.to(torch::kFloat64) - want).abs() / allowed).max().item<double>();
}

// Per-block maximum of |m| over blocks of `width` columns, broadcast back to
// every column: m [rows, cols] -> [rows, cols].
torch::Tensor block_amax(const torch::Tensor& m, int64_t width) {
  const int64_t rows = m.size(0), cols = m.size(1), pad = (width - cols % width) % width;
  auto b = torch::constant_pad_nd(m.abs(), {0, pad}).view({rows, -1, width});  // [rows, blocks, width]
  return b.amax(2, true).expand_as(b).reshape({rows, -1}).narrow(1, 0, cols);
}

// Bound of a quantized path's error for y = x @ W^T with W [out, in], whose
// weights are off by at most ew [out, in] each and whose activations are
// rounded to a per-64-block step sx (error sx/2):
//   sum_i |x_i| ew_i + sum_i (|w_i| + ew_i) sx_i / 2, plus float32 summation slack.
torch::Tensor quantized_error_bound(const torch::Tensor& x, const torch::Tensor& w_out_in, const torch::Tensor& ew) {
  auto x64 = x.to(torch::kFloat64), w64 = w_out_in.to(torch::kFloat64);  // [N, in], [out, in]
  auto sx = block_amax(x64, 64) / 127.0;                                  // [N, in]
  auto t1 = torch::mm(x64.abs(), ew.t());                                 // [N, out]
  auto t2 = torch::mm(sx / 2, (w64.abs() + ew).t());                      // [N, out]
  return t1 + t2 + torch::mm(x64.abs(), w64.abs().t()) * 1e-5 + 1e-6;
}

// int8: symmetric per output row, step amax/127: each weight off by half a step.
torch::Tensor int8_error_bound(const torch::Tensor& x, const torch::Tensor& w_out_in) {
  auto w64 = w_out_in.to(torch::kFloat64);
  auto ew = (w64.abs().amax(1, true) / 127.0 / 2).expand_as(w64);  // [out, in]
  return quantized_error_bound(x, w_out_in, ew);
}

// int4: per group of 32 inputs the step is d = amax/8 rounded to float16
// (relative error <= 2^-11); a weight is off by at most d/2, or by up to
// d (1 + 8 * 2^-11) where +8 steps is clamped to +7: at most 1.01 amax/8.
// Products of more than kMaxChunkedRows rows may run the bf16 matrix kernel,
// which rounds each dequantized weight (at most ~amax) to bf16: 2^-8 amax more.
// (Its bf16 activations, off by <= 2^-8 |x|, stay within the int8 activation
// step's half, amax_block / 254, that quantized_error_bound allows.)
torch::Tensor int4_error_bound(const torch::Tensor& x, const torch::Tensor& w_out_in) {
  const bool matrix_kernel = x.size(0) > gpt2::ops::kMaxChunkedRows;
  const auto amax = block_amax(w_out_in.to(torch::kFloat64), 32);  // [out, in]
  auto ew = amax / 8.0 * 1.01 + (matrix_kernel ? amax * std::ldexp(1.0, -8) : amax * 0);
  return quantized_error_bound(x, w_out_in, ew);
}

bool needs_vnni(WeightType t) { return t == WeightType::kInt8 || t == WeightType::kInt4; }

// Allowed error of a float32 product: a few ulps of sum |x_i w_i|.
torch::Tensor f32_bound(const torch::Tensor& x64, const torch::Tensor& w64_in_out) {
  return torch::mm(x64.abs(), w64_in_out.abs()) * 1e-5 + 1e-6;
}

// bfloat16 weights: exact in the decode kernels (activations stay float32), but
// products of more than kMaxChunkedRows rows may run the bf16 matrix kernel,
// which rounds each activation to bf16 (8 significant bits, round to nearest:
// off by at most 2^-8 of itself, the unit roundoff), so sum |x_i w_i| 2^-8 more.
torch::Tensor bf16_bound(const torch::Tensor& x64, const torch::Tensor& w64_in_out) {
  const bool matrix_kernel = x64.size(0) > gpt2::ops::kMaxChunkedRows;
  return f32_bound(x64, w64_in_out) + (matrix_kernel ? torch::mm(x64.abs(), w64_in_out.abs()) * std::ldexp(1.0, -8) : torch::zeros({1}, torch::kFloat64));
}

using LinearCase = std::tuple<WeightType, int64_t /*N*/, int64_t /*in*/, int64_t /*out*/, int /*threads*/>;

class LinearKernel : public OpsTest, public ::testing::WithParamInterface<LinearCase> {};

TEST_P(LinearKernel, MatchesFloat64Reference) {
  const auto [type, n, in, out, threads] = GetParam();
  at::set_num_threads(threads);
  torch::manual_seed(static_cast<uint64_t>(n * 1000 + in * 7 + out));
  auto w = torch::randn({in, out}) * 0.05;   // [in, out]
  auto b = torch::randn({out});              // [out]
  auto x = torch::randn({n, in});            // [N, in]
  x.index_put_({torch::indexing::Slice(), 0}, 20.0);  // an outlier channel, as GPT-2 has
  const Projection lin = Linear(w, b, type);
  auto x64 = x.to(torch::kFloat64);
  torch::Tensor want, allowed;
  switch (type) {
    case WeightType::kFloat32:
      want = torch::addmm(b.to(torch::kFloat64), x64, w.to(torch::kFloat64));
      allowed = f32_bound(x64, w.to(torch::kFloat64));
      break;
    case WeightType::kBFloat16: {
      auto wb = w.to(torch::kBFloat16).to(torch::kFloat64);  // exactly the stored weights
      want = torch::addmm(b.to(torch::kFloat64), x64, wb);
      allowed = bf16_bound(x64, wb);
      break;
    }
    case WeightType::kInt8:
      want = torch::addmm(b.to(torch::kFloat64), x64, w.to(torch::kFloat64));
      allowed = int8_error_bound(x, w.t());
      break;
    case WeightType::kInt4:
      want = torch::addmm(b.to(torch::kFloat64), x64, w.to(torch::kFloat64));
      allowed = int4_error_bound(x, w.t());
      break;
  }
  for (Backend be : {Backend::kReference, Backend::kAuto}) {
    gpt2::ops::set_backend(be);
    auto y = lin(x);  // [N, out]
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{n, out}));
    EXPECT_LE(worst_ratio(y, want, allowed), 1.0) << gpt2::ops::to_string(type) << " backend " << int(be);
  }
  if (!gpt2::ops::cpu_kernels_available(type))
    GTEST_SKIP() << "this CPU lacks " << (needs_vnni(type) ? "AVX-512 VNNI" : "AVX-512")
                 << ": the reference path was checked, the " << gpt2::ops::to_string(type)
                 << " kernel could not be";
}

INSTANTIATE_TEST_SUITE_P(
    OddSizes, LinearKernel,
    ::testing::Combine(::testing::Values(WeightType::kFloat32, WeightType::kBFloat16, WeightType::kInt8, WeightType::kInt4),
                       ::testing::Values<int64_t>(1, 3, 8, 21, 65, 70),  // 21: float32's matrix path, the others'
                                                                    // kernels in chunks of 16 rows; 65, 70: every
                                                                    // matrix path (bf16's kernel: 4-row groups + 1, + 2)
                       ::testing::Values<int64_t>(37, 203), ::testing::Values<int64_t>(53, 130),
                       ::testing::Values(1, 2, 3)));

using TiedCase = std::tuple<WeightType, int64_t /*N*/, int64_t /*V*/, int64_t /*C*/, int /*threads*/>;
class TiedKernel : public OpsTest, public ::testing::WithParamInterface<TiedCase> {};

TEST_P(TiedKernel, MatchesFloat64Reference) {
  const auto [type, n, v, c, threads] = GetParam();
  at::set_num_threads(threads);
  torch::manual_seed(static_cast<uint64_t>(v + c * 3 + n));
  auto wte = torch::randn({v, c}) * 0.1;  // [V, C]
  auto x = torch::randn({n, c}) * 3;      // [N, C]
  const Projection head = TiedOutput(wte, type);
  auto x64 = x.to(torch::kFloat64);
  torch::Tensor want, allowed;
  switch (type) {
    case WeightType::kFloat32:
      want = torch::mm(x64, wte.to(torch::kFloat64).t());
      allowed = f32_bound(x64, wte.to(torch::kFloat64).t());
      break;
    case WeightType::kBFloat16: {
      auto wb = wte.to(torch::kBFloat16).to(torch::kFloat64);
      want = torch::mm(x64, wb.t());
      allowed = bf16_bound(x64, wb.t());
      break;
    }
    case WeightType::kInt8:
      want = torch::mm(x64, wte.to(torch::kFloat64).t());
      allowed = int8_error_bound(x, wte);
      break;
    case WeightType::kInt4:
      want = torch::mm(x64, wte.to(torch::kFloat64).t());
      allowed = int4_error_bound(x, wte);
      break;
  }
  for (Backend be : {Backend::kReference, Backend::kAuto}) {
    gpt2::ops::set_backend(be);
    auto y = head(x);  // [N, V]
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{n, v}));
    EXPECT_LE(worst_ratio(y, want, allowed), 1.0) << gpt2::ops::to_string(type) << " backend " << int(be);
  }
  if (!gpt2::ops::cpu_kernels_available(type))
    GTEST_SKIP() << "this CPU lacks " << (needs_vnni(type) ? "AVX-512 VNNI" : "AVX-512")
                 << ": the reference path was checked, the " << gpt2::ops::to_string(type)
                 << " kernel could not be";
}

INSTANTIATE_TEST_SUITE_P(
    OddSizes, TiedKernel,
    ::testing::Combine(::testing::Values(WeightType::kFloat32, WeightType::kBFloat16, WeightType::kInt8, WeightType::kInt4),
                       ::testing::Values<int64_t>(1, 2, 5, 17, 67, 70), ::testing::Values<int64_t>(7, 1001),
                       ::testing::Values<int64_t>(24, 77), ::testing::Values(1, 2)));

TEST_F(OpsTest, KernelAndReferenceAgreeClosely) {
  // Same stored weights, two implementations: float32 and bf16 differ only by
  // summation order.
  torch::manual_seed(7);
  auto w = torch::randn({129, 515}) * 0.05;  // [in, out]
  auto b = torch::randn({515});              // [out]
  auto x = torch::randn({2, 129});           // [N, in]
  if (!gpt2::ops::cpu_kernels_available(WeightType::kFloat32))
    GTEST_SKIP() << "this CPU lacks AVX-512: there is no kernel to compare with libtorch";
  for (WeightType t : {WeightType::kFloat32, WeightType::kBFloat16}) {
    const Projection lin = Linear(w, b, t);
    gpt2::ops::set_backend(Backend::kAuto);
    auto fast = lin(x);
    gpt2::ops::set_backend(Backend::kReference);
    auto ref = lin(x);
    EXPECT_TRUE(torch::allclose(fast, ref, 1e-4, 1e-4)) << gpt2::ops::to_string(t);
  }
}

TEST_F(OpsTest, KeepsLeadingDimensions) {
  torch::manual_seed(3);
  const Projection lin = Linear(torch::randn({10, 6}), torch::randn({6}));
  auto x = torch::randn({2, 3, 10});  // [B, T, in]
  auto y = lin(x);                     // [B, T, out]
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 6}));
  EXPECT_TRUE(torch::allclose(y[1][2], lin(x[1][2].unsqueeze(0))[0]));
  const Projection head = TiedOutput(torch::randn({11, 10}));
  EXPECT_EQ(head(x).sizes(), (std::vector<int64_t>{2, 3, 11}));
}

TEST_F(OpsTest, ForwardIntoWritesPreallocatedOutput) {
  torch::manual_seed(4);
  auto w = torch::randn({40, 33}), b = torch::randn({33});
  const Projection lin = Linear(w, b);
  auto x = torch::randn({2, 40});
  auto y = torch::full({2, 33}, 123.0f);
  const float* before = y.data_ptr<float>();
  lin.forward_into(x, y);
  EXPECT_EQ(y.data_ptr<float>(), before);
  EXPECT_TRUE(torch::allclose(y, torch::addmm(b, x, w), 1e-4, 1e-4));
  auto wrong = torch::empty({3, 33});
  EXPECT_THROW(lin.forward_into(x, wrong), gpt2::UsageError);
}

TEST_F(OpsTest, ZeroRowsAndZeroInputs) {
  for (WeightType t : {WeightType::kInt8, WeightType::kInt4}) {
    auto w = torch::randn({16, 8});
    w.narrow(0, 0, 8).zero_();  // an all-zero weight group: scale 0
    const Projection lin = Linear(w, torch::randn({8}), t);
    EXPECT_EQ(lin(torch::empty({0, 16})).sizes(), (std::vector<int64_t>{0, 8}));
    // All-zero activations: quantization scale 0 must not produce NaN.
    auto y = lin(torch::zeros({1, 16}));
    EXPECT_FALSE(torch::isnan(y).any().item<bool>()) << gpt2::ops::to_string(t);
    EXPECT_FALSE(torch::isnan(lin(torch::ones({2, 16}))).any().item<bool>()) << gpt2::ops::to_string(t);
  }
}

TEST_F(OpsTest, Int4RefusesWeightsBeyondFloat16Scales) {
  auto w = torch::zeros({40, 8});
  w[3][2] = 1e6f;  // scale 1e6 / 8 > 65504
  EXPECT_THROW(Linear(w, torch::zeros({8}), WeightType::kInt4), gpt2::UsageError);
}

TEST_F(OpsTest, Int4IsForTheCpuOnly) {
  // Another device (the meta device stands in for CUDA, which this build may lack).
  auto meta = torch::TensorOptions().device(torch::kMeta);
  try {
    Linear(torch::empty({64, 8}, meta), torch::empty({8}, meta), WeightType::kInt4);
    FAIL() << "int4 weights on a non-CPU device were accepted";
  } catch (const gpt2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("CPU only"), std::string::npos) << e.what();
  }
}

TEST_F(OpsTest, Int4StoresSmallIntegerMultiplesExactly) {
  // Weights that are exact multiples of a float16 scale, with -8 steps the
  // extreme of each group, survive quantization exactly; integer activations
  // with 127 the maximum of each 64-block are exact in int8. So both backends
  // must give the float64 product up to float32 summation only.
  torch::manual_seed(11);
  const int64_t in = 96, out = 37;
  auto q = torch::randint(-7, 8, {in, out}).to(torch::kFloat32);  // [in, out]
  for (int64_t g = 0; g < in; g += 32) q[g].fill_(-8.0f);          // each group's extreme: -8
  auto w = q * 0.015625f;                                          // d = 2^-6, exact in float16
  auto x = torch::randint(-127, 128, {3, in}).to(torch::kFloat32);  // [3, in]
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < in; c += 64) x[r][c] = 127.0f;  // each activation block's maximum: step 1
  auto b = torch::randn({out});
  const Projection lin = Linear(w, b, WeightType::kInt4);
  auto want = torch::addmm(b.to(torch::kFloat64), x.to(torch::kFloat64), w.to(torch::kFloat64));
  for (Backend be : {Backend::kReference, Backend::kAuto}) {
    gpt2::ops::set_backend(be);
    EXPECT_TRUE(torch::allclose(lin(x).to(torch::kFloat64), want, 0, 1e-3)) << "backend " << int(be);
  }
}

TEST_F(OpsTest, RejectsBadShapes) {
  const Projection lin = Linear(torch::randn({10, 6}), torch::randn({6}));
  EXPECT_THROW(lin(torch::randn({2, 9})), gpt2::UsageError);
  EXPECT_THROW(lin(torch::randn({2, 10}).to(torch::kFloat64)), gpt2::UsageError);
  EXPECT_THROW(Linear(torch::randn({10, 6}), torch::randn({5})), gpt2::FormatError);
  EXPECT_THROW(Linear(torch::randn({10}), torch::randn({10})), gpt2::FormatError);
  EXPECT_THROW(TiedOutput(torch::randn({10})), gpt2::FormatError);
}

TEST_F(OpsTest, WeightBytesPerType) {
  auto w = torch::randn({100, 30}), b = torch::randn({30});
  EXPECT_EQ(Linear(w, b, WeightType::kFloat32).weight_bytes(), 100 * 30 * 4 + 30 * 4);
  EXPECT_EQ(Linear(w, b, WeightType::kBFloat16).weight_bytes(), 100 * 30 * 2 + 30 * 4);
  EXPECT_EQ(Linear(w, b, WeightType::kInt8).weight_bytes(), 100 * 30 + 30 * 4 + 30 * 4);
  // 4 bits per weight, a float16 scale per 32 inputs (4 groups for 100 inputs), bias
  EXPECT_EQ(Linear(w, b, WeightType::kInt4).weight_bytes(), 100 * 30 / 2 + 30 * 4 * 2 + 30 * 4);
  EXPECT_EQ(TiedOutput(torch::randn({50, 8}), WeightType::kBFloat16).weight_bytes(), 50 * 8 * 2);
}

TEST_F(OpsTest, Float32KeepsTheGivenWeights) {
  auto w = torch::randn({64, 32}), b = torch::randn({32});
  const Projection lin = Linear(w, b);
  // Zero-copy: changing the caller's tensor changes the product.
  auto x = torch::ones({1, 64});
  auto before = lin(x).clone();
  w.add_(1.0);
  EXPECT_FALSE(torch::allclose(lin(x), before));
}

TEST_F(OpsTest, ParsesWeightTypes) {
  EXPECT_EQ(gpt2::ops::parse_weight_type("float32"), WeightType::kFloat32);
  EXPECT_EQ(gpt2::ops::parse_weight_type("bf16"), WeightType::kBFloat16);
  EXPECT_EQ(gpt2::ops::parse_weight_type("int8"), WeightType::kInt8);
  EXPECT_EQ(gpt2::ops::parse_weight_type("int4"), WeightType::kInt4);
  EXPECT_EQ(gpt2::ops::to_string(WeightType::kInt4), "int4");
  EXPECT_THROW(gpt2::ops::parse_weight_type("float16"), gpt2::UsageError);
  EXPECT_EQ(gpt2::ops::to_string(WeightType::kBFloat16), "bfloat16");
  EXPECT_FALSE(gpt2::ops::kernel_description().empty());
}

}  // namespace

namespace {
TEST(OpsBytes, BytesForMatchesBuiltObjects) {
  auto w = torch::randn({24, 40}), b = torch::randn({40}), wte = torch::randn({31, 24});
  for (WeightType t : {WeightType::kFloat32, WeightType::kBFloat16, WeightType::kInt8, WeightType::kInt4}) {
    EXPECT_EQ(Projection::bytes_for(t, 24, 40, true), Linear(w, b, t).weight_bytes());
    EXPECT_EQ(Projection::bytes_for(t, 24, 31, false), TiedOutput(wte, t).weight_bytes());
  }
}
}  // namespace

// Dataset generation relies on this: a row's product is bitwise the same
// whatever rows share the call and however many threads run it (the kernels'
// per-row arithmetic is fixed), so a sample never depends on its batch.
class RowIndependence : public OpsTest, public ::testing::WithParamInterface<WeightType> {};

TEST_P(RowIndependence, ARowIsBitwiseTheSameInAnyBatchAndThreadCount) {
  const WeightType type = GetParam();
  if (!gpt2::ops::cpu_kernels_available(type))
    GTEST_SKIP() << "this CPU lacks the " << gpt2::ops::to_string(type) << " kernel";
  for (int64_t in : {64, 200, 768}) {
    torch::manual_seed(static_cast<uint64_t>(in));
    const int64_t out = 3 * in + 5;
    const Projection lin = Linear(torch::randn({in, out}) * 0.05, torch::randn({out}) * 5, type);
    const Projection head = TiedOutput(torch::randn({out, in}) * 0.1, type);
    auto x = torch::randn({16, in});  // [16, in]
    at::set_num_threads(2);
    const auto all = lin(x), all_head = head(x);
    for (int threads : {1, 3}) {
      at::set_num_threads(threads);
      for (int64_t n : {1, 2, 3, 5, 9}) {
        for (int64_t r0 : {int64_t{0}, 16 - n}) {
          auto part = lin(x.narrow(0, r0, n));
          EXPECT_TRUE(torch::equal(part, all.narrow(0, r0, n)))
              << gpt2::ops::to_string(type) << " in " << in << " rows " << r0 << "+" << n << " threads " << threads;
          EXPECT_TRUE(torch::equal(head(x.narrow(0, r0, n)), all_head.narrow(0, r0, n)))
              << "tied " << gpt2::ops::to_string(type) << " in " << in << " rows " << r0 << "+" << n;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, RowIndependence,
                         ::testing::Values(WeightType::kFloat32, WeightType::kBFloat16, WeightType::kInt8,
                                           WeightType::kInt4));
