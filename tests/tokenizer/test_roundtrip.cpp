// Property tests: decode(encode(x)) == x for random valid UTF-8 mixing ASCII,
// every kind of whitespace, letters of several scripts, combining marks,
// digits and emoji; and encoding a text equals encoding its pieces one by one
// (so the per-call cache never changes a result); and a long text read in
// pieces cut at independent splits encodes to the whole text's ids.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/tokenizer/text_chunks.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "tokenizer/pretokenize.hpp"

using gpt2::TokenId;
using gpt2::Tokenizer;

namespace {

const std::vector<std::string>& alphabet() {
  static const std::vector<std::string> a = {
      // ASCII letters, digits, punctuation, contractions
      "a", "e", "t", "Z", "Q", "0", "7", "'", "s", "ll", "'re", ".", ",", "!", "?", "(", ")", "{", "=", "_", "#",
      // whitespace of every kind
      " ", " ", " ", "\t", "\n", "\r\n", "\v", "\f", "\u0085", "\u00A0", "\u1680", "\u2003", "\u2028", "\u2029",
      "\u202F", "\u205F", "\u3000",
      // not whitespace
      "\u200B", "\uFEFF",
      // Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari (with marks), Thai, CJK, Hangul
      "\u00E9", "\u00DF", "\u03A9", "\u0436", "\u0645", "\u05D0", "\u0915", "\u093F", "\u094D", "\u0E01",
      "\u0E31", "\u4E2D", "\u6587", "\u3042", "\uD55C",
      // combining marks, non-ASCII digits and numbers
      "\u0301", "\u0308", "\u0663", "\u0967", "\u00BD", "\u216B", "\uFF11",
      // emoji: plain, skin tone, ZWJ sequence, flag, keycap, variation selector
      "\U0001F600", "\U0001F44D\U0001F3FD", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "\U0001F1EB\U0001F1F7",
      "1\uFE0F\u20E3", "\u2764\uFE0F",
      // the special marker, as ordinary text
      "<|endoftext|>"};
  return a;
}

std::string random_text(std::mt19937& rng, std::size_t max_parts) {
  const auto& a = alphabet();
  std::string s;
  const std::size_t n = rng() % (max_parts + 1);
  for (std::size_t i = 0; i < n; ++i) s += a[rng() % a.size()];
  return s;
}

// Random text with a word boundary ("x y": a split position) every few parts.
std::string random_text_with_words(std::mt19937& rng, std::size_t max_parts) {
  static const std::vector<std::string> left = {"a", "it's", "42", "x.", "Z", ")"}, right = {"b", "'s", "7", "...", "Q"};
  std::string s;
  const std::size_t n = rng() % (max_parts + 1);
  for (std::size_t i = 0; i < n; i += 4)
    s += random_text(rng, 4) + left[rng() % left.size()] + " " + right[rng() % right.size()];
  return s;
}

}  // namespace

TEST(RoundTrip, DecodeEncodeIsIdentityOnRandomText) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 5000; ++iter) {
    const std::string text = random_text(rng, 40);
    const auto ids = tok->encode_ordinary(text);
    for (TokenId id : ids) ASSERT_TRUE(id >= 0 && id < tok->vocab_size());
    ASSERT_EQ(tok->decode(ids), text);
    ASSERT_EQ(tok->encode(text, false), ids);
  }
}

TEST(RoundTrip, WithSpecialTokensAllowed) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(99);
  for (int iter = 0; iter < 1000; ++iter) {
    const std::string text = random_text(rng, 30);
    const auto ids = tok->encode(text, true);
    ASSERT_EQ(tok->decode(ids), text);
  }
}

TEST(RoundTrip, WholeTextEqualsPiecesEncodedAlone) {
  const auto tok = Tokenizer::builtin();
  const gpt2::Pretokenizer pretok;
  std::mt19937 rng(4242);
  for (int iter = 0; iter < 20; ++iter) {
    // Long texts so that repeated pieces come from the cache.
    const std::string text = random_text(rng, 3000);
    std::vector<TokenId> by_piece;
    for (auto piece : pretok.split(text)) {
      const auto ids = tok->encode_ordinary(piece);
      by_piece.insert(by_piece.end(), ids.begin(), ids.end());
    }
    ASSERT_EQ(tok->encode_ordinary(text), by_piece);
  }
}

