// AVX-512 helpers of the fused decode step (step_kernels.hpp). Each function
// carries its own target attribute; callers check the CPU first.
#include "gpt2/kernels/step_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "kernels/avx512_math.hpp"

#if defined(GPT2_HAVE_AVX512_MATH)

namespace gpt2::step {

using simd::exp_ps;
using simd::tail;

GPT2_AVX512 void layer_norm(const float* x, int64_t rows, int64_t c, const float* g, const float* b, float eps,
                            float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < c; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(tail(c - i), xr + i));
    const float mean = _mm512_reduce_add_ps(s) / static_cast<float>(c);
    const __m512 m = _mm512_set1_ps(mean);
    __m512 q = _mm512_setzero_ps();
    for (int64_t i = 0; i < c; i += 16) {
      const __mmask16 k = tail(c - i);
      const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, xr + i), m);
      q = _mm512_fmadd_ps(d, d, q);
    }
    const float rstd = 1.0f / std::sqrt(_mm512_reduce_add_ps(q) / static_cast<float>(c) + eps);
    const __m512 rs = _mm512_set1_ps(rstd);
    for (int64_t i = 0; i < c; i += 16) {
      const __mmask16 k = tail(c - i);
      const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + i), m), rs);
      _mm512_mask_storeu_ps(yr + i, k,
                            _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(k, g + i), _mm512_maskz_loadu_ps(k, b + i)));
    }
  }
}

GPT2_AVX512 void gelu_tanh(float* x, int64_t n) {
  const __m512 k0 = _mm512_set1_ps(0.7978845608028654f);  // sqrt(2 / pi)
  const __m512 k1 = _mm512_set1_ps(0.044715f);
  const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
  const __m512 sign_bit = _mm512_set1_ps(-0.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
    const __m512 u = _mm512_mul_ps(k0, _mm512_fmadd_ps(_mm512_mul_ps(k1, v), _mm512_mul_ps(v, v), v));
    // tanh(|u|) = (1 - e) / (1 + e), e = exp(-2 |u|) in (0, 1]; sign restored after.
    const __m512 e = exp_ps(_mm512_mul_ps(_mm512_set1_ps(-2.0f), _mm512_andnot_ps(sign_bit, u)));
    __m512 t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
    t = _mm512_or_ps(t, _mm512_and_ps(sign_bit, u));
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, t)));
  }
}

GPT2_AVX512 void add(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = tail(n - i);
    _mm512_mask_storeu_ps(x + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i)));
  }
}

namespace {
GPT2_AVX512 inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
// float16 widened to float32 (exact).
GPT2_AVX512 inline __m512 load16(const uint16_t* p, __mmask16 m) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

template <class T>
GPT2_AVX512 void attend_any(const float* q, const T* k, const T* v, int64_t s, int64_t d, float scale, float* scores,
                            float* out) {
  // scores[j] = scale * q . k_j
  float mx = -INFINITY;
  for (int64_t j = 0; j < s; ++j) {
    const T* kj = k + j * d;
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < d; i += 16) {
      const __mmask16 m = tail(d - i);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + i), load16(kj + i, m), acc);
    }
    scores[j] = _mm512_reduce_add_ps(acc) * scale;
    mx = std::max(mx, scores[j]);
  }
  // p_j = exp(scores_j - max) / sum
  const __m512 mv = _mm512_set1_ps(mx);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t j = 0; j < s; j += 16) {
    const __mmask16 m = tail(s - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), mv)));
    _mm512_mask_storeu_ps(scores + j, m, e);
    sum = _mm512_add_ps(sum, e);
  }
  const float inv = 1.0f / _mm512_reduce_add_ps(sum);
  // out = sum_j p_j v_j (d <= 256 values: up to 16 accumulators)
  for (int64_t i0 = 0; i0 < d; i0 += 256) {
    const int64_t w = std::min<int64_t>(256, d - i0);
    __m512 acc[16];
    const int chunks = static_cast<int>((w + 15) / 16);
    for (int c = 0; c < chunks; ++c) acc[c] = _mm512_setzero_ps();
    for (int64_t j = 0; j < s; ++j) {
      const __m512 p = _mm512_set1_ps(scores[j]);
      const T* vj = v + j * d + i0;
      for (int c = 0; c < chunks; ++c)
        acc[c] = _mm512_fmadd_ps(p, load16(vj + 16 * c, tail(w - 16 * c)), acc[c]);
    }
    const __m512 iv = _mm512_set1_ps(inv);
    for (int c = 0; c < chunks; ++c) _mm512_mask_storeu_ps(out + i0 + 16 * c, tail(w - 16 * c), _mm512_mul_ps(acc[c], iv));
  }
}
}  // namespace

GPT2_AVX512 void attend(const float* q, const float* k, const float* v, int64_t s, int64_t d, float scale,
                        float* scores, float* out) {
  attend_any(q, k, v, s, d, scale, scores, out);
}

GPT2_AVX512 void attend(const float* q, const uint16_t* k, const uint16_t* v, int64_t s, int64_t d, float scale,
                        float* scores, float* out) {
  attend_any(q, k, v, s, d, scale, scores, out);
}

GPT2_AVX512 void to_half(const float* x, int64_t n, uint16_t* y) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail(n - i);
    _mm256_mask_storeu_epi16(y + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

}  // namespace gpt2::step

#else  // not x86-64 GCC/Clang: the fused step is never taken (no AVX-512 kernels).

namespace gpt2::step {
namespace {
[[noreturn]] void unavailable() { throw std::logic_error("AVX-512 step kernels are not built for this CPU"); }
}  // namespace
void layer_norm(const float*, int64_t, int64_t, const float*, const float*, float, float*) { unavailable(); }
void gelu_tanh(float*, int64_t) { unavailable(); }
void add(float*, const float*, int64_t) { unavailable(); }
void attend(const float*, const float*, const float*, int64_t, int64_t, float, float*, float*) { unavailable(); }
void attend(const float*, const uint16_t*, const uint16_t*, int64_t, int64_t, float, float*, float*) { unavailable(); }
void to_half(const float*, int64_t, uint16_t*) { unavailable(); }
}  // namespace gpt2::step

#endif
