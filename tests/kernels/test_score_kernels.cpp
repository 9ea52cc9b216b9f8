// The fused per-position analysis of `gpt2 score` (src/model/score_kernels.hpp),
// both paths (AVX-512 and portable), against float64 formulas evaluated here on
// the same float32 logits, with an error bound derived below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpt2/kernels/score_kernels.hpp"

namespace {

namespace sk = gpt2::score_kernels;
using sk::Path;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kU = 0x1p-24;  // float32 unit roundoff

// float64 reference for one row x [V] and target t, and the kernel's error bound.
struct Expected {
  double logprob = 0, entropy = 0, log_norm = 0;
  int64_t rank = 0;
  double lp_tol = 0, ent_tol = 0;  // |kernel - reference| bounds (logprob and log_norm; entropy)
};

// Error bound. For each term the kernel forms z = fl(x_j - max) (absolute error <=
// u |z|, so exp(z) is off by a relative <= u |z| <= u Z, Z = the largest |z| it
// sums), then exp(z) in float32 (Taylor remainder 1.2e-7 plus <= 16 u from the
// rounding of the range reduction and of Horner's steps, two roundings each on the
// portable path), e z (one more u), then float32 partial sums of at most 16 terms
// per lane (<= 16 u relative: all terms of sum exp(z) are positive, all terms of
// sum exp(z) z are <= 0, so per-term relative errors carry over to the sums), then
// float64 sums (<= V 2^-53, < 1e-9 here). Terms with z < -87 are dropped: each is
// < 1.7e-38 while sum exp(z) >= 1 (the max's term). So S = sum exp(z) and
// W = sum exp(z) z are each within a relative
//   eta = 1.2e-7 + (Z + 16 + 16 + 2) u + 1e-9
// of the exact sums, and, the rest being float64:
//   |logprob error| = |log S error| <= eta / (1 - eta)   (also log_norm)
//   |entropy error| = |log S - W / S error| <= eta + 2 eta |W / S| (+ O(eta^2)).
// The checks use these bounds times 1.01 (for the O(eta^2) terms) plus 1e-12.
Expected reference(const float* x, int64_t V, int64_t t) {
  Expected e;
  double mx = -kInf;
  for (int64_t j = 0; j < V; ++j) mx = std::max(mx, static_cast<double>(x[j]));
  double s = 0, w = 0, z_max = 0;
  for (int64_t j = 0; j < V; ++j) {
    if (x[j] > x[t]) ++e.rank;
    const double z = static_cast<double>(x[j]) - mx;
    if (z == -kInf) continue;  // exp(-inf) = 0: no term
    s += std::exp(z);
    w += std::exp(z) * z;
    if (z >= -87.0) z_max = std::max(z_max, -z);
  }
  e.rank += 1;
  e.logprob = static_cast<double>(x[t]) - mx - std::log(s);
  e.entropy = std::log(s) - w / s;
  e.log_norm = mx + std::log(s);
  const double eta = 1.2e-7 + (z_max + 34) * kU + 1e-9;
  e.lp_tol = 1.01 * eta / (1 - eta) + 1e-12;
  e.ent_tol = 1.01 * (eta + 2 * eta * std::abs(w / s)) + 1e-12;
  return e;
}

struct Rows {
  int64_t n = 0, V = 0;
  std::vector<float> x;  // [n, V]
  std::vector<int64_t> targets;  // [n]
};

struct Results {
  std::vector<double> logprob, entropy, log_norm;
  std::vector<int64_t> rank;
};

Results run(const Rows& r, Path path, int threads) {
  Results out;
  out.logprob.assign(r.n, 0);
  out.entropy.assign(r.n, 0);
  out.log_norm.assign(r.n, 0);
  out.rank.assign(r.n, 0);
  sk::analyse_rows(r.x.data(), r.n, r.V, r.targets.data(), out.logprob.data(), out.rank.data(), out.entropy.data(),
                   out.log_norm.data(), threads, path);
  return out;
}

std::vector<Path> paths() {
  std::vector<Path> p{Path::kPortable};
  if (sk::avx512_available()) p.push_back(Path::kAvx512);
  return p;
}

std::string name(Path p) { return p == Path::kAvx512 ? "avx512" : "portable"; }

// Every path and thread count against the float64 reference; results identical
// across thread counts (one row is one thread's work).
void check(const Rows& r) {
  for (Path path : paths()) {
    const Results base = run(r, path, 1);
    for (int64_t i = 0; i < r.n; ++i) {
      SCOPED_TRACE(name(path) + " V=" + std::to_string(r.V) + " row " + std::to_string(i));
      const Expected e = reference(r.x.data() + i * r.V, r.V, r.targets[static_cast<size_t>(i)]);
      EXPECT_EQ(base.rank[i], e.rank);
      EXPECT_NEAR(base.logprob[i], e.logprob, e.lp_tol);
      EXPECT_NEAR(base.entropy[i], e.entropy, e.ent_tol);
      EXPECT_NEAR(base.log_norm[i], e.log_norm, e.lp_tol);
    }
    for (int threads : {2, 3}) {
      const Results m = run(r, path, threads);
      EXPECT_EQ(m.logprob, base.logprob) << name(path) << " threads " << threads;
      EXPECT_EQ(m.entropy, base.entropy) << name(path) << " threads " << threads;
      EXPECT_EQ(m.rank, base.rank) << name(path) << " threads " << threads;
    }
  }
}

// n rows of V logits from `dist`, targets spread over the row.
template <class Dist>
Rows random_rows(int64_t n, int64_t V, Dist dist, uint32_t seed) {
  std::mt19937 gen(seed);
  Rows r;
  r.n = n;
  r.V = V;
  r.x.resize(static_cast<size_t>(n * V));
  for (float& v : r.x) v = static_cast<float>(dist(gen));
  std::uniform_int_distribution<int64_t> pick(0, V - 1);
  for (int64_t i = 0; i < n; ++i) r.targets.push_back(pick(gen));
  return r;
}

TEST(ScoreKernels, OddVocabularySizesMatchFloat64) {
  for (int64_t V : {1, 15, 16, 17, 33, 255, 257, 50257}) {
    check(random_rows(5, V, std::normal_distribution<double>(0.0, 3.0), static_cast<uint32_t>(V)));
  }
  check(random_rows(2, 1000003, std::normal_distribution<double>(0.0, 3.0), 7));
}

TEST(ScoreKernels, WideLogitSpread) {
  // logits over [-80, 80]: terms down to exp(-160) (dropped below exp(-87)) and a
  // dominant max; plus rows where the target sits at either end.
  Rows r = random_rows(6, 50257, std::uniform_real_distribution<double>(-80.0, 80.0), 3);
  r.x[static_cast<size_t>(0 * r.V + 5)] = 80.0f;
  r.targets[0] = 5;  // the max: rank 1, logprob near 0
  r.x[static_cast<size_t>(1 * r.V + 9)] = -80.0f;
  r.targets[1] = 9;  // the min: logprob near -160
  check(r);
  // One huge logit over a flat row: p(max) ~ 1, entropy ~ 0.
  Rows peak = random_rows(2, 4099, std::uniform_real_distribution<double>(-1.0, 1.0), 4);
  peak.x[100] = 60.0f;
  peak.targets[0] = 100;
  check(peak);
}

TEST(ScoreKernels, RankCountsStrictlyLargerLogitsOnly) {
  // Logits in a few distinct values: many ties with the target.
  Rows r = random_rows(4, 1027, std::uniform_int_distribution<int>(-3, 3), 5);
  for (int64_t i = 0; i < r.n; ++i) r.x[static_cast<size_t>(i * r.V + r.targets[static_cast<size_t>(i)])] =
      static_cast<float>(i - 2);
  check(r);
  // Every logit equal: rank 1 for any target, uniform distribution.
  Rows flat;
  flat.n = 1;
  flat.V = 50257;
  flat.x.assign(static_cast<size_t>(flat.V), 2.5f);
  flat.targets = {777};
  for (Path path : paths()) {
    const Results res = run(flat, path, 1);
    EXPECT_EQ(res.rank[0], 1) << name(path);
    EXPECT_NEAR(res.logprob[0], -std::log(50257.0), 1e-5) << name(path);
    EXPECT_NEAR(res.entropy[0], std::log(50257.0), 1e-5) << name(path);
  }
  check(flat);
}

TEST(ScoreKernels, MinusInfinityLogitsCountAsZeroProbability) {
  Rows r = random_rows(3, 531, std::normal_distribution<double>(0.0, 2.0), 6);
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < r.V; j += 3) r.x[static_cast<size_t>(j)] = ninf;           // row 0: every third
  for (int64_t j = 0; j < r.V; j += 2) r.x[static_cast<size_t>(r.V + j)] = ninf;     // row 1: every other
  r.targets[0] = 1;
  r.targets[1] = 1;
  for (int64_t j = 0; j < r.V; ++j)  // row 2: only the target is finite
    if (j != r.targets[2]) r.x[static_cast<size_t>(2 * r.V + j)] = ninf;
  check(r);
  for (Path path : paths()) {
    const Results res = run(r, path, 1);
    for (int64_t i = 0; i < r.n; ++i) {
      EXPECT_TRUE(std::isfinite(res.logprob[i])) << name(path) << " row " << i;
      EXPECT_TRUE(std::isfinite(res.entropy[i])) << name(path) << " row " << i;
    }
    EXPECT_EQ(res.logprob[2], 0.0) << name(path);
    EXPECT_EQ(res.entropy[2], 0.0) << name(path);
    EXPECT_EQ(res.rank[2], 1) << name(path);
  }
  // A -inf target: log p = -inf, ranked after every finite logit.
  Rows t = random_rows(1, 100, std::normal_distribution<double>(0.0, 1.0), 8);
  t.x[42] = ninf;
  t.targets[0] = 42;
  for (Path path : paths()) {
    const Results res = run(t, path, 1);
    EXPECT_EQ(res.logprob[0], -kInf) << name(path);
    EXPECT_EQ(res.rank[0], 100) << name(path);
    EXPECT_TRUE(std::isfinite(res.entropy[0])) << name(path);
  }
}

