#include "gpt2/checkpoint/weight_registry.hpp"

#include <array>

namespace gpt2 {
namespace {

using R = WeightRole;
using F = WeightField;

// rows/cols: multiples of C; -1 = n_vocab, -2 = n_ctx; cols 0 = a vector.
constexpr int kVocab = -1, kCtx = -2;

constexpr std::array<WeightKind, kGlobalWeights + kWeightsPerLayer> kTable = {{
    {F::kWte, "wte", "wte.weight", R::kTokenEmbedding, false, kVocab, 1},
    {F::kWpe, "wpe", "wpe.weight", R::kPositionEmbedding, false, kCtx, 1},
    {F::kLnFG, "ln_f/g", "ln_f.weight", R::kNormGain, false, 1, 0},
    {F::kLnFB, "ln_f/b", "ln_f.bias", R::kNormBias, false, 1, 0},
    {F::kLn1G, "ln_1/g", "ln_1.weight", R::kNormGain, true, 1, 0},
    {F::kLn1B, "ln_1/b", "ln_1.bias", R::kNormBias, true, 1, 0},
    {F::kAttnW, "attn/c_attn/w", "attn.c_attn.weight", R::kProjection, true, 1, 3},
    {F::kAttnB, "attn/c_attn/b", "attn.c_attn.bias", R::kProjectionBias, true, 3, 0},
    {F::kAttnProjW, "attn/c_proj/w", "attn.c_proj.weight", R::kProjection, true, 1, 1},
    {F::kAttnProjB, "attn/c_proj/b", "attn.c_proj.bias", R::kProjectionBias, true, 1, 0},
    {F::kLn2G, "ln_2/g", "ln_2.weight", R::kNormGain, true, 1, 0},
    {F::kLn2B, "ln_2/b", "ln_2.bias", R::kNormBias, true, 1, 0},
    {F::kFcW, "mlp/c_fc/w", "mlp.c_fc.weight", R::kProjection, true, 1, 4},
    {F::kFcB, "mlp/c_fc/b", "mlp.c_fc.bias", R::kProjectionBias, true, 4, 0},
    {F::kMlpProjW, "mlp/c_proj/w", "mlp.c_proj.weight", R::kProjection, true, 4, 1},
    {F::kMlpProjB, "mlp/c_proj/b", "mlp.c_proj.bias", R::kProjectionBias, true, 1, 0},
}};

int64_t extent(int k, const HParams& hp) {
  if (k == kVocab) return hp.n_vocab;
  if (k == kCtx) return hp.n_ctx;
  return k * hp.n_embd;
}

}  // namespace

const WeightKind& weight_kind(WeightField f) { return kTable[static_cast<size_t>(f)]; }

int64_t weight_count(const HParams& hp) { return kGlobalWeights + hp.n_layer * kWeightsPerLayer; }

WeightId weight_at(int64_t index) {
  if (index < kGlobalWeights) return {-1, static_cast<WeightField>(index)};
  const int64_t b = index - kGlobalWeights;
  return {b / kWeightsPerLayer, static_cast<WeightField>(kGlobalWeights + b % kWeightsPerLayer)};
}

int64_t weight_index(const WeightId& id) {
  const auto f = static_cast<int64_t>(id.field);
  return id.layer < 0 ? f : kGlobalWeights + id.layer * kWeightsPerLayer + (f - kGlobalWeights);
}

std::vector<int64_t> weight_shape(const WeightId& id, const HParams& hp) {
  const WeightKind& k = weight_kind(id.field);
  if (k.cols == 0) return {extent(k.rows, hp)};
  return {extent(k.rows, hp), extent(k.cols, hp)};
}

std::string weight_tf_name(const WeightId& id) {
  const WeightKind& k = weight_kind(id.field);
  return k.per_layer ? "model/h" + std::to_string(id.layer) + "/" + k.tf : std::string("model/") + k.tf;
}

std::string weight_hf_name(const WeightId& id, bool with_prefix) {
  const WeightKind& k = weight_kind(id.field);
  std::string name = k.per_layer ? "h." + std::to_string(id.layer) + "." + k.hf : std::string(k.hf);
  return with_prefix ? "transformer." + name : name;
}


}  // namespace gpt2
