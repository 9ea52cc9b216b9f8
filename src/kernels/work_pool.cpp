// The projection kernels' thread pool (see work_pool.hpp).
//
// Job protocol: `ticket` packs the generation, the job's chunk count and the
// next unclaimed chunk in one word. A helper claims a chunk with one
// compare-exchange on that word, so a helper that wakes late can never claim
// (or run the function of) a job that has already finished. `done` counts
// finished chunks of the current job.
#include "gpt2/kernels/work_pool.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#define GPT2_PAUSE() _mm_pause()
#else
#define GPT2_PAUSE() std::this_thread::yield()
#endif

namespace gpt2::ops {

struct WorkPool::State {
  std::atomic<uint64_t> ticket{0};
  std::atomic<const std::function<void(int64_t)>*> fn{nullptr};
  std::atomic<int64_t> done{0};
  std::atomic<int> active{0};  // helpers that may join the current job
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::thread> helpers;
  std::mutex run_mutex;  // one job at a time
};

namespace {

constexpr int kSpinsBeforeSleep = 20000;  // polling before a helper sleeps (~0.1-1 ms)

// ticket = generation (28 bits) | chunk count (18 bits) | next chunk (18 bits)
constexpr int kCountBits = 18;
constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;
uint64_t gen_of(uint64_t t) { return t >> (2 * kCountBits); }
int64_t count_of(uint64_t t) { return static_cast<int64_t>((t >> kCountBits) & kCountMask); }
int64_t next_of(uint64_t t) { return static_cast<int64_t>(t & kCountMask); }

// Claims and runs chunks of generation `gen` until none is left.
void work_on(std::atomic<uint64_t>& ticket, std::atomic<const std::function<void(int64_t)>*>& fn,
             std::atomic<int64_t>& done, uint64_t gen) {
  for (;;) {
    uint64_t t = ticket.load();
    if (gen_of(t) != gen || next_of(t) >= count_of(t)) return;
    const int64_t chunk = next_of(t);
    if (!ticket.compare_exchange_weak(t, t + 1)) continue;
    (*fn.load())(chunk);  // stable: the job cannot finish before this chunk is done
    done.fetch_add(1);
  }
}

}  // namespace

WorkPool& WorkPool::instance() {
  static WorkPool pool;
  return pool;
}

WorkPool::State* WorkPool::state() {
  if (!state_) state_ = new State();
  return state_;
}

WorkPool::~WorkPool() {
  if (!state_) return;
  state_->stop.store(true);
  {
    std::lock_guard<std::mutex> lock(state_->m);
    state_->cv.notify_all();
  }
  for (auto& t : state_->helpers) t.join();
  delete state_;
}

void WorkPool::run(int64_t n_chunks, int threads, const std::function<void(int64_t)>& f) {
  if (n_chunks <= 0) return;
  if (threads <= 1 || n_chunks == 1 || n_chunks > static_cast<int64_t>(kCountMask)) {
    for (int64_t c = 0; c < n_chunks; ++c) f(c);
    return;
  }
  State* s = state();
  std::lock_guard<std::mutex> job_lock(s->run_mutex);
  while (static_cast<int>(s->helpers.size()) < threads - 1) {
    const int index = static_cast<int>(s->helpers.size());
    s->helpers.emplace_back([s, index] {
      uint64_t seen = gen_of(s->ticket.load());
      for (;;) {
        // Wait for a new generation: poll a while, then sleep.
        uint64_t gen = seen;
        for (int i = 0; i < kSpinsBeforeSleep && gen == seen && !s->stop.load(); ++i) {
          GPT2_PAUSE();
          gen = gen_of(s->ticket.load());
        }
        if (gen == seen && !s->stop.load()) {
          std::unique_lock<std::mutex> lock(s->m);
          s->sleepers.fetch_add(1);
          s->cv.wait(lock, [&] { return gen_of(s->ticket.load()) != seen || s->stop.load(); });
          s->sleepers.fetch_sub(1);
          gen = gen_of(s->ticket.load());
        }
        if (s->stop.load()) return;
        seen = gen;
        if (index < s->active.load()) work_on(s->ticket, s->fn, s->done, gen);
      }
    });
  }
  // Publish the job: everything it needs first, then the new generation.
  s->fn.store(&f);
  s->done.store(0);
  s->active.store(threads - 1);
  const uint64_t gen = (gen_of(s->ticket.load()) + 1) & ((uint64_t{1} << (64 - 2 * kCountBits)) - 1);
  s->ticket.store((gen << (2 * kCountBits)) | (static_cast<uint64_t>(n_chunks) << kCountBits));
  if (s->sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(s->m);
    s->cv.notify_all();
  }
  work_on(s->ticket, s->fn, s->done, gen);
  while (s->done.load() < n_chunks) GPT2_PAUSE();
}

}  // namespace gpt2::ops
