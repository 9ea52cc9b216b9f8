// Private: a small persistent thread pool for the projection kernels.
//
// Why not at::parallel_for: in this libtorch (1.13, OpenMP backend) it is a
// header template whose `#pragma omp parallel` is compiled into the caller, and
// this project is not built with -fopenmp, so it would run serially.
//
// run(n, threads, f) calls f(chunk) for every chunk in [0, n) on the calling
// thread plus up to threads-1 helper threads, which claim chunks from a shared
// counter. The caller works too and returns as soon as every chunk is done: it
// never waits for a helper that has not woken up (on a busy machine a
// descheduled helper costs only its share of the parallelism).
#pragma once

#include <cstdint>
#include <functional>

namespace gpt2::ops {

class WorkPool {
 public:
  static WorkPool& instance();
  void run(int64_t n_chunks, int threads, const std::function<void(int64_t)>& f);

  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;
  ~WorkPool();

 private:
  WorkPool() = default;
  struct State;
  State* state();
  State* state_ = nullptr;
};

}  // namespace gpt2::ops
