// Causal self-attention over packed sequences (attention.hpp).
//
// Per (sequence, head): the keys are transposed once into blocks of 16 ([D][16]
// each, zero padded), then 8 query rows at a time: scores for the key blocks up
// to the block's last row (8 x 16 accumulators fed by one load of 16 keys and 8
// broadcast query values per dimension), softmax over each row's causal range
// (later keys are set to 0), then the weighted sum of the value rows (8 rows of
// 16 output columns per pass over the keys). Scratch: the transposed keys (at
// 1,024 positions and D = 64, 256 KiB) and 8 score rows, per thread.
#include "gpt2/kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/avx512_math.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/omp_team.hpp"

namespace gpt2::ops {

namespace {

constexpr int64_t kQueryRows = 8;  // query rows per block
constexpr int64_t kKeyLanes = 16;  // keys per transposed block

struct Seq {
  int64_t row0, length;
};

// The plain C++ path: for each row, scores over its causal range, softmax, sum of values.
void head_portable(const float* qkv, int64_t ld, const Seq& s, int64_t h, int64_t C, int64_t D, float* y,
                   std::vector<float>& scores) {
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  scores.resize(static_cast<size_t>(s.length));
  const float* base = qkv + s.row0 * ld + h * D;
  for (int64_t i = 0; i < s.length; ++i) {
    const float* q = base + i * ld;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j <= i; ++j) {
      const float* k = base + j * ld + C;
      float acc = 0;
      for (int64_t d = 0; d < D; ++d) acc += q[d] * k[d];
      scores[static_cast<size_t>(j)] = acc * scale;
      mx = std::max(mx, scores[static_cast<size_t>(j)]);
    }
    float sum = 0;
    for (int64_t j = 0; j <= i; ++j) {
      const float e = std::exp(scores[static_cast<size_t>(j)] - mx);
      scores[static_cast<size_t>(j)] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    float* out = y + (s.row0 + i) * C + h * D;
    for (int64_t d = 0; d < D; ++d) out[d] = 0;
    for (int64_t j = 0; j <= i; ++j) {
      const float* v = base + j * ld + 2 * C;
      const float p = scores[static_cast<size_t>(j)];
      for (int64_t d = 0; d < D; ++d) out[d] += p * v[d];
    }
    for (int64_t d = 0; d < D; ++d) out[d] *= inv;
  }
}

#if defined(GPT2_HAVE_AVX512_MATH)

GPT2_AVX512 void head_avx512(const float* qkv, int64_t ld, const Seq& s, int64_t h, int64_t C, int64_t D, float* y,
                             std::vector<float>& kt_buf, std::vector<float>& s_buf) {
  using simd::tail;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  const int64_t L = s.length, blocks = (L + kKeyLanes - 1) / kKeyLanes, Lpad = blocks * kKeyLanes;
  kt_buf.resize(static_cast<size_t>(blocks * D * kKeyLanes));
  s_buf.resize(static_cast<size_t>(kQueryRows * Lpad));
  float* kt = kt_buf.data();  // [blocks][D][16]
  float* sc = s_buf.data();   // [8][Lpad]
  const float* base = qkv + s.row0 * ld + h * D;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t l = 0; l < kKeyLanes; ++l) {
      const int64_t j = b * kKeyLanes + l;
      float* dst = kt + b * D * kKeyLanes + l;
      if (j < L) {
        const float* k = base + j * ld + C;
        for (int64_t d = 0; d < D; ++d) dst[d * kKeyLanes] = k[d];
      } else {
        for (int64_t d = 0; d < D; ++d) dst[d * kKeyLanes] = 0.0f;
      }
    }
  const __m512 vscale = _mm512_set1_ps(scale);
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i0 = 0; i0 < L; i0 += kQueryRows) {
    const int64_t rows = std::min(kQueryRows, L - i0), kv = i0 + rows;
    const int64_t kb = (kv + kKeyLanes - 1) / kKeyLanes, kv_pad = kb * kKeyLanes;
    const float* q[kQueryRows];
    for (int64_t r = 0; r < kQueryRows; ++r) q[r] = base + (i0 + std::min(r, rows - 1)) * ld;
    // Scores: 8 rows x 16 keys per block.
    for (int64_t b = 0; b < kb; ++b) {
      __m512 acc[kQueryRows];
      for (auto& a : acc) a = _mm512_setzero_ps();
      const float* ktb = kt + b * D * kKeyLanes;
      for (int64_t d = 0; d < D; ++d) {
        const __m512 kv16 = _mm512_loadu_ps(ktb + d * kKeyLanes);
        for (int64_t r = 0; r < kQueryRows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(q[r][d]), kv16, acc[r]);
      }
      for (int64_t r = 0; r < kQueryRows; ++r) _mm512_storeu_ps(sc + r * Lpad + b * kKeyLanes, _mm512_mul_ps(acc[r], vscale));
    }
    // Softmax over keys 0..i0+r of row r; keys after it (to kv_pad) become 0.
    float inv[kQueryRows];
    for (int64_t r = 0; r < kQueryRows; ++r) {
      float* row = sc + r * Lpad;
      if (r >= rows) {
        for (int64_t j = 0; j < kv_pad; ++j) row[j] = 0.0f;
        inv[r] = 0.0f;
        continue;
      }
      const int64_t n = i0 + r + 1;
      __m512 m = neg_inf;
      for (int64_t j = 0; j < n; j += 16) m = _mm512_max_ps(m, _mm512_mask_loadu_ps(neg_inf, tail(n - j), row + j));
      const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(m));
      __m512 sum = _mm512_setzero_ps();
      for (int64_t j = 0; j < kv_pad; j += 16) {
        const __mmask16 k = j < n ? tail(n - j) : static_cast<__mmask16>(0);
        const __m512 e = _mm512_maskz_mov_ps(k, simd::exp_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), vm)));
        _mm512_storeu_ps(row + j, e);
        sum = _mm512_add_ps(sum, e);
      }
      inv[r] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    // Values: 8 rows x 16 output columns per pass over the keys 0..kv-1.
    for (int64_t c = 0; c < D; c += 16) {
      const __mmask16 kc = tail(D - c);
      __m512 acc[kQueryRows];
      for (auto& a : acc) a = _mm512_setzero_ps();
      for (int64_t j = 0; j < kv; ++j) {
        const __m512 v = _mm512_maskz_loadu_ps(kc, base + j * ld + 2 * C + c);
        for (int64_t r = 0; r < kQueryRows; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(sc[r * Lpad + j]), v, acc[r]);
      }
      for (int64_t r = 0; r < rows; ++r)
        _mm512_mask_storeu_ps(y + (s.row0 + i0 + r) * C + h * D + c, kc, _mm512_mul_ps(acc[r], _mm512_set1_ps(inv[r])));
    }
  }
}

