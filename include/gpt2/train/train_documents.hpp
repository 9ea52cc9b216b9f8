// Training input files and the documents in them: which kind each --data value
// is (text with <|endoftext|> separators, JSONL, a directory of .txt files) and
// how a file's bytes split into documents. Torch-free, so the fuzz build
// (tests/fuzz, scripts/fuzz.sh) compiles it alone.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gpt2 {

enum class DataFileKind {
  kText,      // documents separated by the literal "<|endoftext|>" (as gpt-2-simple reads them)
  kJsonl,     // one JSON object per line with a string "text" field (a .jsonl file)
  kDocument,  // one .txt file of a --data directory: the whole file is one document
};

struct DataFile {
  std::filesystem::path path;
  DataFileKind kind = DataFileKind::kText;
};

// Expands --data values: a directory gives its .txt files (sorted, one document
// each), a .jsonl file is JSONL, anything else a text file. UsageError when
// `inputs` is empty; NotFoundError for a missing path or a directory without .txt files.
std::vector<DataFile> expand_data_inputs(const std::vector<std::string>& inputs);

// The documents of one file (empty documents dropped). `bytes` is its content.
// FormatError naming file and line for a JSONL line that is not an object with a string "text".
std::vector<std::string> split_documents(const DataFile& file, const std::string& bytes);

}  // namespace gpt2