TEST(ScoreKernels, AutoPathAndNoLogNorm) {
  Rows r = random_rows(3, 50257, std::normal_distribution<double>(0.0, 3.0), 9);
  const Results expected = run(r, sk::avx512_available() ? Path::kAvx512 : Path::kPortable, 1);
  std::vector<double> lp(3), ent(3);
  std::vector<int64_t> rank(3);
  sk::analyse_rows(r.x.data(), r.n, r.V, r.targets.data(), lp.data(), rank.data(), ent.data(), nullptr, 2);
  EXPECT_EQ(lp, expected.logprob);
  EXPECT_EQ(ent, expected.entropy);
  EXPECT_EQ(rank, expected.rank);
}

TEST(ScoreKernels, BadTargetsAndMissingAvx512Throw) {
  Rows r = random_rows(2, 17, std::normal_distribution<double>(0.0, 1.0), 10);
  r.targets[1] = 17;
  EXPECT_THROW(run(r, Path::kPortable, 1), std::out_of_range);
  r.targets[1] = -1;
  EXPECT_THROW(run(r, Path::kPortable, 1), std::out_of_range);
  r.targets[1] = 0;
  if (sk::avx512_available())
    EXPECT_NO_THROW(run(r, Path::kAvx512, 1));
  else
    EXPECT_THROW(run(r, Path::kAvx512, 1), std::logic_error);
  // No rows: nothing read or written.
  sk::analyse_rows(nullptr, 0, 17, nullptr, nullptr, nullptr, nullptr, nullptr, 2);
}

}  // namespace
