// libFuzzer target: gpt2::split_documents (the finetune --data reader) on
// arbitrary bytes, as each kind of file. It returns non-empty documents or
// throws gpt2::FormatError naming the file (JSONL only); a text file's
// documents are exactly its bytes with the <|endoftext|> separators taken out,
// a directory's .txt file is one document.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gpt2/base/errors.hpp"
#include "gpt2/train/train_documents.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string eot = "<|endoftext|>";

  // Text: documents between separators, none empty, none holding a separator.
  std::string joined, without;
  for (const std::string& d : gpt2::split_documents({"fuzz.txt", gpt2::DataFileKind::kText}, bytes)) {
    if (d.empty() || d.find(eot) != std::string::npos) __builtin_trap();
    joined += d;
  }
  for (size_t start = 0, at;; start = at + eot.size()) {
    at = bytes.find(eot, start);
    without += bytes.substr(start, at == std::string::npos ? std::string::npos : at - start);
    if (at == std::string::npos) break;
  }
  if (joined != without) __builtin_trap();

  // A directory's .txt file: the whole file, unless empty.
  const auto whole = gpt2::split_documents({"d/fuzz.txt", gpt2::DataFileKind::kDocument}, bytes);
  if (whole.size() != (bytes.empty() ? 0u : 1u) || (!bytes.empty() && whole[0] != bytes)) __builtin_trap();

  // JSONL: non-empty documents or a FormatError naming the file and line.
  try {
    for (const std::string& d : gpt2::split_documents({"fuzz.jsonl", gpt2::DataFileKind::kJsonl}, bytes))
      if (d.empty()) __builtin_trap();
  } catch (const gpt2::FormatError& e) {
    if (std::string(e.what()).find("fuzz.jsonl:") == std::string::npos) __builtin_trap();
  }
  return 0;
}
