// Private: causal self-attention without a KV cache over packed sequences
// (attention.cpp), for full forward passes of many positions (scoring windows).
//
// Several sequences of different lengths share one [N, 3C] buffer of q|k|v rows
// (no padding): each attends to its own rows only, row i of a sequence to rows
// 0..i of it. Per (sequence, head) the scores are computed for the causal
// triangle only (libtorch's matmul + mask computes the whole square and
// materializes it: at 1,024 positions 48 MiB per layer), in blocks that stay in
// cache. A sequence's result does not depend on the other sequences in the
// buffer (the same operations in the same order whatever its neighbours).
#pragma once

#include <cstdint>
#include <vector>

namespace gpt2::ops {

// Whether this CPU runs the AVX-512 kernel (else causal_attention_packed runs
// the portable C++ path: the same blocks and order of operations, scalar).
bool attention_kernel_available();

// qkv [N, 3C] float32 row-major (row r: q | k | v, head h at columns h*D.. of
// each part, C = H * D); lengths: the sequences in order, summing to N (each
// >= 1). -> y [N, C]: for each sequence and head, softmax(q k^T / sqrt(D) over
// the causal triangle) v. Float32 throughout (exp by a degree-6 polynomial,
// relative error ~1.2e-7; sums in float32 in key order). Work is spread over
// `threads` threads of libtorch's OpenMP team, one (sequence, head) at a time.
// std::invalid_argument for lengths that do not sum to N (or one below 1).
void causal_attention_packed(const float* qkv, int64_t N, const std::vector<int64_t>& lengths, int64_t H,
                             int64_t D, float* y, int threads, bool force_portable = false);

}  // namespace gpt2::ops
