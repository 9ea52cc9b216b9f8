// ModelWeights access by registry id, and the registry-driven shape check.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "gpt2/base/format.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2 {

torch::Tensor& ModelWeights::at(const WeightId& id) {
  using F = WeightField;
  if (id.layer < 0) {
    switch (id.field) {
      case F::kWte: return wte;
      case F::kWpe: return wpe;
      case F::kLnFG: return ln_f_g;
      case F::kLnFB: return ln_f_b;
      default: break;
    }
    throw UsageError("weight field " + std::to_string(static_cast<int>(id.field)) + " needs a layer");
  }
  if (id.layer >= static_cast<int64_t>(blocks.size()))
    throw UsageError("layer " + std::to_string(id.layer) + " out of range (" + std::to_string(blocks.size()) +
                     " blocks)");
  BlockWeights& b = blocks[static_cast<size_t>(id.layer)];
  switch (id.field) {
    case F::kLn1G: return b.ln_1_g;
    case F::kLn1B: return b.ln_1_b;
    case F::kAttnW: return b.attn_w;
    case F::kAttnB: return b.attn_b;
    case F::kAttnProjW: return b.attn_proj_w;
    case F::kAttnProjB: return b.attn_proj_b;
    case F::kLn2G: return b.ln_2_g;
    case F::kLn2B: return b.ln_2_b;
    case F::kFcW: return b.fc_w;
    case F::kFcB: return b.fc_b;
    case F::kMlpProjW: return b.mlp_proj_w;
    case F::kMlpProjB: return b.mlp_proj_b;
    default: break;
  }
  throw UsageError("weight field " + std::to_string(static_cast<int>(id.field)) + " is not per block");
}

const torch::Tensor& ModelWeights::at(const WeightId& id) const {
  return const_cast<ModelWeights*>(this)->at(id);
}

void check_model_weights(const ModelWeights& w) {
  const HParams& hp = w.hp;
  if (hp.n_embd % hp.n_head != 0)
    throw FormatError("n_embd " + std::to_string(hp.n_embd) + " is not divisible by n_head " +
                      std::to_string(hp.n_head));
  if (static_cast<int64_t>(w.blocks.size()) != hp.n_layer)
    throw FormatError("model has " + std::to_string(w.blocks.size()) + " blocks, hparams say n_layer " +
                      std::to_string(hp.n_layer));
  for_each_weight(hp, [&](const WeightId& id) {
    const torch::Tensor& t = w.at(id);
    const std::vector<int64_t> want = weight_shape(id, hp);
    const std::string name = weight_tf_name(id);
    if (!t.defined()) throw FormatError("model weight " + name + " is missing");
    if (t.sizes() != torch::IntArrayRef(want))
      throw FormatError("model weight " + name + " has shape " + shape_string(t.sizes().vec()) + ", expected " +
                        shape_string(want));
    if (t.scalar_type() != torch::kFloat32)
      throw FormatError("model weight " + name + " is " + std::string(c10::toString(t.scalar_type())) +
                        ", expected float32");
  });
}

ModelWeights random_model_weights(const HParams& hp, uint64_t seed, double stddev) {
  auto gen = at::detail::createCPUGenerator(seed);
  ModelWeights w;
  w.hp = hp;
  w.blocks.resize(static_cast<size_t>(hp.n_layer));
  for_each_weight(hp, [&](const WeightId& id) {
    const std::vector<int64_t> shape = weight_shape(id, hp);
    switch (weight_kind(id.field).role) {
      case WeightRole::kNormGain: w.at(id) = torch::ones(shape); break;
      case WeightRole::kNormBias: w.at(id) = torch::zeros(shape); break;
      default: w.at(id) = torch::randn(shape, gen, torch::kFloat32).mul_(stddev); break;
    }
  });
  return w;
}

}  // namespace gpt2
