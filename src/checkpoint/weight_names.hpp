// Matches checkpoint tensor names of both naming schemes to registry weights
// (gpt2/weight_registry.hpp), with the shape each must have in that format:
//   TF  (released):   model/wte, model/h3/attn/c_attn/w [1, C, 3C], model/ln_f/g
//   HF (safetensors): [transformer.]wte.weight, [transformer.]h.3.attn.c_attn.weight [C, 3C], ln_f.weight
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/weight_registry.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2::detail {

enum class NameKind {
  kWeight,   // a model weight (id filled)
  kIgnored,  // HF attention mask buffers (attn.bias, attn.masked_bias)
  kLmHead,   // HF lm_head.weight: must be the tied wte
  kUnknown,
};
struct NameMatch {
  NameKind kind = NameKind::kUnknown;
  WeightId id;
};

// Classifies `name` under `format`'s naming scheme. Layer numbers are not
// checked against hparams here.
NameMatch match_name(const std::string& name, CheckpointFormat format);

// The name the weight has in `format` (for "missing tensor" reports; HF without "transformer.").
std::string weight_name(const WeightId& id, CheckpointFormat format);

// The shape the weight's tensor must have in `format` (TF projection weights keep
// their leading 1).
std::vector<int64_t> expected_shape(const WeightId& id, const HParams& hp, CheckpointFormat format);

}  // namespace gpt2::detail
