// The one table of GPT-2's weights: for every tensor its released TensorFlow
// name, its Hugging Face name, its role and its shape as a function of hparams.
// Checkpoint readers, the model's shape checks, random initialisation, the
// safetensors writer and the tests all walk this table. Torch-free.
//
// Canonical layout (ModelWeights, HF safetensors): projection weights are
// [in, out] (Conv1D). The released TF bundle stores them as [1, in, out].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpt2/base/hparams.hpp"

namespace gpt2 {

enum class WeightField : int {
  // global
  kWte, kWpe, kLnFG, kLnFB,
  // per block
  kLn1G, kLn1B, kAttnW, kAttnB, kAttnProjW, kAttnProjB, kLn2G, kLn2B, kFcW, kFcB, kMlpProjW, kMlpProjB,
};

enum class WeightRole {
  kTokenEmbedding,     // wte [V, C], also the tied output projection
  kPositionEmbedding,  // wpe [n_ctx, C]
  kNormGain,           // LayerNorm g [C] (initialised to 1)
  kNormBias,           // LayerNorm b [C] (initialised to 0)
  kProjection,         // a matrix [in, out]
  kProjectionBias,     // its bias [out]
};

struct WeightKind {
  WeightField field;
  const char* tf;   // after "model/" (global) or "model/hN/" (per block)
  const char* hf;   // after "transformer." (global) or "transformer.h.N." (per block)
  WeightRole role;
  bool per_layer;
  // Canonical shape {rows, cols}: each a multiple of n_embd, or -1 for n_vocab,
  // -2 for n_ctx; cols 0 for a vector [rows]. Use weight_shape().
  int rows, cols;
};

constexpr int kGlobalWeights = 4;     // wte, wpe, ln_f/g, ln_f/b
constexpr int kWeightsPerLayer = 12;  // per block

// One weight of a model: a per-block field with its layer, or a global (layer -1).
struct WeightId {
  int64_t layer = -1;
  WeightField field = WeightField::kWte;
  bool operator==(const WeightId& o) const { return layer == o.layer && field == o.field; }
};

const WeightKind& weight_kind(WeightField f);
// Number of weights of a model with these hparams: 4 + 12 * n_layer.
int64_t weight_count(const HParams& hp);
// Weight `index` in registry order (globals, then block by block), and back.
WeightId weight_at(int64_t index);
int64_t weight_index(const WeightId& id);
// Canonical shape ([in, out] for projections).
std::vector<int64_t> weight_shape(const WeightId& id, const HParams& hp);
// "model/h3/attn/c_attn/w"
std::string weight_tf_name(const WeightId& id);
// "transformer.h.3.attn.c_attn.weight" (with_prefix) or "h.3.attn.c_attn.weight"
std::string weight_hf_name(const WeightId& id, bool with_prefix = true);

// Calls f(id) for every weight of a model with these hparams, in registry order.
template <class F>
void for_each_weight(const HParams& hp, F&& f) {
  const int64_t n = weight_count(hp);
  for (int64_t i = 0; i < n; ++i) f(weight_at(i));
}

}  // namespace gpt2
