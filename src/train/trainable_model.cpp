#include "gpt2/train/trainable_model.hpp"

#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {
constexpr double kLayerNormEps = 1e-5;

// A module parameter name for a registry weight: "h_3_attn_c_attn_weight".
std::string param_name(const WeightId& id) {
  std::string n = weight_hf_name(id, /*with_prefix=*/false);
  for (char& c : n)
    if (c == '.') c = '_';
  return n;
}
}  // namespace

TrainableGPT2Impl::TrainableGPT2Impl(const ModelWeights& weights, torch::Dtype dtype, torch::Device device)
    : device_(device), dtype_(dtype) {
  check_model_weights(weights);
  w_.hp = weights.hp;
  w_.format = weights.format;
  w_.blocks.resize(static_cast<size_t>(weights.hp.n_layer));
  torch::NoGradGuard no_grad;
  for_each_weight(w_.hp, [&](const WeightId& id) {
    torch::Tensor t = weights.at(id).detach().to(device, dtype).contiguous().clone();
    w_.at(id) = register_parameter(param_name(id), t, /*requires_grad=*/true);
    ids_.push_back(id);
  });
}

std::vector<torch::Tensor> TrainableGPT2Impl::params() const {
  std::vector<torch::Tensor> out;
  out.reserve(ids_.size());
  for (const WeightId& id : ids_) out.push_back(w_.at(id));
  return out;
}

torch::Tensor TrainableGPT2Impl::forward(const torch::Tensor& ids) {
  const HParams& hp = w_.hp;
  if (!ids.defined() || ids.dim() != 2 || ids.scalar_type() != torch::kInt64 || ids.numel() == 0)
    throw UsageError("training input must be non-empty int64 token ids [batch, time]");
  const int64_t B = ids.size(0), T = ids.size(1), C = hp.n_embd, H = hp.n_head, D = hp.head_dim();
  if (T > hp.n_ctx)
    throw UsageError(std::to_string(T) + " positions exceed the context of " + std::to_string(hp.n_ctx) + " tokens");
  const torch::Tensor tok = ids.to(device_).reshape({-1});  // [B*T]
  if (tok.min().item<int64_t>() < 0 || tok.max().item<int64_t>() >= hp.n_vocab)
    throw UsageError("token id outside the vocabulary (0.." + std::to_string(hp.n_vocab - 1) + ")");

  torch::Tensor x = w_.wte.index_select(0, tok).view({B, T, C}) +  // [B, T, C]
                    w_.wpe.narrow(0, 0, T).unsqueeze(0);          // [1, T, C]
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  const torch::Tensor mask =  // [T, T] bool, true = a future position (hidden)
      torch::ones({T, T}, torch::TensorOptions().dtype(torch::kBool).device(device_)).triu(1);
  for (const BlockWeights& b : w_.blocks) {
    // --- attention ---
    torch::Tensor h = torch::layer_norm(x, {C}, b.ln_1_g, b.ln_1_b, kLayerNormEps);           // [B, T, C]
    torch::Tensor qkv = torch::addmm(b.attn_b, h.reshape({B * T, C}), b.attn_w);             // [B*T, 3C]
    auto parts = qkv.view({B, T, 3 * C}).split(C, 2);                                        // 3 x [B, T, C]
    torch::Tensor q = parts[0].reshape({B, T, H, D}).transpose(1, 2);                        // [B, H, T, D]
    torch::Tensor k = parts[1].reshape({B, T, H, D}).transpose(1, 2);                        // [B, H, T, D]
    torch::Tensor v = parts[2].reshape({B, T, H, D}).transpose(1, 2);                        // [B, H, T, D]
    torch::Tensor att = torch::matmul(q, k.transpose(2, 3)) * scale;                         // [B, H, T, T]
    att = torch::softmax(att.masked_fill(mask, -std::numeric_limits<double>::infinity()), -1);
    torch::Tensor y = torch::matmul(att, v).transpose(1, 2).reshape({B * T, C});             // [B*T, C]
    x = x + torch::addmm(b.attn_proj_b, y, b.attn_proj_w).view({B, T, C});                   // [B, T, C]
    // --- MLP ---
    h = torch::layer_norm(x, {C}, b.ln_2_g, b.ln_2_b, kLayerNormEps);                         // [B, T, C]
    torch::Tensor m = torch::gelu(torch::addmm(b.fc_b, h.reshape({B * T, C}), b.fc_w), "tanh");  // [B*T, 4C]
    x = x + torch::addmm(b.mlp_proj_b, m, b.mlp_proj_w).view({B, T, C});                      // [B, T, C]
  }
  x = torch::layer_norm(x, {C}, w_.ln_f_g, w_.ln_f_b, kLayerNormEps);  // [B, T, C]
  return torch::matmul(x.reshape({B * T, C}), w_.wte.t()).view({B, T, hp.n_vocab});  // [B, T, V], tied to wte
}

ModelWeights TrainableGPT2Impl::to_weights() const {
  ModelWeights out;
  out.hp = w_.hp;
  out.format = CheckpointFormat::kSafetensors;
  out.blocks.resize(w_.blocks.size());
  torch::NoGradGuard no_grad;
  for (const WeightId& id : ids_) out.at(id) = w_.at(id).detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
  return out;
}

torch::Tensor lm_loss(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, V}),
                                              targets.to(logits.device()).reshape({-1}));
}

}  // namespace gpt2
