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

#include "gpt2/checkpoint/checkpoint_format.hpp"
#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/weight_registry.hpp"

namespace gpt2 {

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

  // The tensor of a registry weight (gpt2/weight_registry.hpp). `blocks` must
  // already hold hp.n_layer entries for per-block weights.
  torch::Tensor& at(const WeightId& id);
  const torch::Tensor& at(const WeightId& id) const;
};

// Checks every weight against hp through the registry: n_layer blocks, each
// tensor present, float32, of its canonical shape. Throws FormatError naming the
// tensor by its released name (e.g. "model weight model/h0/attn/c_attn/w has
// shape [4, 4], expected [64, 192]").
void check_model_weights(const ModelWeights& w);

// Random weights of the given hparams, walking the registry: LayerNorm gains 1
// and shifts 0, every other tensor normal(0, stddev) (GPT-2's initialisation
// scale; speed does not depend on the values). Deterministic in `seed`.
ModelWeights random_model_weights(const HParams& hp, uint64_t seed, double stddev = 0.02);

}  // namespace gpt2
