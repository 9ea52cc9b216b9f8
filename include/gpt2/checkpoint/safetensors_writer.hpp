// Writing safetensors files (src/checkpoint/safetensors_writer.cpp); reading is in safetensors.hpp.
// Torch-free, like the reader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gpt2::st {

// One tensor to write: raw little-endian bytes of `dtype` ("F32", ...) and shape.
struct TensorData {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;
};

// The header (8-byte length + JSON) of a file holding `tensors`, laid out in
// the given order, back to back. `__metadata__` comes first; the JSON is padded
// with spaces to a multiple of 8 bytes so the data starts aligned, as the
// safetensors library writes it. Throws UsageError for a duplicate name or a
// size that does not match the shape.
std::string make_header(const std::vector<TensorData>& tensors, const std::map<std::string, std::string>& metadata);

// Writes a safetensors file atomically (temporary name, fsync, rename): the
// header, then every tensor's bytes. IoError on failure; the target is then
// untouched.
void write_file(const std::filesystem::path& file, const std::vector<TensorData>& tensors,
                const std::map<std::string, std::string>& metadata);

}  // namespace gpt2::st
