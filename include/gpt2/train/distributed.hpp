// Data-parallel training across processes (and machines) on c10d/Gloo: the
// launcher's environment (torchrun's, Slurm's, or variables set by hand), the
// process group with its store, the gradient all-reduce in buckets, work only
// rank 0 does while the others wait, and failures of other ranks turned into
// one clear error naming the rank, within the timeout.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

// Another rank failed, died or stopped answering (exit code 1).
class DistributedError : public Error {
 public:
  using Error::Error;
};

struct DistributedEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr;    // the host of rank 0's store
  int master_port = 0;
  bool agent_store = false;   // TORCHELASTIC_USE_AGENT_STORE: torchrun's agent hosts the store
  int restart_count = 0;      // TORCHELASTIC_RESTART_COUNT: the attempt (a key prefix)
  std::string launcher;       // "torchrun" (RANK/WORLD_SIZE), "slurm" (SLURM_*), "" (alone)
  bool active() const { return world_size > 1; }
  std::string describe() const;  // "rank 1 of 2 (torchrun, store 127.0.0.1:29500)"
};

// torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT,
// TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT) first, else Slurm's
// (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, with MASTER_ADDR and MASTER_PORT
// from the batch script); neither: one process alone. UsageError naming the
// variable for a malformed or inconsistent value. `get` is getenv or a test's map.
DistributedEnv distributed_env(const std::function<const char*(const char*)>& get);
DistributedEnv distributed_env();  // the process environment

// Gradients travel in flat buckets of about this many bytes, each all-reduced
// as soon as it is packed (while the next is packed).
constexpr int64_t kDefaultBucketBytes = 25 << 20;

class DataParallel {
 public:
  // Connects to the store (rank 0 hosts it unless torchrun's agent does) and
  // forms the Gloo process group. DistributedError when the others do not
  // appear within `timeout`.
  DataParallel(const DistributedEnv& env, std::chrono::milliseconds timeout,
               int64_t bucket_bytes = kDefaultBucketBytes);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_root() const { return env_.rank == 0; }
  const DistributedEnv& env() const { return env_; }

  // The mean of every rank's gradients, in place (all ranks then hold the same).
  void average_gradients(const std::vector<torch::Tensor>& params, int64_t step);
  // Element-wise sums over ranks of a few numbers (losses, flags).
  std::vector<double> sum(const std::vector<double>& values, int64_t step);
  // Rank 0 runs `fn` (evaluation, samples, a checkpoint) while the others wait
  // for it, however long it takes while rank 0 is alive; an exception on rank 0
  // is rethrown there and makes the others fail naming it.
  void root_only(const std::string& what, const std::function<void()>& fn);
  // Rank 0's `value` on every rank.
  std::string share_from_root(const std::string& key, const std::string& value);
  // Records this rank's failure for the others' messages (best effort).
  void report_failure(const std::string& message) noexcept;
  // Rank 0 returns once every rank has reached this point (its store must live
  // until they have read their last key); the others announce it and return.
  void finish();

  double allreduce_seconds() const { return allreduce_s_; }  // total so far

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& cause);
  std::string diagnose();
  void set(const std::string& key, const std::string& value);
  void note_progress(int64_t step);

  struct Impl;
  DistributedEnv env_;
  std::chrono::milliseconds timeout_, collective_timeout_;
  int64_t bucket_bytes_;
  std::unique_ptr<Impl> impl_;
  int64_t sequence_ = 0;  // collectives and waits so far (every rank makes the same ones)
  std::string position_;  // what this rank is doing, for messages
  double allreduce_s_ = 0;
};

}  // namespace gpt2
