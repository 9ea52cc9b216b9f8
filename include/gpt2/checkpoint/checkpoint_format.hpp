// The two checkpoint formats a model directory can hold, next to their readers
// (gpt2/tf_bundle.hpp, gpt2/safetensors.hpp, gpt2/checkpoint.hpp).
#pragma once

#include <filesystem>
#include <string>

namespace gpt2 {

enum class CheckpointFormat {
  kTFBundle,     // the released TensorFlow bundle: model.ckpt.index + model.ckpt.data-00000-of-00001
  kSafetensors,  // Hugging Face model.safetensors
};
std::string to_string(CheckpointFormat f);  // "tf-bundle" / "safetensors"

// Parses "tf" / "tf-bundle" / "tensorflow" / "safetensors" / "st". UsageError otherwise.
CheckpointFormat parse_checkpoint_format(const std::string& s);

// Which checkpoint format a directory holds (the TF bundle wins if both are
// present). Throws NotFoundError if neither.
CheckpointFormat detect_checkpoint_format(const std::filesystem::path& model_dir);

}  // namespace gpt2
