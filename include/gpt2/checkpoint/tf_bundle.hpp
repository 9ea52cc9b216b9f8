// TensorFlow tensor bundles (the format of tf.train.Saver V2 checkpoints, as in
// OpenAI's released GPT-2 models): `<prefix>.index` is a sorted table mapping
// tensor names to BundleEntryProto records (the empty key holds the
// BundleHeaderProto), and `<prefix>.data-XXXXX-of-YYYYY` hold the raw bytes.
// This header is torch-free so that tests and fuzzers can use it alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace gpt2::tf {

// Values of tensorflow.DataType (types.proto).
enum DataType : int {
  DT_INVALID = 0,
  DT_FLOAT = 1,
  DT_DOUBLE = 2,
  DT_INT32 = 3,
  DT_UINT8 = 4,
  DT_INT16 = 5,
  DT_INT8 = 6,
  DT_STRING = 7,
  DT_COMPLEX64 = 8,
  DT_INT64 = 9,
  DT_BOOL = 10,
  DT_QINT8 = 11,
  DT_QUINT8 = 12,
  DT_QINT32 = 13,
  DT_BFLOAT16 = 14,
  DT_QINT16 = 15,
  DT_QUINT16 = 16,
  DT_UINT16 = 17,
  DT_COMPLEX128 = 18,
  DT_HALF = 19,
  DT_RESOURCE = 20,
  DT_VARIANT = 21,
  DT_UINT32 = 22,
  DT_UINT64 = 23,
};

// "float32", "int32", "string", ... or "dtype(N)" for an unknown value.
std::string dtype_name(int dtype);
// Bytes per element, or 0 for variable-size / unknown types.
int64_t dtype_size(int dtype);

enum class Endianness { kLittle = 0, kBig = 1 };

struct BundleHeader {
  int32_t num_shards = 1;
  Endianness endianness = Endianness::kLittle;
  int32_t producer = 0;  // VersionDef.producer
};

struct BundleEntry {
  std::string name;
  int dtype = DT_INVALID;
  std::vector<int64_t> shape;  // every dim >= 0
  int32_t shard_id = 0;
  int64_t offset = 0;          // in the shard's data file
  int64_t size = 0;            // bytes
  uint32_t crc32c = 0;         // unmasked crc32c of the bytes (as stored: masked)
  bool has_crc = false;
  bool sliced = false;         // a partitioned variable (slices instead of bytes)

  int64_t num_elements() const;  // product of shape (1 for a scalar)
};

struct BundleIndex {
  BundleHeader header;
  std::vector<BundleEntry> entries;  // sorted by name; the header key is not included

  const BundleEntry* find(const std::string& name) const;
  // Largest offset+size of the entries in `shard` (the size its data file must have).
  int64_t shard_bytes(int32_t shard) const;
};

// Parses a whole .index file held in memory. Checks the table (footer, block
// crcs, keys) and every entry: known wire format, non-negative dims, shard in
// range, offset+size without overflow, and size == elements * dtype size for
// fixed-size dtypes. Throws FormatError naming `source` (and the tensor).
BundleIndex parse_bundle_index(const uint8_t* data, size_t size, const std::string& source);

// Reads `index_file` (NotFoundError if missing) and parses it.
BundleIndex read_bundle_index(const std::filesystem::path& index_file);

// "<prefix>.data-00000-of-00001" for shard 0 of 1.
std::filesystem::path data_file_path(const std::filesystem::path& prefix, int32_t shard, int32_t num_shards);

}  // namespace gpt2::tf
