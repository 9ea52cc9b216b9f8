// The packed causal attention kernel (src/kernels/attention.cpp), both paths
// (AVX-512 and portable), against softmax(q k^T / sqrt(D) + causal mask) v
// evaluated here in float64 per sequence; and a sequence's rows bit for bit the
// same whatever sequences share its buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "gpt2/kernels/attention.hpp"

namespace {

// float64 causal attention of one sequence: rows [row0, row0 + T) of qkv [N, 3C].
std::vector<double> reference(const std::vector<float>& qkv, int64_t row0, int64_t T, int64_t H, int64_t D) {
  const int64_t C = H * D, ld = 3 * C;
  std::vector<double> y(static_cast<size_t>(T * C));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = 0; i < T; ++i) {
      std::vector<double> s(static_cast<size_t>(i + 1));
      double mx = -1e300;
      for (int64_t j = 0; j <= i; ++j) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d)
          acc += static_cast<double>(qkv[static_cast<size_t>((row0 + i) * ld + h * D + d)]) *
                 qkv[static_cast<size_t>((row0 + j) * ld + C + h * D + d)];
        s[static_cast<size_t>(j)] = acc / std::sqrt(static_cast<double>(D));
        mx = std::max(mx, s[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (int64_t d = 0; d < D; ++d) {
        double acc = 0;
        for (int64_t j = 0; j <= i; ++j)
          acc += s[static_cast<size_t>(j)] * qkv[static_cast<size_t>((row0 + j) * ld + 2 * C + h * D + d)];
        y[static_cast<size_t>(i * C + h * D + d)] = acc / sum;
      }
    }
  return y;
}

std::vector<float> random_qkv(int64_t N, int64_t C, float sd, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> v(static_cast<size_t>(N * 3 * C));
  for (float& x : v) x = nd(rng);
  return v;
}

struct Shape {
  int64_t H, D;
};

void check_against_reference(bool portable) {
  // D = 12 (tiny-ref: a partial 16-lane column block) and 64 (every GPT-2 size);
  // lengths around the 8-row query blocks and 16-key blocks, 1 included.
  for (const Shape sh : {Shape{2, 12}, Shape{3, 64}}) {
    const std::vector<int64_t> lengths = {1, 5, 17, 64, 3, 40};
    int64_t N = 0;
    for (int64_t l : lengths) N += l;
    const int64_t C = sh.H * sh.D;
    // Scores with sd 1.5 per entry reach |q.k| / sqrt(D) of several units: sharp rows.
    const auto qkv = random_qkv(N, C, 1.5f, 7);
    std::vector<float> y(static_cast<size_t>(N * C), -1.0f);
    gpt2::ops::causal_attention_packed(qkv.data(), N, lengths, sh.H, sh.D, y.data(), 2, portable);
    int64_t row0 = 0;
    for (int64_t T : lengths) {
      const auto ref = reference(qkv, row0, T, sh.H, sh.D);
      for (int64_t i = 0; i < T * C; ++i) {
        // Each output is a convex combination of values of size ~1.5: float32 rounding
        // of the dot products (D terms), exp (~1.2e-7) and the sums over <= 64 keys
        // stays far below 1e-5.
        ASSERT_NEAR(y[static_cast<size_t>(row0 * C + i)], ref[static_cast<size_t>(i)], 2e-5)
            << "D " << sh.D << " sequence at " << row0 << " entry " << i;
      }
      row0 += T;
    }
  }
}

TEST(Attention, PortablePathMatchesFloat64) { check_against_reference(true); }

TEST(Attention, KernelMatchesFloat64) {
  if (!gpt2::ops::attention_kernel_available()) GTEST_SKIP() << "no AVX-512 on this CPU";
  check_against_reference(false);
}

// A sequence's output is the same bits alone as packed between others.
TEST(Attention, SequenceIndependentOfItsNeighbours) {
  const int64_t H = 2, D = 64, C = H * D;
  const std::vector<int64_t> lengths = {9, 33, 20};
  const auto qkv = random_qkv(62, C, 1.0f, 3);
  for (bool portable : {true, false}) {
    if (!portable && !gpt2::ops::attention_kernel_available()) continue;
    std::vector<float> packed(static_cast<size_t>(62 * C));
    gpt2::ops::causal_attention_packed(qkv.data(), 62, lengths, H, D, packed.data(), 2, portable);
    // The middle sequence alone (its own rows only).
    const std::vector<float> mid(qkv.begin() + 9 * 3 * C, qkv.begin() + 42 * 3 * C);
    std::vector<float> alone(static_cast<size_t>(33 * C));
    gpt2::ops::causal_attention_packed(mid.data(), 33, {33}, H, D, alone.data(), 1, portable);
    for (int64_t i = 0; i < 33 * C; ++i) ASSERT_EQ(packed[static_cast<size_t>(9 * C + i)], alone[static_cast<size_t>(i)]) << i;
  }
}

TEST(Attention, RejectsLengthsThatDoNotCoverTheRows) {
  std::vector<float> qkv(static_cast<size_t>(10 * 3 * 24)), y(static_cast<size_t>(10 * 24));
  EXPECT_THROW(gpt2::ops::causal_attention_packed(qkv.data(), 10, {4, 5}, 2, 12, y.data(), 1), std::invalid_argument);
  EXPECT_THROW(gpt2::ops::causal_attention_packed(qkv.data(), 10, {10, 0}, 2, 12, y.data(), 1),
               std::invalid_argument);
}

}  // namespace
