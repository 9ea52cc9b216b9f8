// Helpers for the model tests: small random models and fixture paths.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2::test {

// A small HParams (vocab 97, n_ctx 16, n_embd 12, 3 heads, 2 layers) unless changed.
HParams tiny_hparams();

// Random float32 weights of the right shapes for `hp` (deterministic for `seed`),
// with magnitudes like a trained model's so that attention is not uniform.
ModelWeights random_weights(const HParams& hp, uint64_t seed);

// [rows, cols] int64 tensor from nested ids.
torch::Tensor ids_tensor(const std::vector<std::vector<int64_t>>& rows);

// A fixture model directory (tests/data/<name>).
std::filesystem::path fixture_dir(const std::string& name);

// Reads `count` little-endian float32 values (the logits_N.f32 files).
std::vector<float> read_f32(const std::filesystem::path& file);

}  // namespace gpt2::test
