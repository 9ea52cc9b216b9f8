// safetensors files (Hugging Face): 8-byte little-endian header length N, N bytes
// of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
// "__metadata__": {..}}, then the data; offsets are relative to the data start.
// This header is torch-free so that tests and fuzzers can use it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace gpt2::st {

// Headers above this are rejected before anything is allocated.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;

struct TensorInfo {
  std::string name;
  std::string dtype;            // as written: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;   // every dim >= 0
  uint64_t begin = 0, end = 0;  // absolute byte range in the file

  int64_t num_elements() const;
  uint64_t nbytes() const { return end - begin; }
};

struct Header {
  uint64_t header_bytes = 0;  // N
  uint64_t data_start = 0;    // 8 + N
  std::vector<TensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;

  const TensorInfo* find(const std::string& name) const;
};

// Bytes per element of a safetensors dtype string, 0 if unknown.
int64_t dtype_size(const std::string& dtype);

// Parses the header of a safetensors file whose first `size` bytes are `data`
// (`size` is the full file size). Checks: the length prefix against the cap and
// the file size, the JSON, every entry's dtype/shape/offsets, that
// end-begin == elements * dtype size, that every tensor lies within the file and
// that tensors do not overlap. Throws FormatError naming `source` (and tensor).
Header parse_header(const uint8_t* data, size_t size, const std::string& source);

// Maps `file` (NotFoundError if missing) and parses its header.
Header read_header(const std::filesystem::path& file);

}  // namespace gpt2::st
