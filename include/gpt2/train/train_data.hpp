// Training data: input files -> documents -> one token stream (documents
// joined with <|endoftext|>), cached as uint16 ids next to a JSON sidecar
// naming the inputs (size, mtime, crc32c of the bytes) and the tokenizer; the
// validation split; and the window sampler whose offsets are a pure function
// of (seed, step, micro-batch, row), so a resumed run draws the same batches.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/train/train_documents.hpp"

namespace gpt2 {


constexpr const char* kTokenCacheFile = "tokens.bin";   // uint16 little-endian ids
constexpr const char* kTokenCacheMeta = "tokens.json";  // what they were made from

struct TokenStream {
  std::vector<uint16_t> tokens;
  int64_t documents = 0;
  std::string identity;     // JSON: inputs (path, size, mtime_ns, crc32c) and tokenizer crc32c
  bool from_cache = false;  // read from a cache whose identity matched
};

// Reads every file (NotFoundError if missing), and returns the cached stream of
// `cache_dir` when its identity matches, else tokenizes (ordinary text, documents
// joined with <|endoftext|>). FormatError when there is no token at all (naming
// the empty file when there is one input).
TokenStream load_token_stream(const std::vector<DataFile>& files, const Tokenizer& tokenizer,
                              const std::filesystem::path& cache_dir);

// Writes tokens.bin and then tokens.json into `dir`, each atomically.
void write_token_cache(const std::filesystem::path& dir, const TokenStream& stream);

struct DataSplit {
  std::vector<uint16_t> train, val;
  int64_t train_documents = 0, val_documents = 0;
};

// The last documents (whole, at least one left for training) holding about
// `fraction` of the tokens become validation data when there are several
// documents; with one document, the last `fraction` of the stream. 0: no validation.
DataSplit split_validation(const std::vector<uint16_t>& tokens, uint16_t eot, double fraction);

// Windows of min(seq, n - 1) input tokens (plus one target token) at offsets
// drawn from a counter-based generator (splitmix64 of seed, step, micro-batch, row).
class WindowSampler {
 public:
  // UsageError when the stream has fewer than 2 tokens.
  WindowSampler(int64_t stream_tokens, int64_t seq, uint64_t seed);
  int64_t window() const { return window_; }
  uint64_t seed() const { return seed_; }
  int64_t offset(int64_t step, int64_t micro, int64_t row) const;

 private:
  int64_t n_, window_;
  uint64_t seed_;
};

// Inputs and targets [batch, window] int64 of micro-batch `micro` of `step`:
// rows [first_row, first_row + batch) of it (rank r of a data-parallel run
// with --batch b trains rows [r*b, (r+1)*b) of the global batch).
std::pair<torch::Tensor, torch::Tensor> sample_batch(const std::vector<uint16_t>& stream, const WindowSampler& s,
                                                     int64_t step, int64_t micro, int64_t batch,
                                                     int64_t first_row = 0);

}  // namespace gpt2
