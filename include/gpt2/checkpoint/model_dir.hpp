// Model directories: finding the checkpoint, loading weights zero-copy with every
// shape checked, and verifying integrity.
//
// A model directory holds hparams.json, the tokenizer files and either
//   - the released TensorFlow bundle: model.ckpt.index + model.ckpt.data-00000-of-00001
//   - or a Hugging Face model.safetensors
// (auto-detected; the TF bundle wins if both are present).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2 {

struct LoadOptions {
  // Also check every tensor's crc32c while loading (reads every byte; slow for
  // big models). Sizes, offsets and shapes are always checked.
  bool verify_checksums = false;
  // Which checkpoint to load when a directory holds both (default: auto-detect,
  // the TF bundle wins).
  std::optional<CheckpointFormat> format;
};

// Loads hparams.json and the weights of `model_dir`. float32 tensors are
// memory-mapped in place; float16/bfloat16 are converted to float32.
// Every shape is checked against hparams; errors name the file and tensor.
ModelWeights load_model_weights(const std::filesystem::path& model_dir, const LoadOptions& opt = {});

}  // namespace gpt2
