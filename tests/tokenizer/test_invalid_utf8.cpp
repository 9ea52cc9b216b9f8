// Invalid UTF-8 input is never an error: each maximal ill-formed subsequence
// becomes U+FFFD, exactly as Python's bytes.decode("utf-8", errors="replace")
// reads it before the released encoder sees the text. The expected repaired
// bytes and ids below come from Python (decode with "replace", then the
// released encoder), independently of this implementation.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"
#include "tokenizer/utf8.hpp"

using namespace std::literals;
using gpt2::TokenId;
using gpt2::Tokenizer;

namespace {

struct InvalidCase {
  std::string_view input;
  std::string_view repaired;
  std::size_t replacements;
  std::vector<TokenId> ids;
};

const std::vector<InvalidCase>& invalid_cases() {
  static const std::vector<InvalidCase> c = {
    {"\377"sv, "\357\277\275"sv, 1, {4210}},
    {"abc\200def"sv, "abc\357\277\275def"sv, 1, {39305, 4210, 4299}},
    {"\342\202"sv, "\357\277\275"sv, 1, {4210}},
    {"\342\202a"sv, "\357\277\275a"sv, 1, {4210, 64}},
    {"\355\240\200"sv, "\357\277\275\357\277\275\357\277\275"sv, 3, {48585}},
    {"\300\257"sv, "\357\277\275\357\277\275"sv, 2, {6353}},
    {"\360\237\230"sv, "\357\277\275"sv, 1, {4210}},
    {"\360\237\230 ok"sv, "\357\277\275 ok"sv, 1, {4210, 12876}},
    {"\364\220\200\200"sv, "\357\277\275\357\277\275\357\277\275\357\277\275"sv, 4, {12100}},
    {"\370\210\200\200\200"sv, "\357\277\275\357\277\275\357\277\275\357\277\275\357\277\275"sv, 5, {12100, 4210}},
    {"hello \376\377 world"sv, "hello \357\277\275\357\277\275 world"sv, 2, {31373, 220, 6353, 995}},
    {"\340\200\257"sv, "\357\277\275\357\277\275\357\277\275"sv, 3, {48585}},
    {"\360\200\200\200"sv, "\357\277\275\357\277\275\357\277\275\357\277\275"sv, 4, {12100}},
    {"caf\351"sv, "caf\357\277\275"sv, 1, {66, 1878, 4210}},
    {"a\303"sv, "a\357\277\275"sv, 1, {64, 4210}},
    {"\200\200\200"sv, "\357\277\275\357\277\275\357\277\275"sv, 3, {48585}},
    {"\342(\241"sv, "\357\277\275(\357\277\275"sv, 2, {4210, 7, 4210}},
    {"\357\273\277 BOM"sv, "\357\273\277 BOM"sv, 0, {171, 119, 123, 347, 2662}},
  };
  return c;
}

}  // namespace

TEST(InvalidUtf8, RepairMatchesPythonReplace) {
  for (const auto& c : invalid_cases()) {
    std::string out;
    EXPECT_EQ(gpt2::utf8::repair(c.input, out), c.replacements) << testing::PrintToString(c.input);
    EXPECT_EQ(out, c.repaired) << testing::PrintToString(c.input);
    EXPECT_EQ(gpt2::utf8::is_valid(c.input), c.replacements == 0);
    EXPECT_EQ(Tokenizer::invalid_utf8_sequences(c.input), c.replacements);
  }
}

TEST(InvalidUtf8, EncodesLikeTheReleasedEncoderOnTheRepairedText) {
  const auto tok = Tokenizer::builtin();
  for (const auto& c : invalid_cases()) {
    EXPECT_EQ(tok->encode_ordinary(c.input), c.ids) << testing::PrintToString(c.input);
    EXPECT_EQ(tok->decode(c.ids), c.repaired) << testing::PrintToString(c.input);
  }
}

TEST(InvalidUtf8, RandomBytesNeverCrashAndDecodeToTheRepairedText) {
  const auto tok = Tokenizer::builtin();
  std::mt19937 rng(2024);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes(rng() % 40, '\0');
    for (auto& b : bytes) {
      // Bias towards bytes that form (or almost form) multi-byte sequences.
      const unsigned r = rng() % 4;
      b = static_cast<char>(r == 0 ? rng() % 0x80 : r == 1 ? 0x80 + rng() % 0x40 : 0xC0 + rng() % 0x40);
    }
    std::string repaired;
    gpt2::utf8::repair(bytes, repaired);
    ASSERT_TRUE(gpt2::utf8::is_valid(repaired));
    std::vector<TokenId> ids;
    ASSERT_NO_THROW(ids = tok->encode(bytes, true));
    ASSERT_EQ(tok->decode(ids), repaired);
    ASSERT_EQ(ids, tok->encode_ordinary(repaired));
  }
}

TEST(Utf8, CharLengthFollowsTheUnicodeTable) {
  using gpt2::utf8::char_length;
  EXPECT_EQ(char_length("a"sv, 0), 1u);
  EXPECT_EQ(char_length("\xC3\xA9"sv, 0), 2u);
  EXPECT_EQ(char_length("\xE2\x82\xAC"sv, 0), 3u);
  EXPECT_EQ(char_length("\xF0\x9F\x98\x80"sv, 0), 4u);
  EXPECT_EQ(char_length("\xC1\xBF"sv, 0), 0u);          // overlong
  EXPECT_EQ(char_length("\xE0\x9F\xBF"sv, 0), 0u);      // overlong
  EXPECT_EQ(char_length("\xED\xA0\x80"sv, 0), 0u);      // surrogate
  EXPECT_EQ(char_length("\xF4\x90\x80\x80"sv, 0), 0u);  // above U+10FFFF
  EXPECT_EQ(char_length("\xE2\x82"sv, 0), 0u);          // truncated
}

TEST(Utf8, IncompleteSuffix) {
  using gpt2::utf8::incomplete_suffix_length;
  EXPECT_EQ(incomplete_suffix_length(""sv), 0u);
  EXPECT_EQ(incomplete_suffix_length("abc"sv), 0u);
  EXPECT_EQ(incomplete_suffix_length("a\xE2"sv), 1u);
  EXPECT_EQ(incomplete_suffix_length("a\xE2\x82"sv), 2u);
  EXPECT_EQ(incomplete_suffix_length("a\xE2\x82\xAC"sv), 0u);
  EXPECT_EQ(incomplete_suffix_length("\xF0\x9F\x98"sv), 3u);
  EXPECT_EQ(incomplete_suffix_length("\xF0\x9F\x98\x80"sv), 0u);
  EXPECT_EQ(incomplete_suffix_length("\x80"sv), 0u);      // a stray continuation byte can never complete
  EXPECT_EQ(incomplete_suffix_length("\xE0\x80"sv), 0u);  // E0 80 is already invalid
  EXPECT_EQ(incomplete_suffix_length("\xED\xA0"sv), 0u);  // would be a surrogate
  EXPECT_EQ(incomplete_suffix_length("\xFF"sv), 0u);
}
