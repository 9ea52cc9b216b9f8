// Private: the element-wise and attention parts of the fused decode step
// (decode_step.cpp), AVX-512 on raw float32 buffers. Called only where
// ops::kernels_active() said the CPU has AVX-512.
#pragma once

#include <cstdint>

namespace gpt2::step {

// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * g + b for `rows` rows of c values
// (mean and variance over the row, two passes, float32 like libtorch's).
void layer_norm(const float* x, int64_t rows, int64_t c, const float* g, const float* b, float eps, float* y);

// x[i] = GELU(x[i]) with the tanh approximation GPT-2 uses, in place, n values.
// tanh from a vectorized exp (degree-6 polynomial, relative error ~1e-7).
void gelu_tanh(float* x, int64_t n);

// x[i] += y[i], n values.
void add(float* x, const float* y, int64_t n);

// One query attending to s keys of one head: out[0, d) = sum_j p_j v[j, :],
// p = softmax_j(scale * q . k[j, :]); k, v row-major [s, d] (row stride d).
// scores: scratch of s floats.
void attend(const float* q, const float* k, const float* v, int64_t s, int64_t d, float scale, float* scores,
            float* out);
// The same over a float16 KV cache (keys and values widened to float32 exactly).
void attend(const float* q, const uint16_t* k, const uint16_t* v, int64_t s, int64_t d, float scale, float* scores,
            float* out);

// y[i] = float16(x[i]), round to nearest even, n values (a float16 KV cache's writes).
void to_half(const float* x, int64_t n, uint16_t* y);

}  // namespace gpt2::step
