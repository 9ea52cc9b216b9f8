// Converted projection weights (bfloat16, int8, int4) cached on disk, so that reduced
// precisions load instantly: the first load converts and writes the cache; later
// loads memory-map it and never read the float32 projection weights (peak RSS ~
// the reduced weights + what is used of the float32 embeddings).
//
// The cache is a safetensors file of the packed tensors (kernels' layout) with
// metadata: a format version, the checkpoint's identity (every checkpoint
// file's size and mtime, the crc32c of the index / header bytes, the weight
// type) and the crc32c of the cached data. A cache whose identity differs
// (stale) or whose bytes do not check out (corrupt) is rebuilt.
//
// Where: <model_dir>/model.<dtype>.gpt2cache when the model directory is
// writable, else $XDG_CACHE_HOME/gpt2 (default ~/.cache/gpt2).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "gpt2/checkpoint/checkpoint_format.hpp"
#include "gpt2/model/model.hpp"

namespace gpt2 {

std::filesystem::path weight_cache_path(const std::filesystem::path& model_dir, ops::WeightType type);

// The identity a cache must record to be used (JSON text).
std::string checkpoint_identity(const std::filesystem::path& model_dir, CheckpointFormat format,
                                ops::WeightType type);

struct CachedWeights {
  PackedWeights packed;                   // tensors pointing into the mapping
  std::shared_ptr<const void> storage;    // the mapping
};

// The cache at `file` when it is present, current (same identity) and intact;
// else nullopt with the reason in `why` ("missing", "stale: ...", "corrupt: ...").
std::optional<CachedWeights> read_weight_cache(const std::filesystem::path& file, const std::string& identity,
                                               std::string* why = nullptr);

// Writes the cache atomically (temporary name, fsync, rename). IoError on failure.
void write_weight_cache(const std::filesystem::path& file, const std::string& identity, const PackedWeights& packed);

}  // namespace gpt2
