// The fused per-position analysis of `gpt2 score` (score_kernels.hpp).
#include "gpt2/kernels/score_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/avx512_math.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/omp_team.hpp"

namespace gpt2::score_kernels {

namespace {

// exp(z) below this is under 1.7e-38 of the row's largest term: counted as 0
// (this also keeps -inf logits out of the sums: exp(-inf) * -inf would be NaN).
constexpr float kMinZ = -87.0f;
// Values per float32 partial sum before it is added into the float64 totals:
// kBlock / kLanes = 16 terms per lane.
constexpr int64_t kLanes = 16;
constexpr int64_t kBlock = 16 * kLanes;

struct RowResult {
  double logprob = 0, entropy = 0, log_norm = 0;
  int64_t rank = 0;
};

// The results from the row's max, its rank count and the two sums.
RowResult finish(float x_t, float mx, int64_t above, double sum_e, double sum_ez) {
  RowResult r;
  const double log_sum = std::log(sum_e);
  r.logprob = static_cast<double>(x_t) - static_cast<double>(mx) - log_sum;
  r.rank = above + 1;
  r.entropy = log_sum - sum_ez / sum_e;
  r.log_norm = static_cast<double>(mx) + log_sum;
  return r;
}

// ---- portable path: plain C++ over kLanes lanes (the compiler may vectorize it) ----

// The portable path uses integer compares and masks only: float compares
// (which may trap, as far as the compiler knows) keep GCC from vectorizing.

inline uint32_t bits_of(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}
inline float float_of(uint32_t b) {
  float v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// float -> int32 in the order of the floats (-0 maps to +0's key; NaN-free input),
// and back.
inline int32_t order_key(float v) {
  uint32_t b = bits_of(v);
  b = b == 0x80000000u ? 0u : b;
  const auto i = static_cast<int32_t>(b);
  return i ^ ((i >> 31) & 0x7fffffff);
}
inline float from_order_key(int32_t k) { return float_of(static_cast<uint32_t>(k ^ ((k >> 31) & 0x7fffffff))); }

// exp(x) for x in [-87, 0], the polynomial of simd::exp_ps.
inline float exp_portable(float x) {
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 * 2^23)
  float r = x - n * 0.693145751953125f;                                   // ln2 split in two
  r = r - n * 1.428606765330187e-06f;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * float_of(static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23);  // times 2^n, n in [-126, 0]
}

// One term of pass 2 (z <= 0) into a lane's partial sums; z < kMinZ (also -inf)
// adds nothing: |z| > 87 as a bit pattern compare, then masks.
inline void add_term(float z, float& s, float& w) {
  const uint32_t keep = 0u - static_cast<uint32_t>((bits_of(z) & 0x7fffffffu) <= bits_of(-kMinZ));
  const float zc = float_of(bits_of(z) & keep);
  const float e = float_of(bits_of(exp_portable(zc)) & keep);
  s += e;
  w += e * zc;
}

RowResult row_portable(const float* x, int64_t V, int64_t t) {
  const float x_t = x[t];
  const int32_t key_t = order_key(x_t);
  // Pass 1: max and #{x_j > x_t}, per lane, on order keys.
  int32_t m[kLanes], c[kLanes] = {};  // counts < 2^31 for V < 2^35
  std::fill(m, m + kLanes, std::numeric_limits<int32_t>::min());
  int64_t j = 0;
  for (; j + kLanes <= V; j += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      const int32_t k = order_key(x[j + l]);
      m[l] = k > m[l] ? k : m[l];
      c[l] += k > key_t ? 1 : 0;
    }
  for (int64_t l = 0; j < V; ++j, ++l) {
    const int32_t k = order_key(x[j]);
    m[l] = k > m[l] ? k : m[l];
    c[l] += k > key_t ? 1 : 0;
  }
  int32_t key_max = m[0];
  int64_t above = 0;
  for (int64_t l = 0; l < kLanes; ++l) {
    key_max = std::max(key_max, m[l]);
    above += c[l];
  }
  const float mx = from_order_key(key_max);
  // Pass 2: float32 lane sums per block of kBlock values, float64 across blocks.
  double sum_e = 0, sum_ez = 0;
  for (int64_t j0 = 0; j0 < V; j0 += kBlock) {
    const float* xb = x + j0;
    const int64_t len = std::min(kBlock, V - j0);
    float s[kLanes] = {}, w[kLanes] = {};
    int64_t i = 0;
    for (; i + kLanes <= len; i += kLanes)
      for (int64_t l = 0; l < kLanes; ++l) add_term(xb[i + l] - mx, s[l], w[l]);
    for (int64_t l = 0; i < len; ++i, ++l) add_term(xb[i] - mx, s[l], w[l]);
    for (int64_t l = 0; l < kLanes; ++l) {
      sum_e += s[l];
      sum_ez += w[l];
    }
  }
  return finish(x_t, mx, above, sum_e, sum_ez);
}

// ---- AVX-512 path ----

#if defined(GPT2_HAVE_AVX512_MATH)

GPT2_AVX512 RowResult row_avx512(const float* x, int64_t V, int64_t t) {
  using simd::tail;
  const float x_t = x[t];
  const __m512 vt = _mm512_set1_ps(x_t);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i one = _mm512_set1_epi32(1);
  // Pass 1: max and #{x_j > x_t}, two independent accumulators each.
  __m512 m0 = neg_inf, m1 = neg_inf;
  __m512i c0 = _mm512_setzero_si512(), c1 = _mm512_setzero_si512();  // per-lane counts (< 2^31 for V < 2^35)
  int64_t j = 0;
  for (; j + 32 <= V; j += 32) {
    const __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + 16);
    m0 = _mm512_max_ps(m0, a);
    m1 = _mm512_max_ps(m1, b);
    c0 = _mm512_mask_add_epi32(c0, _mm512_cmp_ps_mask(a, vt, _CMP_GT_OQ), c0, one);
    c1 = _mm512_mask_add_epi32(c1, _mm512_cmp_ps_mask(b, vt, _CMP_GT_OQ), c1, one);
  }
  for (; j < V; j += 16) {
    const __mmask16 k = tail(V - j);
    const __m512 a = _mm512_mask_loadu_ps(neg_inf, k, x + j);
    m0 = _mm512_max_ps(m0, a);
    c0 = _mm512_mask_add_epi32(c0, _mm512_mask_cmp_ps_mask(k, a, vt, _CMP_GT_OQ), c0, one);
  }
  const float mx = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
  const int64_t above = static_cast<int64_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(c0))) +
                        static_cast<uint32_t>(_mm512_reduce_add_epi32(c1));
  // Pass 2: sum exp(z) and exp(z) z, float32 per block of kBlock values, float64 across blocks.
  const __m512 vm = _mm512_set1_ps(mx), lo = _mm512_set1_ps(kMinZ);
  __m512d e_lo = _mm512_setzero_pd(), e_hi = _mm512_setzero_pd(), w_lo = _mm512_setzero_pd(),
          w_hi = _mm512_setzero_pd();
  for (int64_t j0 = 0; j0 < V; j0 += kBlock) {
    const int64_t j1 = std::min(V, j0 + kBlock);
    __m512 s = _mm512_setzero_ps(), w = _mm512_setzero_ps();
    for (int64_t i = j0; i < j1; i += 16) {
      const __mmask16 k = tail(j1 - i);
      const __m512 z = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), vm);
      const __mmask16 live = _mm512_mask_cmp_ps_mask(k, z, lo, _CMP_GE_OQ);
      const __m512 e = _mm512_maskz_mov_ps(live, simd::exp_ps(z));
      s = _mm512_add_ps(s, e);
      w = _mm512_mask3_fmadd_ps(e, z, w, live);
    }
    e_lo = _mm512_add_pd(e_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(s)));
    e_hi = _mm512_add_pd(e_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1)));
    w_lo = _mm512_add_pd(w_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(w)));
    w_hi = _mm512_add_pd(w_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(w, 1)));
  }
  return finish(x_t, mx, above, _mm512_reduce_add_pd(_mm512_add_pd(e_lo, e_hi)),
                _mm512_reduce_add_pd(_mm512_add_pd(w_lo, w_hi)));
}