TEST(RoundTrip, SharedTokenizerIsSafeAcrossThreads) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(77);
  std::vector<std::string> texts;
  std::vector<std::vector<TokenId>> expected;
  for (int i = 0; i < 4; ++i) {
    texts.push_back(random_text(rng, 2000));
    expected.push_back(tok->encode_ordinary(texts.back()));
  }
  std::vector<std::vector<TokenId>> got(texts.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int rep = 0; rep < 5; ++rep) got[i] = tok->encode_ordinary(texts[i]);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got, expected);
}

// Every position independent_split can return is exact: the two sides encoded
// alone give the whole text's ids (ordinary and with special tokens allowed).
TEST(TextChunks, EveryIndependentSplitIsExact) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(2026);
  int splits = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const std::string text = random_text_with_words(rng, 60);
    const auto whole = tok->encode_ordinary(text), whole_special = tok->encode(text, true);
    for (std::size_t p = 1; p + 1 < text.size(); ++p) {
      if (gpt2::independent_split(std::string_view(text).substr(0, p + 2)) != p) continue;
      ++splits;
      auto ids = tok->encode_ordinary(text.substr(0, p)), rest = tok->encode_ordinary(text.substr(p));
      ids.insert(ids.end(), rest.begin(), rest.end());
      ASSERT_EQ(ids, whole) << "split at " << p << " of \"" << text << '"';
      ids = tok->encode(text.substr(0, p), true), rest = tok->encode(text.substr(p), true);
      ids.insert(ids.end(), rest.begin(), rest.end());
      ASSERT_EQ(ids, whole_special) << "split at " << p << " of \"" << text << '"';
    }
  }
  EXPECT_GT(splits, 100);  // the random texts did contain split positions
}

TEST(TextChunks, OnlyASpaceBetweenPrintableAsciiCharactersIsASplit) {
  using gpt2::independent_split;
  EXPECT_EQ(independent_split("ab cd"), 2u);
  EXPECT_EQ(independent_split("a b c"), 3u);  // the last one
  EXPECT_EQ(independent_split("a b "), 1u);   // a space needs a character after it
  EXPECT_EQ(independent_split("a  b"), 0u);   // a run of spaces: " " then " b"
  EXPECT_EQ(independent_split("a\tb"), 0u);
  EXPECT_EQ(independent_split("a\n b"), 0u);
  EXPECT_EQ(independent_split("\u00e9 b"), 0u);  // after a multi-byte character
  EXPECT_EQ(independent_split("a \u00e9"), 0u);
  EXPECT_EQ(independent_split("\u4e2d\u6587\u4e2d\u6587"), 0u);
  EXPECT_EQ(independent_split(""), 0u);
  EXPECT_EQ(independent_split(" b"), 0u);
}

TEST(TextChunks, ReaderPiecesEncodeToTheWholeText) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(31337);
  for (std::size_t piece_bytes : {2u, 7u, 64u, 1000u, 1u << 20}) {
    const std::string text = random_text_with_words(rng, 4000);
    std::istringstream in(text);
    gpt2::TextChunkReader reader(in, "test text", piece_bytes);
    std::string piece, joined;
    std::vector<TokenId> ids;
    int pieces = 0;
    while (reader.next(piece)) {
      ++pieces;
      ASSERT_FALSE(piece.empty());
      // Longer than asked only when no split position came within the bytes read.
      if (piece.size() > piece_bytes) {
        EXPECT_EQ(gpt2::independent_split(std::string_view(piece).substr(0, piece_bytes)), 0u);
      }
      joined += piece;
      const auto part = tok->encode(piece, true);
      ids.insert(ids.end(), part.begin(), part.end());
    }
    EXPECT_TRUE(piece.empty());
    EXPECT_TRUE(reader.at_end());
    EXPECT_EQ(reader.bytes_read(), static_cast<std::int64_t>(text.size()));
    ASSERT_EQ(joined, text);
    ASSERT_EQ(ids, tok->encode(text, true)) << "piece_bytes " << piece_bytes;
    if (piece_bytes <= 64) {
      EXPECT_GT(pieces, 10);
    }
  }
}

TEST(TextChunks, ReaderWithoutSplitPositionsReturnsTheWholeText) {
  std::string cjk;
  for (int i = 0; i < 500; ++i) cjk += "\u4e2d\u6587";
  std::istringstream in(cjk);
  gpt2::TextChunkReader reader(in, "test text", 16);
  std::string piece;
  ASSERT_TRUE(reader.next(piece));
  EXPECT_EQ(piece, cjk);
  EXPECT_FALSE(reader.next(piece));

  std::istringstream empty("");
  gpt2::TextChunkReader none(empty, "empty text", 16);
  EXPECT_FALSE(none.next(piece));
  EXPECT_TRUE(piece.empty());
}
