// GPT-2 byte-level BPE tokenizer, identical in its ids to OpenAI's released encoder.
//
// encode_ordinary() treats all text as ordinary text (so "<|endoftext|>" inside
// text becomes 7 ordinary tokens, 27 91 437 1659 5239 91 29, as the released
// encoder gives); encode() with
// allow_special maps the literal "<|endoftext|>" to its id (50256).
// The heavy parts (re2, the merge tables) are hidden behind a pimpl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

using TokenId = int32_t;

class Tokenizer {
 public:
  // The released GPT-2 vocabulary, embedded in the binary. Built once, shared.
  static std::shared_ptr<const Tokenizer> builtin();
  // From the two released files (encoder.json + vocab.bpe), or HF's
  // vocab.json + merges.txt (same data). Throws NotFoundError / FormatError.
  static std::shared_ptr<const Tokenizer> from_files(const std::filesystem::path& encoder_json,
                                                     const std::filesystem::path& vocab_bpe);
  // From a model directory: encoder.json|vocab.json and vocab.bpe|merges.txt.
  static std::shared_ptr<const Tokenizer> from_model_dir(const std::filesystem::path& dir);
  // From in-memory file contents. `source` names them in error messages.
  static std::shared_ptr<const Tokenizer> from_strings(std::string_view encoder_json,
                                                       std::string_view vocab_bpe,
                                                       const std::string& source);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::vector<TokenId> encode_ordinary(std::string_view text) const;
  std::vector<TokenId> encode(std::string_view text, bool allow_special) const;

  // Concatenated bytes of the tokens. Throws UsageError for an id outside the vocabulary.
  std::string decode(const std::vector<TokenId>& ids) const;
  // The raw bytes of one token (may be an incomplete UTF-8 sequence).
  const std::string& token_bytes(TokenId id) const;

  // The vocabulary files this tokenizer was built from, byte for byte
  // (encoder.json / vocab.json, vocab.bpe / merges.txt), for writing a model directory.
  const std::string& encoder_json_text() const;
  const std::string& vocab_bpe_text() const;

  TokenId eot_id() const;      // <|endoftext|>, 50256 for GPT-2
  int64_t vocab_size() const;  // 50257 for GPT-2

  // Invalid UTF-8 in the text to encode is never an error: each maximal
  // ill-formed subsequence is read as U+FFFD, exactly as Python's
  // bytes.decode("utf-8", errors="replace") reads it before the released
  // encoder sees it. This counts those subsequences (0 for valid UTF-8).
  static std::size_t invalid_utf8_sequences(std::string_view text);

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  static std::shared_ptr<const Tokenizer> from_named_strings(std::string_view encoder_json,
                                                             std::string_view vocab_bpe,
                                                             const std::string& encoder_name,
                                                             const std::string& vocab_name);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gpt2
