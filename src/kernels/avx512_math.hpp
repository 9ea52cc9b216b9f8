// Private: inline AVX-512 helpers shared by the element-wise kernels
// (step_kernels.cpp, score_kernels.cpp). Each function carries the GPT2_AVX512
// target attribute, so the including file keeps the project's baseline ISA;
// callers check the CPU first (ops::kernels::cpu_features().avx512).
//
// Defines GPT2_HAVE_AVX512_MATH on x86-64 GCC/Clang only; elsewhere it is
// empty and the including file must provide its portable path.
#pragma once

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__)
#define GPT2_HAVE_AVX512_MATH 1

// GCC 12 warns about _mm512_undefined_* inside its own intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#define GPT2_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace gpt2::simd {

// The first min(n, 16) lanes (the masked tail of a loop over n values).
GPT2_AVX512 inline __mmask16 tail(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// exp(x) for x in [-87, 88] (clamped there): x = n ln2 + r, |r| <= ln2/2, exp(r)
// by its Taylor polynomial of degree 6 (remainder < 1.2e-7 relative), times 2^n.
GPT2_AVX512 inline __m512 exp_ps(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 split in two
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace gpt2::simd

#endif
