// Matches a checkpoint's tensors to ModelWeights slots and checks every one
// against hparams: names, dtypes, shapes, missing, unexpected and duplicate
// tensors. Shared by loading (first problem throws), verification (all
// reported) and `gpt2 info`. Torch-free.
#pragma once

#include <vector>

#include "checkpoint/checkpoint_files.hpp"
#include "checkpoint/weight_names.hpp"

namespace gpt2::detail {

struct Assignment {
  std::vector<const TensorRef*> slots;  // weight_count(hp) entries in registry order, null when missing
  const TensorRef* lm_head = nullptr;   // HF lm_head.weight, if present and tied-shaped
  std::vector<VerifyProblem> problems;
  int64_t parameter_count = 0;          // elements of the tensors that fill slots
};

Assignment assign_tensors(const CheckpointFiles& ck, const HParams& hp);

}  // namespace gpt2::detail
