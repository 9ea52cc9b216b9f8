// StreamDecoder: emits only complete UTF-8, holds back a character split
// across tokens until it is complete, and never loses a byte.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/tokenizer/stream_decoder.hpp"
#include "tokenizer/utf8.hpp"

using gpt2::StreamDecoder;
using gpt2::TokenId;
using gpt2::Tokenizer;

namespace {

// The id of the token whose bytes are exactly `bytes`.
TokenId id_of(const std::string& bytes) {
  const auto tok = Tokenizer::builtin();
  for (TokenId id = 0; id < tok->vocab_size(); ++id) {
    if (tok->token_bytes(id) == bytes) return id;
  }
  ADD_FAILURE() << "no token for these bytes";
  return 0;
}

}  // namespace

TEST(StreamDecoder, HoldsBackASplitCharacter) {
  const auto tok = Tokenizer::builtin();
  const auto ids = tok->encode_ordinary("\xF0\x9F\x98\x80");  // 😀 is two tokens: F0 9F 98 | 80
  ASSERT_EQ(ids, (std::vector<TokenId>{47249, 222}));
  StreamDecoder d(tok);
  EXPECT_EQ(d.push(ids[0]), "");
  EXPECT_EQ(d.push(ids[1]), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, AsciiPassesStraightThrough) {
  const auto tok = Tokenizer::builtin();
  StreamDecoder d(tok);
  std::string out;
  for (TokenId id : tok->encode_ordinary("Hello, world! 123")) {
    const std::string piece = d.push(id);
    EXPECT_EQ(piece, tok->token_bytes(id));
    out += piece;
  }
  EXPECT_EQ(out, "Hello, world! 123");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, InvalidBytesAreNotLost) {
  const auto tok = Tokenizer::builtin();
  StreamDecoder d(tok);
  // A lone continuation byte can never become valid: out at once.
  EXPECT_EQ(d.push(id_of("\x80")), "\x80");
  // A lead byte waits; a following ASCII token shows it was invalid: both go out.
  EXPECT_EQ(d.push(id_of("\xE2")), "");
  EXPECT_EQ(d.push(id_of("a")), "\xE2" "a");
  // Two bytes of a three-byte character wait for the third.
  EXPECT_EQ(d.push(id_of("\xE2")), "");
  EXPECT_EQ(d.push(id_of("\x82")), "");
  EXPECT_EQ(d.push(id_of("\xAC")), "\xE2\x82\xAC");
  // At the end of the stream, flush returns what is still held.
  EXPECT_EQ(d.push(id_of("\xF0")), "");
  EXPECT_EQ(d.flush(), "\xF0");
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, ReplaceModeEmitsUfffdForInvalidBytes) {
  const auto tok = Tokenizer::builtin();
  StreamDecoder d(tok, StreamDecoder::Invalid::kReplace);
  EXPECT_EQ(d.push(id_of("\x80")), "\xEF\xBF\xBD");
  EXPECT_EQ(d.push(id_of("\xE2")), "");
  EXPECT_EQ(d.push(id_of("a")), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(d.push(id_of("\xE2")), "");
  EXPECT_EQ(d.push(id_of("\x82")), "");
  EXPECT_EQ(d.push(id_of("\xAC")), "\xE2\x82\xAC");
  EXPECT_EQ(d.push(id_of("\xF0")), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
}

TEST(StreamDecoder, ReplaceModeChunksEqualRepairingTheWholeStream) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(11);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<TokenId> ids(rng() % 30);
    for (auto& id : ids) id = static_cast<TokenId>(rng() % 3 == 0 ? rng() % 50257 : rng() % 256);
    StreamDecoder d(tok, StreamDecoder::Invalid::kReplace);
    std::string out;
    for (TokenId id : ids) {
      const std::string chunk = d.push(id);
      ASSERT_TRUE(gpt2::utf8::is_valid(chunk));
      out += chunk;
    }
    out += d.flush();
    std::string whole;
    gpt2::utf8::repair(tok->decode(ids), whole);
    ASSERT_EQ(out, whole);
  }
}

TEST(StreamDecoder, BadIdThrowsUsageError) {
  StreamDecoder d(Tokenizer::builtin());
  EXPECT_THROW(d.push(50257), gpt2::UsageError);
  EXPECT_THROW(d.push(-1), gpt2::UsageError);
}

TEST(StreamDecoder, RandomStreamsConcatenateToDecode) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(3);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<TokenId> ids(rng() % 30);
    // Mostly byte-level tokens (ids 0..255 and the 68 remapped bytes) to split characters often.
    for (auto& id : ids) id = static_cast<TokenId>(rng() % 3 == 0 ? rng() % 50257 : rng() % 256);
    StreamDecoder d(tok);
    std::string out;
    std::vector<TokenId> so_far;
    for (TokenId id : ids) {
      out += d.push(id);
      so_far.push_back(id);
      // What came out is final (a prefix of everything decoded so far), and at
      // most the 3 bytes of one unfinished character are held back.
      const std::string all = tok->decode(so_far);
      ASSERT_EQ(all.compare(0, out.size(), out), 0);
      const std::string held = all.substr(out.size());
      ASSERT_LE(held.size(), 3u);
      ASSERT_EQ(gpt2::utf8::incomplete_suffix_length(held), held.size());
    }
    out += d.flush();
    ASSERT_EQ(out, tok->decode(ids));
  }
}

TEST(StreamDecoder, TextRoundTripsThroughTheStream) {
  const auto tok = Tokenizer::builtin();
  const std::string text = "Grüße, 世界! \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7 done";
  StreamDecoder d(tok);
  std::string out;
  for (TokenId id : tok->encode_ordinary(text)) {
    const std::string piece = d.push(id);
    EXPECT_TRUE(gpt2::utf8::is_valid(piece));
    out += piece;
  }
  out += d.flush();
  EXPECT_EQ(out, text);
}
