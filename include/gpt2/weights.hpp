// The weights of a GPT-2 model, in one canonical layout whatever the checkpoint
// format. Tensors are float32 (unless a reduced dtype was requested) and, for
// float32 checkpoints, point straight into the memory-mapped file (zero-copy);
// `storage` keeps the mappings alive.
//
// Layout follows the released TF checkpoint / HF Conv1D: projection weights are
// [in, out] (TF's [1, in, out] with the leading 1 dropped).
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gpt2/hparams.hpp"

namespace gpt2 {

enum class CheckpointFormat { kTFBundle, kSafetensors };
std::string to_string(CheckpointFormat f);

struct BlockWeights {
  torch::Tensor ln_1_g, ln_1_b;          // [C], [C]
  torch::Tensor attn_w, attn_b;          // c_attn:      [C, 3C], [3C]
  torch::Tensor attn_proj_w, attn_proj_b;  // attn c_proj: [C, C],  [C]
  torch::Tensor ln_2_g, ln_2_b;          // [C], [C]
  torch::Tensor fc_w, fc_b;              // mlp c_fc:    [C, 4C], [4C]
  torch::Tensor mlp_proj_w, mlp_proj_b;  // mlp c_proj:  [4C, C], [C]
};

struct ModelWeights {
  HParams hp;
  CheckpointFormat format = CheckpointFormat::kTFBundle;
  torch::Tensor wte;                  // [n_vocab, C]  token embedding, also the tied output projection
  torch::Tensor wpe;                  // [n_ctx, C]    position embedding
  std::vector<BlockWeights> blocks;   // n_layer
  torch::Tensor ln_f_g, ln_f_b;       // [C], [C]
  std::vector<std::shared_ptr<const void>> storage;  // keeps memory mappings alive
};

}  // namespace gpt2
