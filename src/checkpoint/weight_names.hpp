// Maps checkpoint tensor names of both naming schemes onto ModelWeights slots,
// with the shape each slot must have for given hparams:
//   TF  (released):   model/wte, model/h3/attn/c_attn/w [1, C, 3C], model/ln_f/g
//   HF (safetensors): [transformer.]wte.weight, [transformer.]h.3.attn.c_attn.weight [C, 3C], ln_f.weight
// Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gpt2/hparams.hpp"
#include "gpt2/weights.hpp"

namespace gpt2::detail {

enum class Field {
  // global
  kWte, kWpe, kLnFG, kLnFB,
  // per block
  kLn1G, kLn1B, kAttnW, kAttnB, kAttnProjW, kAttnProjB, kLn2G, kLn2B, kFcW, kFcB, kMlpProjW, kMlpProjB,
};
constexpr int kGlobalFields = 4;
constexpr int kBlockFields = 12;

struct Slot {
  int64_t layer = -1;  // -1 for the global tensors
  Field field = Field::kWte;
};

// Index of a slot in [0, num_slots(hp)): globals first, then block by block.
int64_t slot_index(const Slot& s);
int64_t num_slots(const HParams& hp);
Slot slot_at(int64_t index);

enum class NameKind {
  kWeight,   // a model weight (slot filled)
  kIgnored,  // HF attention mask buffers (attn.bias, attn.masked_bias)
  kLmHead,   // HF lm_head.weight: must be the tied wte
  kUnknown,
};
struct NameMatch {
  NameKind kind = NameKind::kUnknown;
  Slot slot;
};

// Classifies `name` under `format`'s naming scheme. Layer numbers are not
// checked against hparams here.
NameMatch match_name(const std::string& name, CheckpointFormat format);

// The name the slot has in `format` (for "missing tensor" reports).
std::string slot_name(const Slot& s, CheckpointFormat format);

// The shape the slot's tensor must have in `format` (TF projection weights keep
// their leading 1).
std::vector<int64_t> expected_shape(const Slot& s, const HParams& hp, CheckpointFormat format);

std::string shape_string(const std::vector<int64_t>& shape);  // "[1, 768, 2304]"

}  // namespace gpt2::detail
