// How much memory finetuning needs, and how much the machine has.
#pragma once

#include <cstdint>
#include <string>

#include "gpt2/base/hparams.hpp"

namespace gpt2 {

struct TrainingMemory {
  int64_t weights = 0;      // float32 parameters (wte counted once)
  int64_t gradients = 0;    // float32
  int64_t optimizer = 0;    // AdamW's two moments
  int64_t activations = 0;  // what autograd keeps for one micro-batch of batch x seq
  int64_t sampling = 0;     // the float32 inference copy built for samples / saving
  int64_t runtime = 0;      // libtorch, the tokenizer, the token stream, allocator slack
  int64_t total() const { return weights + gradients + optimizer + activations + sampling + runtime; }
  // "weights 475 MiB + gradients 475 MiB + AdamW 950 MiB + activations 2.3 GiB (batch 1 x 1024) + ..."
  std::string describe(int64_t batch, int64_t seq) const;
};

// An estimate (upper side) for float32 training of `hp` on micro-batches of batch x seq tokens.
TrainingMemory estimate_training_memory(const HParams& hp, int64_t batch, int64_t seq);

// MemAvailable of /proc/meminfo in bytes, or -1 when unknown.
int64_t available_memory_bytes();

// UsageError when `need` exceeds `limit` (> 0), with the numbers and what to try
// (a smaller --seq or --batch with --accumulate).
void check_training_memory(const TrainingMemory& need, int64_t limit, int64_t batch, int64_t seq);

}  // namespace gpt2
