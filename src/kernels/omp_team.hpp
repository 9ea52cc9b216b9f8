// Private: running chunks of work on libtorch's OpenMP team (omp_team.cpp).
#pragma once

#include <cstdint>
#include <functional>

namespace gpt2::ops {

// Calls f(c) for c in [0, chunks) on `threads` threads of the OpenMP team
// (dynamically scheduled). f must not throw.
void run_on_omp_team(int64_t chunks, int threads, const std::function<void(int64_t)>& f);

}  // namespace gpt2::ops
