// The only file built with -fopenmp: many-row products run on libtorch's own
// OpenMP team (libgomp, the threads its element-wise ops and OpenBLAS use).
// The project's WorkPool is right for decoding, where libtorch's ops are kept on
// one thread (SerialLibtorchGuard); but between the libtorch ops of a prompt,
// OpenMP's worker spins for a while after each parallel region, and a second
// team (the pool) on the same 2 cores then loses its core to that spin
// (measured: bf16 512-token prompt 1.58x float32 on one thread, ~1.1x on two).
// One team for everything hands each region to threads that are already awake.
#include "kernels/omp_team.hpp"

namespace gpt2::ops {

void run_on_omp_team(int64_t chunks, int threads, const std::function<void(int64_t)>& f) {
  if (threads <= 1 || chunks <= 1) {
    for (int64_t c = 0; c < chunks; ++c) f(c);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) f(c);
}

}  // namespace gpt2::ops