#else

RowResult row_avx512(const float*, int64_t, int64_t) {
  throw std::logic_error("the AVX-512 score kernel is not built for this CPU");
}

#endif

}  // namespace

bool avx512_available() {
#if defined(GPT2_HAVE_AVX512_MATH)
  return ops::kernels::cpu_features().avx512;
#else
  return false;
#endif
}

void analyse_rows(const float* logits, int64_t n, int64_t V, const int64_t* targets, double* logprob, int64_t* rank,
                  double* entropy, double* log_norm, int threads, Path path) {
  for (int64_t r = 0; r < n; ++r)
    if (targets[r] < 0 || targets[r] >= V)
      throw std::out_of_range("score kernel: target id " + std::to_string(targets[r]) + " is outside [0, " +
                              std::to_string(V) + ")");
  if (path == Path::kAvx512 && !avx512_available())
    throw std::logic_error("score kernel: this CPU has no AVX-512");
  const bool avx512 = path == Path::kAvx512 || (path == Path::kAuto && avx512_available());
  const std::function<void(int64_t)> fn = [&](int64_t r) {
    const float* x = logits + r * V;  // [V]
    const RowResult res = avx512 ? row_avx512(x, V, targets[r]) : row_portable(x, V, targets[r]);
    logprob[r] = res.logprob;
    rank[r] = res.rank;
    entropy[r] = res.entropy;
    if (log_norm != nullptr) log_norm[r] = res.log_norm;
  };
  // On libtorch's OpenMP team, like the head's sgemm before it: a second team of
  // threads would spin against OpenMP's (at --threads 2 that made scoring slower
  // than at 1: 10.7k vs 15.5k scored tokens/s on tiny-ref).
  ops::run_on_omp_team(n, threads, fn);
}

}  // namespace gpt2::score_kernels
