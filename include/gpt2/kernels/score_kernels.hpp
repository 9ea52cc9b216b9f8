// Private: the per-position analysis of `gpt2 score` (Scorer::analyse in
// score.cpp) fused into two passes over each row of float32 logits: AVX-512
// where the CPU has it, else portable C++ (same formulas, same error bound;
// written so that GCC vectorizes it for the baseline SSE2). Measured on this
// machine, one thread, rows of 50,257: AVX-512 16 us per row, portable 87 us
// (the libtorch ops it replaces took ~115 us).
#pragma once

#include <cstdint>

namespace gpt2::score_kernels {

// Which implementation analyse_rows runs. kAuto: AVX-512 where the CPU has it
// (ops::kernels::cpu_features().avx512), else portable. kAvx512 on a CPU
// without it throws std::logic_error (the tests pick each path explicitly).
enum class Path { kAuto, kPortable, kAvx512 };
bool avx512_available();

// For each row r in [0, n) of logits x [n, V] (row-major, contiguous) and its
// target t = targets[r] in [0, V), with z = x[r, :] - max(x[r, :]):
//   logprob[r]  = z_t - log sum_j exp(z_j)                           [n]
//   rank[r]     = 1 + #{j : x_j > x_t}  (exact; ties with x_t don't count)  [n]
//   entropy[r]  = log sum exp(z) - sum exp(z) z / sum exp(z)         [n]
//   log_norm[r] = max(x) + log sum exp(z), so log p_j = x_j - log_norm  [n] (may be null)
// Pass 1 finds the max and the rank count, pass 2 sums exp(z) and exp(z) z:
// float32 exp (relative error ~1.2e-7), float32 partial sums of at most 16
// terms per lane, added up in float64. Terms with z_j < -87 (exp < 1.7e-38,
// e.g. -inf logits) count as 0. Rows are spread over `threads` threads of the
// kernels' pool (ops::WorkPool). std::out_of_range if a target is outside [0, V).
void analyse_rows(const float* logits, int64_t n, int64_t V, const int64_t* targets, double* logprob, int64_t* rank,
                  double* entropy, double* log_norm, int threads, Path path = Path::kAuto);

}  // namespace gpt2::score_kernels
