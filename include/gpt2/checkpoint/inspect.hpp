// `gpt2 info`: what a model directory holds, read from hparams and the checkpoint's
// index/header only (src/checkpoint/inspect.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/checkpoint_format.hpp"

namespace gpt2 {

// Summary for `gpt2 info`.
struct ModelInfo {
  HParams hp;
  CheckpointFormat format = CheckpointFormat::kTFBundle;
  int64_t tensor_count = 0;     // every tensor in the checkpoint file(s)
  int64_t parameter_count = 0;  // elements of the GPT-2 weights found (mask buffers and a tied lm_head excluded)
  int64_t bytes_on_disk = 0;  // all files in the directory
  std::string dtype;          // "float32", or e.g. "float16" / "mixed"
  std::filesystem::path checkpoint_file;  // the TF .index or the .safetensors file
};
// Reads hparams and the checkpoint's index/header (not the tensor data).
// Throws NotFoundError / FormatError like loading does.
ModelInfo inspect_model_dir(const std::filesystem::path& model_dir,
                            std::optional<CheckpointFormat> format = std::nullopt);

}  // namespace gpt2
