// Memory read bandwidth: T threads (OpenMP) sum disjoint parts of a large
// float array that does not fit any cache; prints GB/s (best and median).
// Built and run by scripts/membw.sh.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  const double mib = argc > 1 ? std::atof(argv[1]) : 1024.0;  // array size in MiB
  const int reps = argc > 2 ? std::atoi(argv[2]) : 10;
  const size_t n = static_cast<size_t>(mib * 1024 * 1024 / sizeof(float));
  std::vector<float> a(n);
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i & 1023) * 1e-3f;  // first touch, per thread
  std::vector<double> gbs;
  double sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    double total = 0;
#pragma omp parallel reduction(+ : total)
    {
      // 64 independent partial sums (4 vectors) so the adds never limit the loads.
      float acc[64] = {0};
#pragma omp for schedule(static) nowait
      for (size_t i = 0; i < n / 64; ++i)
        for (int k = 0; k < 64; ++k) acc[k] += a[i * 64 + k];
      for (float v : acc) total += v;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink += total;
    gbs.push_back(static_cast<double>(n * sizeof(float)) / s / 1e9);
  }
  std::sort(gbs.begin(), gbs.end());
  std::printf("threads %d  array %.0f MiB  read bandwidth: best %.1f GB/s  median %.1f GB/s  (checksum %.3g)\n",
              omp_get_max_threads(), mib, gbs.back(), gbs[gbs.size() / 2], sink);
  return 0;
}
