// The merge core: the simple and the heap-based loops agree, the rank table
// behaves like a dict, and long pieces take linear-ish time (not a benchmark:
// the bounds are generous, they only catch a quadratic blow-up).
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"
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

// Encodes `text` in one piece through the merge core (the heap loop for long
// pieces) and returns the work it counted (Scratch::work: pair lookups and
// candidates popped); checks the result decodes back to the text.
uint64_t work_to_encode(const std::string& text) {
  const Released& r = released();
  gpt2::bpe::Scratch scratch;
  std::vector<TokenId> ids;
  gpt2::bpe::encode_piece(r.table, r.vocab.byte_ids, text, ids, scratch);
  std::string joined;
  for (TokenId id : ids) joined += r.vocab.tokens[id];
  EXPECT_EQ(joined, text);
  return scratch.work;
}

// Linear-ish growth: doubling the input at most ~2.3x the work (n log n with a
// small log factor gives ~2.1x; a quadratic loop gives 4x).
void expect_not_quadratic(const std::string& unit, int64_t n, const char* what) {
  std::string a, b;
  for (int64_t i = 0; i < n; ++i) a += unit;
  b = a + a;
  const uint64_t wa = work_to_encode(a), wb = work_to_encode(b);
  EXPECT_GT(wa, 0u) << what;
  EXPECT_LT(static_cast<double>(wb), 2.3 * static_cast<double>(wa)) << what << ": work " << wa << " -> " << wb;
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
  // Counted work, not time: one long piece of each kind the pre-tokenizer can
  // hand the merge core, and its double.
  expect_not_quadratic(" ", 20000, "spaces");
  expect_not_quadratic("a", 50000, "letters");
  expect_not_quadratic("0", 50000, "digits");
  expect_not_quadratic("!", 50000, "punctuation");
  expect_not_quadratic("\n", 20000, "newlines");
  expect_not_quadratic("\xF0\x9F\x98\x80", 10000, "emoji");
  expect_not_quadratic("ab", 25000, "a repeating pair");
  std::string letters;
  std::mt19937 rng(5);
  for (int i = 0; i < 50000; ++i) letters.push_back(static_cast<char>('a' + rng() % 26));
  const uint64_t w1 = work_to_encode(letters), w2 = work_to_encode(letters + letters);
  EXPECT_LT(static_cast<double>(w2), 2.3 * static_cast<double>(w1)) << "random letters: " << w1 << " -> " << w2;
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
