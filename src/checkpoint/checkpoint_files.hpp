// The tensors of a model directory's checkpoint, whatever its format: name,
// dtype, shape and where the bytes lie in a memory-mapped file. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"

namespace gpt2::detail {

enum class ElemType { kF32, kF16, kBF16, kOther };

struct TensorRef {
  std::string name;
  std::string dtype;  // readable: "float32", "float16", "bfloat16", "int32", ...
  ElemType type = ElemType::kOther;
  std::vector<int64_t> shape;
  std::shared_ptr<const MappedFile> file;  // null if its data file is missing
  std::filesystem::path file_path;         // the data file it lives in
  uint64_t offset = 0;                     // absolute, in file
  uint64_t nbytes = 0;
  bool in_bounds = false;                  // offset+nbytes <= file size
  bool has_crc = false;                    // TF: unmasked crc32c of the bytes
  uint32_t crc = 0;

  int64_t num_elements() const;
  const uint8_t* bytes() const { return file->data() + offset; }
};

struct CheckpointFiles {
  CheckpointFormat format = CheckpointFormat::kTFBundle;
  std::filesystem::path index_file;  // TF .index, or the .safetensors file
  std::vector<std::filesystem::path> data_files;
  std::vector<TensorRef> tensors;
};

// The TF bundle prefix / safetensors file of a directory in a given format.
std::filesystem::path tf_index_path(const std::filesystem::path& dir);
std::filesystem::path tf_prefix(const std::filesystem::path& dir);
std::filesystem::path safetensors_path(const std::filesystem::path& dir);

// Parses the index/header and maps the data files. With `strict`, a missing
// data file (NotFoundError), a wrong data file size or a tensor outside its file
// (FormatError) throws; without, those are appended to `problems` and the
// tensor is marked !in_bounds (verification keeps going).
CheckpointFiles open_checkpoint(const std::filesystem::path& dir, CheckpointFormat format, bool strict,
                                std::vector<VerifyProblem>* problems = nullptr);

}  // namespace gpt2::detail
