#include "gpt2/tokenizer/tokenizer.hpp"

#include <array>
#include <fstream>
#include <sstream>
#include <system_error>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/embedded_vocab.hpp"
#include "tokenizer/piece_cache.hpp"
#include "tokenizer/pretokenize.hpp"
#include "tokenizer/utf8.hpp"
#include "tokenizer/vocab_files.hpp"

namespace fs = std::filesystem;

namespace gpt2 {
namespace {

// Longer pieces are rare and not worth caching.
constexpr std::size_t kMaxCachedPiece = 64;
// The merge loops index symbols with 32-bit integers.
constexpr std::size_t kMaxText = (std::size_t{1} << 31) - 1;

// State of one encode call: the piece cache and reusable buffers.
struct EncodeState {
  PieceCache cache;
  bpe::Scratch scratch;
  std::vector<TokenId> syms;
};

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> tokens;
  std::array<TokenId, 256> byte_ids{};
  bpe::MergeTable merges;
  Pretokenizer pretokenizer;
  TokenId eot = -1;
  std::string encoder_json, vocab_bpe;  // the source files' bytes

  explicit Impl(VocabData&& v)
      : tokens(std::move(v.tokens)), byte_ids(v.byte_ids), merges(v.merges.size()), eot(v.eot_id) {
    for (std::size_t r = 0; r < v.merges.size(); ++r) {
      const auto& m = v.merges[r];
      merges.insert(m.left, m.right, static_cast<uint32_t>(r), m.merged);
    }
    merges.index_byte_pairs(byte_ids);
  }

  // Encodes well-formed UTF-8 as ordinary text, appending to `out`.
  void encode_valid(std::string_view text, std::vector<TokenId>& out, EncodeState& st) const {
    std::size_t pos = 0;
    while (pos < text.size()) {
      const std::size_t end = pretokenizer.piece_end(text, pos);
      const std::string_view piece = text.substr(pos, end - pos);
      pos = end;
      if (piece.size() == 1) {
        out.push_back(byte_ids[static_cast<unsigned char>(piece[0])]);
        continue;
      }
      const bool cacheable = piece.size() <= kMaxCachedPiece;
      if (cacheable) {
        const TokenId* ids = nullptr;
        std::size_t count = 0;
        if (st.cache.find(piece, &ids, &count)) {
          out.insert(out.end(), ids, ids + count);
          continue;
        }
      }
      bpe::encode_piece(merges, byte_ids, piece, st.syms, st.scratch);
      out.insert(out.end(), st.syms.begin(), st.syms.end());
      if (cacheable) st.cache.insert(piece, st.syms.data(), st.syms.size());
    }
  }

  std::vector<TokenId> encode(std::string_view text, bool allow_special) const {
    if (text.size() > kMaxText) {
      throw UsageError("text of " + std::to_string(text.size()) + " bytes is too large to encode at once (limit " +
                       std::to_string(kMaxText) + " bytes)");
    }
    std::string repaired;
    if (!utf8::is_valid(text)) {
      utf8::repair(text, repaired);
      text = repaired;
    }
    std::vector<TokenId> out;
    out.reserve(text.size() / 4 + 8);
    EncodeState st;
    if (!allow_special) {
      encode_valid(text, out, st);
      return out;
    }
    const std::string& special = tokens[eot];
    std::size_t pos = 0;
    for (;;) {
      const std::size_t hit = text.find(special, pos);
      encode_valid(text.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos), out, st);
      if (hit == std::string_view::npos) break;
      out.push_back(eot);
      pos = hit + special.size();
    }
    return out;
  }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::shared_ptr<const Tokenizer> Tokenizer::from_strings(std::string_view encoder_json,
                                                         std::string_view vocab_bpe,
                                                         const std::string& source) {
  return from_named_strings(encoder_json, vocab_bpe, source + " encoder.json", source + " vocab.bpe");
}

std::shared_ptr<const Tokenizer> Tokenizer::from_named_strings(std::string_view encoder_json,
                                                               std::string_view vocab_bpe,
                                                               const std::string& encoder_name,
                                                               const std::string& vocab_name) {
  auto impl = std::make_unique<Impl>(parse_vocab(encoder_json, vocab_bpe, encoder_name, vocab_name));
  impl->encoder_json.assign(encoder_json);
  impl->vocab_bpe.assign(vocab_bpe);
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

std::shared_ptr<const Tokenizer> Tokenizer::builtin() {
  static const std::shared_ptr<const Tokenizer> instance =
      from_strings(embedded_encoder_json(), embedded_vocab_bpe(), "built-in");
  return instance;
}

std::shared_ptr<const Tokenizer> Tokenizer::from_files(const fs::path& encoder_json, const fs::path& vocab_bpe) {
  const std::string enc = read_file(encoder_json, "tokenizer file");
  const std::string bpe = read_file(vocab_bpe, "tokenizer file");
  if (enc == embedded_encoder_json() && bpe == embedded_vocab_bpe()) return builtin();
  return from_named_strings(enc, bpe, encoder_json.string(), vocab_bpe.string());
}

std::shared_ptr<const Tokenizer> Tokenizer::from_model_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw NotFoundError("model directory not found: " + dir.string());
  auto pick = [&](const char* released, const char* hf) -> fs::path {
    if (fs::exists(dir / released, ec)) return dir / released;
    if (fs::exists(dir / hf, ec)) return dir / hf;
    throw NotFoundError(dir.string() + " has no " + released + " (or " + hf + ")");
  };
  const fs::path enc = pick("encoder.json", "vocab.json");
  const fs::path bpe = pick("vocab.bpe", "merges.txt");
  return from_files(enc, bpe);
}

std::vector<TokenId> Tokenizer::encode_ordinary(std::string_view text) const {
  return impl_->encode(text, false);
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool allow_special) const {
  return impl_->encode(text, allow_special);
}

const std::string& Tokenizer::token_bytes(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= impl_->tokens.size()) {
    throw UsageError("token id " + std::to_string(id) + " is out of range (the vocabulary has ids 0.." +
                     std::to_string(impl_->tokens.size() - 1) + ")");
  }
  return impl_->tokens[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<TokenId>& ids) const {
  std::size_t total = 0;
  for (TokenId id : ids) total += token_bytes(id).size();
  std::string out;
  out.reserve(total);
  for (TokenId id : ids) out += impl_->tokens[static_cast<std::size_t>(id)];
  return out;
}

const std::string& Tokenizer::encoder_json_text() const { return impl_->encoder_json; }
const std::string& Tokenizer::vocab_bpe_text() const { return impl_->vocab_bpe; }

TokenId Tokenizer::eot_id() const { return impl_->eot; }

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(impl_->tokens.size()); }

std::size_t Tokenizer::invalid_utf8_sequences(std::string_view text) {
  if (utf8::is_valid(text)) return 0;
  std::string repaired;
  return utf8::repair(text, repaired);
}

}  // namespace gpt2
