// Parsing the released vocabulary files: encoder.json (token spelled in GPT-2's
// byte-mapped characters -> id) and vocab.bpe (one merge "a b" per line, in rank
// order, after a "#version" line). Hugging Face's vocab.json / merges.txt hold the
// same data in the same formats.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

struct VocabData {
  struct Merge {
    TokenId left, right, merged;
  };
  std::vector<std::string> tokens;    // id -> raw bytes
  std::array<TokenId, 256> byte_ids;  // the single-byte token of each byte
  std::vector<Merge> merges;          // rank order: merges[r] has rank r
  TokenId eot_id = -1;                // "<|endoftext|>"
};

// Throws FormatError naming `encoder_name` / `vocab_name` (and the line) on bad content.
VocabData parse_vocab(std::string_view encoder_json, std::string_view vocab_bpe,
                      const std::string& encoder_name, const std::string& vocab_name);

}  // namespace gpt2