#else

void head_avx512(const float*, int64_t, const Seq&, int64_t, int64_t, int64_t, float*, std::vector<float>&,
                 std::vector<float>&) {
  throw std::logic_error("the AVX-512 attention kernel is not built for this CPU");
}

#endif

}  // namespace

bool attention_kernel_available() {
#if defined(GPT2_HAVE_AVX512_MATH)
  return kernels::cpu_features().avx512;
#else
  return false;
#endif
}

void causal_attention_packed(const float* qkv, int64_t N, const std::vector<int64_t>& lengths, int64_t H,
                             int64_t D, float* y, int threads, bool force_portable) {
  std::vector<Seq> seqs;
  int64_t row = 0;
  for (int64_t len : lengths) {
    if (len < 1) throw std::invalid_argument("causal_attention_packed: a sequence of length " + std::to_string(len));
    seqs.push_back({row, len});
    row += len;
  }
  if (row != N)
    throw std::invalid_argument("causal_attention_packed: lengths sum to " + std::to_string(row) + ", not " +
                                std::to_string(N) + " rows");
  if (H < 1 || D < 1) throw std::invalid_argument("causal_attention_packed: no heads");
  const int64_t C = H * D, ld = 3 * C;
  const bool avx512 = !force_portable && attention_kernel_available();
  // Longest sequences first (dynamic scheduling then balances the tail).
  std::vector<int64_t> order(seqs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return seqs[static_cast<size_t>(a)].length > seqs[static_cast<size_t>(b)].length; });
  const int64_t items = static_cast<int64_t>(seqs.size()) * H;
  run_on_omp_team(items, threads, [&](int64_t item) {
    thread_local std::vector<float> kt_buf, s_buf;
    const Seq& s = seqs[static_cast<size_t>(order[static_cast<size_t>(item / H)])];
    const int64_t h = item % H;
    if (avx512)
      head_avx512(qkv, ld, s, h, C, D, y, kt_buf, s_buf);
    else
      head_portable(qkv, ld, s, h, C, D, y, s_buf);
  });
}

}  // namespace gpt2::ops
