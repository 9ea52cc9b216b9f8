// Deterministic shards for job arrays: shard i of n owns the work items whose
// index is congruent to i (mod n) — global sample indices for unconditional
// sampling, prompt indices for prompt files.
//   --shard i/n    explicit
//   --shard auto   Slurm: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN (default 0)
//                  of SLURM_ARRAY_TASK_COUNT; Kubernetes Indexed Job:
//                  JOB_COMPLETION_INDEX of GPT2_SHARD_COUNT.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace gpt2 {

struct Shard {
  int64_t index = 0;
  int64_t count = 1;
  bool owns(int64_t item) const { return item % count == index; }
  std::string to_string() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// Reads an environment variable (std::getenv by default; tests pass their own).
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// Parses --shard. UsageError (naming --shard and the variables) when malformed,
// i >= n, n < 1, or "auto" without Slurm's or Kubernetes' variables.
Shard parse_shard(const std::string& spec, const EnvLookup& env = process_environment());

}  // namespace gpt2
