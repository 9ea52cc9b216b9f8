#include "support/model_test_util.hpp"

#include <torch/torch.h>

#include <cstring>
#include <stdexcept>

#include "support/test_support.hpp"

namespace gpt2::test {

HParams tiny_hparams() {
  HParams hp;
  hp.n_vocab = 97;
  hp.n_ctx = 16;
  hp.n_embd = 12;
  hp.n_head = 3;
  hp.n_layer = 2;
  return hp;
}

// Random weights with O(1) activations (a small model must not be all noise):
// scales by role, walking the weight registry.
ModelWeights random_weights(const HParams& hp, uint64_t seed) {
  torch::manual_seed(seed);
  ModelWeights w;
  w.hp = hp;
  w.blocks.resize(static_cast<size_t>(hp.n_layer));
  gpt2::for_each_weight(hp, [&](const gpt2::WeightId& id) {
    const std::vector<int64_t> shape = gpt2::weight_shape(id, hp);
    auto randn = [&](double scale) { return torch::randn(shape, torch::kFloat32) * scale; };
    switch (gpt2::weight_kind(id.field).role) {
      case gpt2::WeightRole::kTokenEmbedding: w.at(id) = randn(0.5); break;
      case gpt2::WeightRole::kPositionEmbedding: w.at(id) = randn(0.2); break;
      case gpt2::WeightRole::kNormGain: w.at(id) = 1 + randn(0.1); break;
      case gpt2::WeightRole::kProjection: w.at(id) = randn(id.field == gpt2::WeightField::kAttnW ? 0.4 : 0.3); break;
      default: w.at(id) = randn(0.1); break;
    }
  });
  return w;
}

torch::Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows) {
  const int64_t B = static_cast<int64_t>(rows.size()), T = static_cast<int64_t>(rows.at(0).size());
  torch::Tensor t = torch::empty({B, T}, torch::kInt64);  // [B, T]
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) t[b][i] = rows[static_cast<size_t>(b)].at(static_cast<size_t>(i));
  return t;
}

std::filesystem::path fixture_dir(const std::string& name) { return data_dir() / name; }

std::vector<float> read_f32(const std::filesystem::path& file) {
  const std::string bytes = read_file(file);
  if (bytes.size() % 4 != 0) throw std::runtime_error("odd size: " + file.string());
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), bytes.size());  // little-endian host assumed (x86/arm64)
  return v;
}

}  // namespace gpt2::test
