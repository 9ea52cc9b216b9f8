#include "model/model_test_util.hpp"

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

ModelWeights random_weights(const HParams& hp, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t C = hp.n_embd;
  auto randn = [](std::vector<int64_t> shape, double scale) {
    return torch::randn(shape, torch::kFloat32) * scale;
  };
  ModelWeights w;
  w.hp = hp;
  w.wte = randn({hp.n_vocab, C}, 0.5);
  w.wpe = randn({hp.n_ctx, C}, 0.2);
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    BlockWeights b;
    b.ln_1_g = 1 + randn({C}, 0.1);
    b.ln_1_b = randn({C}, 0.1);
    b.attn_w = randn({C, 3 * C}, 0.4);
    b.attn_b = randn({3 * C}, 0.1);
    b.attn_proj_w = randn({C, C}, 0.3);
    b.attn_proj_b = randn({C}, 0.1);
    b.ln_2_g = 1 + randn({C}, 0.1);
    b.ln_2_b = randn({C}, 0.1);
    b.fc_w = randn({C, 4 * C}, 0.3);
    b.fc_b = randn({4 * C}, 0.1);
    b.mlp_proj_w = randn({4 * C, C}, 0.2);
    b.mlp_proj_b = randn({C}, 0.1);
    w.blocks.push_back(b);
  }
  w.ln_f_g = 1 + randn({C}, 0.1);
  w.ln_f_b = randn({C}, 0.1);
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
