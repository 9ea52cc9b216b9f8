// The merge core: the simple and the heap-based loops agree, the rank table
// behaves like a dict, and long pieces take linear-ish time (not a benchmark:
// the bounds are generous, they only catch a quadratic blow-up).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "gpt2/tokenizer.hpp"
#include "tokenizer/bpe.hpp"
#include "tokenizer/embedded_vocab.hpp"
#include "tokenizer/vocab_files.hpp"

using gpt2::TokenId;
using gpt2::Tokenizer;

namespace {

struct Released {
  gpt2::VocabData vocab;
  gpt2::bpe::MergeTable table;
  Released()
      : vocab(gpt2::parse_vocab(gpt2::embedded_encoder_json(), gpt2::embedded_vocab_bpe(), "encoder.json",
                                "vocab.bpe")),
        table(vocab.merges.size()) {
    for (std::size_t r = 0; r < vocab.merges.size(); ++r) {
      table.insert(vocab.merges[r].left, vocab.merges[r].right, static_cast<uint32_t>(r), vocab.merges[r].merged);
    }
    table.index_byte_pairs(vocab.byte_ids);
  }
  std::vector<TokenId> bytes_of(const std::string& s) const {
    std::vector<TokenId> ids;
    for (unsigned char c : s) ids.push_back(vocab.byte_ids[c]);
    return ids;
  }
};

const Released& released() {
  static const Released r;
  return r;
}

#ifdef NDEBUG
constexpr double kLimitSeconds = 2.0;
#else
constexpr double kLimitSeconds = 20.0;  // unoptimised builds
#endif

double seconds_to_encode(const std::string& text, std::size_t* count) {
  const auto tok = Tokenizer::builtin();
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok->encode_ordinary(text);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  *count = ids.size();
  EXPECT_EQ(tok->decode(ids), text);
  return s;
}

}  // namespace

TEST(Bpe, VocabularyShape) {
  const auto& r = released();
  EXPECT_EQ(r.vocab.tokens.size(), 50257u);
  EXPECT_EQ(r.vocab.merges.size(), 50000u);
  EXPECT_EQ(r.table.size(), 50000u);
  EXPECT_EQ(r.vocab.eot_id, 50256);
  EXPECT_EQ(r.vocab.byte_ids['!'], 0);
  EXPECT_EQ(r.vocab.byte_ids[' '], 220);
  TokenId merged = -1;
  // The first merge of vocab.bpe is "Ġ t" -> "Ġt" (" t", id 256).
  EXPECT_EQ(r.table.find(220, r.vocab.byte_ids['t'], &merged), 0u);
  EXPECT_EQ(merged, 256);
  EXPECT_EQ(r.table.find(r.vocab.byte_ids['t'], 220, &merged), gpt2::bpe::MergeTable::kNoRank);
  ASSERT_TRUE(r.table.has_byte_pairs());
  EXPECT_EQ(r.table.byte_pair_rank(' ', 't'), 0u);
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(r.table.byte_pair_rank(static_cast<unsigned char>(a), static_cast<unsigned char>(b)),
                r.table.rank(r.vocab.byte_ids[a], r.vocab.byte_ids[b]));
    }
  }
}

TEST(Bpe, MergeTableLaterInsertWins) {
  gpt2::bpe::MergeTable t;
  for (int i = 0; i < 1000; ++i) t.insert(i, i + 1, static_cast<uint32_t>(i), 5000 + i);
  t.insert(3, 4, 7777, 42);
  EXPECT_EQ(t.size(), 1000u);
  EXPECT_FALSE(t.has_byte_pairs());
  TokenId m = -1;
  EXPECT_EQ(t.find(3, 4, &m), 7777u);
  EXPECT_EQ(m, 42);
  EXPECT_EQ(t.find(999, 1000, &m), 999u);
  EXPECT_EQ(t.find(1000, 1001, &m), gpt2::bpe::MergeTable::kNoRank);
}

TEST(Bpe, SimpleAndHeapLoopsAgree) {
  const auto& r = released();
  const std::vector<std::string> parts = {"a", "b", "e", "t", "h", "in", "the", " ", "0", "1", "!", "-", "=",
                                          "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\n", "ab", "aa"};
  std::mt19937 rng(11);
  gpt2::bpe::Scratch scratch;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string piece;
    const std::size_t n = 1 + rng() % (iter % 10 == 0 ? 300 : 40);
    // Long runs of one part stress the "merge every occurrence" rule.
    const bool runs = rng() % 3 == 0;
    const std::string& repeated = parts[rng() % parts.size()];
    while (piece.size() < n) piece += runs && rng() % 4 != 0 ? repeated : parts[rng() % parts.size()];
    auto a = r.bytes_of(piece);
    auto b = a;
    gpt2::bpe::merge_simple(r.table, a, scratch);
    gpt2::bpe::merge_heap(r.table, b, scratch);
    ASSERT_EQ(a, b) << "piece: " << piece;
    std::vector<TokenId> c;
    gpt2::bpe::encode_piece(r.table, r.vocab.byte_ids, piece, c, scratch);  // dense first round
    ASSERT_EQ(a, c) << "piece: " << piece;
    std::string joined;
    for (TokenId id : a) joined += r.vocab.tokens[id];
    ASSERT_EQ(joined, piece);
  }
}

TEST(Bpe, PathologicalInputsAreNotQuadratic) {
  std::size_t count = 0;
  EXPECT_LT(seconds_to_encode(std::string(10000, ' '), &count), kLimitSeconds);
  EXPECT_GT(count, 0u);
  EXPECT_LT(seconds_to_encode(std::string(100000, 'a'), &count), kLimitSeconds);
  EXPECT_LT(seconds_to_encode(std::string(100000, '0'), &count), kLimitSeconds);
  EXPECT_LT(seconds_to_encode(std::string(100000, '!'), &count), kLimitSeconds);
  EXPECT_LT(seconds_to_encode(std::string(50000, '\n'), &count), kLimitSeconds);
  std::string letters;
  std::mt19937 rng(5);
  for (int i = 0; i < 100000; ++i) letters.push_back(static_cast<char>('a' + rng() % 26));
  EXPECT_LT(seconds_to_encode(letters, &count), kLimitSeconds);
  std::string emoji;
  for (int i = 0; i < 20000; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_LT(seconds_to_encode(emoji, &count), kLimitSeconds);
  std::string spaced;
  for (int i = 0; i < 20000; ++i) spaced += "a ";
  EXPECT_LT(seconds_to_encode(spaced + std::string(10000, ' ') + "b", &count), kLimitSeconds);
}

TEST(Bpe, LongRunsGiveTheSameIdsAsTheSimpleLoop) {
  // Pieces over the threshold take the heap path inside encode(); check it
  // against the simple loop on whole runs.
  const auto& r = released();
  gpt2::bpe::Scratch scratch;
  for (const std::string& s : {std::string(1000, ' '), std::string(999, 'a'), std::string(257, '0'),
                               std::string(100, '=') }) {
    auto expected = r.bytes_of(s);
    gpt2::bpe::merge_simple(r.table, expected, scratch);
    EXPECT_EQ(Tokenizer::builtin()->encode_ordinary(s), expected) << s.size() << " x '" << s[0] << "'";
  }
}
