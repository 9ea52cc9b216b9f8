// Full integrity check of a model directory (src/checkpoint/verify.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "gpt2/checkpoint/checkpoint_format.hpp"

namespace gpt2 {

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

}  // namespace gpt2
