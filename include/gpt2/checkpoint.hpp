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

#include "gpt2/hparams.hpp"
#include "gpt2/weights.hpp"

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

// One problem found by verify_model_dir (a file and what is wrong with it).
struct VerifyProblem {
  std::filesystem::path file;
  std::string tensor;   // empty when the problem is not about one tensor
  std::string message;  // one line
};

// "file: tensor 'x': message", the one-line form every report and error uses.
std::string to_string(const VerifyProblem& p);

struct VerifyReport {
  CheckpointFormat format = CheckpointFormat::kTFBundle;
  int64_t tensors_checked = 0;
  int64_t bytes_checked = 0;
  std::vector<VerifyProblem> problems;
  bool ok() const { return problems.empty(); }
};

// Full integrity check of a model directory: hparams.json parses, every file the
// format needs exists with the right size, every tensor lies within its file,
// every TF tensor's crc32c matches the index, shapes agree with hparams.
// Never throws for a bad model (problems are reported); throws only for
// NotFoundError when the directory itself does not exist.
// `format` picks the checkpoint when a directory holds both (default: auto-detect).
VerifyReport verify_model_dir(const std::filesystem::path& model_dir,
                              std::optional<CheckpointFormat> format = std::nullopt);

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
