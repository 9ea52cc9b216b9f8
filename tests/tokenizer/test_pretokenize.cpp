// Pre-tokenization: the re2 pattern (with the emulated look-ahead) must split
// text exactly as the released pattern does under Python's `regex` module.
// The first block is derived by hand from the pattern's semantics; the second
// was produced by the `regex` module running the released pattern.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pretokenize.hpp"

using namespace std::literals;

namespace {

struct Split {
  std::string_view text;
  std::vector<std::string_view> pieces;
};

std::vector<std::string> as_strings(const std::vector<std::string_view>& v) {
  return std::vector<std::string>(v.begin(), v.end());
}

void expect_splits(const std::vector<Split>& cases) {
  const gpt2::Pretokenizer p;
  for (const auto& c : cases) {
    EXPECT_EQ(as_strings(p.split(c.text)), as_strings(c.pieces)) << "text: '" << c.text << "'";
  }
}

}  // namespace

TEST(Pretokenize, HandDerived) {
  expect_splits({
      // A whitespace run followed by a non-space gives its last character away...
      {"a   b"sv, {"a"sv, "  "sv, " b"sv}},
      {"a  b"sv, {"a"sv, " "sv, " b"sv}},
      {"a b"sv, {"a"sv, " b"sv}},
      // ...and a single whitespace character that cannot join the next piece stays alone.
      {"a\nb"sv, {"a"sv, "\n"sv, "b"sv}},
      {"a \n b"sv, {"a"sv, " \n"sv, " b"sv}},
      {"a\n\n\tb"sv, {"a"sv, "\n\n"sv, "\t"sv, "b"sv}},
      // Only a space (not a tab or U+00A0) may lead a word, number or punctuation run.
      {"a  \tb"sv, {"a"sv, "  "sv, "\t"sv, "b"sv}},
      {"x\u00A0\u00A0y"sv, {"x"sv, "\u00A0"sv, "\u00A0"sv, "y"sv}},
      {"x\u3000\u3000\u3000y"sv, {"x"sv, "\u3000\u3000"sv, "\u3000"sv, "y"sv}},
      // Whitespace at the end of the text is one piece.
      {"hi   "sv, {"hi"sv, "   "sv}},
      {"hi \n\n"sv, {"hi"sv, " \n\n"sv}},
      // Contractions are case-sensitive and come before everything else.
      {"it's"sv, {"it"sv, "'s"sv}},
      {"IT'S"sv, {"IT"sv, "'"sv, "S"sv}},
      {"we'll"sv, {"we"sv, "'ll"sv}},
      {"WE'LL"sv, {"WE"sv, "'"sv, "LL"sv}},
      {"'sup"sv, {"'s"sv, "up"sv}},
      // Letters, numbers and other characters never mix; a space joins the run after it.
      {"abc123def"sv, {"abc"sv, "123"sv, "def"sv}},
      {" 1 + 1"sv, {" 1"sv, " +"sv, " 1"sv}},
      {"hello!!! world"sv, {"hello"sv, "!!!"sv, " world"sv}},
      // \p{N} is every number: fractions, Arabic-Indic digits and Roman numerals.
      {"a\u00BD\u0663\u216B"sv, {"a"sv, "\u00BD\u0663\u216B"sv}},
      // Combining marks are neither letters nor numbers.
      {"e\u0301x"sv, {"e"sv, "\u0301"sv, "x"sv}},
      // U+FEFF and U+200B are not whitespace.
      {"a\uFEFF b"sv, {"a"sv, "\uFEFF"sv, " b"sv}},
  });
}

TEST(Pretokenize, MatchesReleasedPattern) {
  expect_splits({
    {"hello world"sv, {"hello"sv, " world"sv}},
    {""sv, {}},
    {"a"sv, {"a"sv}},
    {"Z"sv, {"Z"sv}},
    {" "sv, {" "sv}},
    {"\n"sv, {"\n"sv}},
    {"\t"sv, {"\t"sv}},
    {"!"sv, {"!"sv}},
    {"0"sv, {"0"sv}},
    {"é"sv, {"é"sv}},
    {"中"sv, {"中"sv}},
    {"😀"sv, {"😀"sv}},
    {"\177"sv, {"\177"sv}},
    {"\0"
""sv, {"\0"
""sv}},
    {"~"sv, {"~"sv}},
    {"'s 't 're 've 'm 'll 'd"sv, {"'s"sv, " '"sv, "t"sv, " '"sv, "re"sv, " '"sv, "ve"sv, " '"sv, "m"sv, " '"sv, "ll"sv, " '"sv, "d"sv}},
    {"I'm"sv, {"I"sv, "'m"sv}},
    {"don't"sv, {"don"sv, "'t"sv}},
    {"they're"sv, {"they"sv, "'re"sv}},
    {"we've"sv, {"we"sv, "'ve"sv}},
    {"you'll"sv, {"you"sv, "'ll"sv}},
    {"he'd"sv, {"he"sv, "'d"sv}},
    {"it's"sv, {"it"sv, "'s"sv}},
    {"'S"sv, {"'"sv, "S"sv}},
    {"'LL"sv, {"'"sv, "LL"sv}},
    {"DON'T"sv, {"DON"sv, "'"sv, "T"sv}},
    {"IT'S"sv, {"IT"sv, "'"sv, "S"sv}},
    {"'st"sv, {"'s"sv, "t"sv}},
    {"''s"sv, {"''"sv, "s"sv}},
    {"'re'"sv, {"'re"sv, "'"sv}},
    {"rock'n'roll"sv, {"rock"sv, "'"sv, "n"sv, "'"sv, "roll"sv}},
    {"a   b"sv, {"a"sv, "  "sv, " b"sv}},
    {"  Hello"sv, {" "sv, " Hello"sv}},
    {"Hello  "sv, {"Hello"sv, "  "sv}},
    {"Hello\n\n"sv, {"Hello"sv, "\n\n"sv}},
    {"\t\tx"sv, {"\t"sv, "\t"sv, "x"sv}},
    {"a\t\tb"sv, {"a"sv, "\t"sv, "\t"sv, "b"sv}},
    {"line1\r\nline2"sv, {"line"sv, "1"sv, "\r"sv, "\n"sv, "line"sv, "2"sv}},
    {"a\r\n\r\nb"sv, {"a"sv, "\r\n\r"sv, "\n"sv, "b"sv}},
    {"a\u00A0b"sv, {"a"sv, "\u00A0"sv, "b"sv}},
    {"a\u00A0\u00A0b"sv, {"a"sv, "\u00A0"sv, "\u00A0"sv, "b"sv}},
    {"\u3000x"sv, {"\u3000"sv, "x"sv}},
    {"x\u3000\u3000y"sv, {"x"sv, "\u3000"sv, "\u3000"sv, "y"sv}},
    {"a \n b"sv, {"a"sv, " \n"sv, " b"sv}},
    {" \n"sv, {" \n"sv}},
    {"\n\n\nHello"sv, {"\n\n"sv, "\n"sv, "Hello"sv}},
    {"a  \tb"sv, {"a"sv, "  "sv, "\t"sv, "b"sv}},
    {"   "sv, {"   "sv}},
    {"x\u2028y"sv, {"x"sv, "\u2028"sv, "y"sv}},
    {"\u00A0"sv, {"\u00A0"sv}},
    {"a\u0085b"sv, {"a"sv, "\u0085"sv, "b"sv}},
    {"a\uFEFFb"sv, {"a"sv, "\uFEFF"sv, "b"sv}},
    {"a\u200Bb"sv, {"a"sv, "\u200B"sv, "b"sv}},
    {"x \u00A0 y"sv, {"x"sv, " \u00A0"sv, " y"sv}},
    {"a\v\fb"sv, {"a"sv, "\v"sv, "\f"sv, "b"sv}},
    {"end \n"sv, {"end"sv, " \n"sv}},
    {"12345678901234567890"sv, {"12345678901234567890"sv}},
    {"3.14159"sv, {"3"sv, "."sv, "14159"sv}},
    {"٣٤٥"sv, {"٣٤٥"sv}},
    {"½"sv, {"½"sv}},
    {"Ⅻ"sv, {"Ⅻ"sv}},
    {"१२३"sv, {"१२३"sv}},
    {"x²"sv, {"x"sv, "²"sv}},
    {"1,000,000"sv, {"1"sv, ","sv, "000"sv, ","sv, "000"sv}},
    {" 42"sv, {" 42"sv}},
    {"a1b2"sv, {"a"sv, "1"sv, "b"sv, "2"sv}},
    {"!!!"sv, {"!!!"sv}},
    {"..."sv, {"..."sv}},
    {"?!?!"sv, {"?!?!"sv}},
    {"--->"sv, {"--->"sv}},
    {"a...b"sv, {"a"sv, "..."sv, "b"sv}},
    {"(foo)"sv, {"("sv, "foo"sv, ")"sv}},
    {"=="sv, {"=="sv}},
    {"// comment"sv, {"//"sv, " comment"sv}},
    {"#include <stdio.h>"sv, {"#"sv, "include"sv, " <"sv, "stdio"sv, "."sv, "h"sv, ">"sv}},
    {" $$$ "sv, {" $$$"sv, " "sv}},
    {"日本語のテキスト"sv, {"日本語のテキスト"sv}},
    {"中文分词测试"sv, {"中文分词测试"sv}},
    {"한국어"sv, {"한국어"sv}},
    {"مرحبا بالعالم"sv, {"مرحبا"sv, " بالعالم"sv}},
    {"नमस\u094Dत\u0947 द\u0941निया"sv, {"नमस"sv, "\u094D"sv, "त"sv, "\u0947"sv, " द"sv, "\u0941"sv, "न"sv, "ि"sv, "य"sv, "ा"sv}},
    {"क\u093Cिताब"sv, {"क"sv, "\u093Cि"sv, "त"sv, "ा"sv, "ब"sv}},
    {"e\u0301"sv, {"e"sv, "\u0301"sv}},
    {"Ame\u0301lie"sv, {"Ame"sv, "\u0301"sv, "lie"sv}},
    {"👨\u200D👩\u200D👧\u200D👦"sv, {"👨\u200D👩\u200D👧\u200D👦"sv}},
    {"👍🏽"sv, {"👍🏽"sv}},
    {"🇺🇸🇫🇷"sv, {"🇺🇸🇫🇷"sv}},
    {"🏳\uFE0F\u200D🌈"sv, {"🏳\uFE0F\u200D🌈"sv}},
    {"1\uFE0F\u20E3"sv, {"1"sv, "\uFE0F\u20E3"sv}},
    {"<|endoftext|>"sv, {"<|"sv, "endoftext"sv, "|>"sv}},
    {"a<|endoftext|>b"sv, {"a"sv, "<|"sv, "endoftext"sv, "|>"sv, "b"sv}},
    {"def f(x):\n    return x**2\n"sv, {"def"sv, " f"sv, "("sv, "x"sv, "):"sv, "\n   "sv, " return"sv, " x"sv, "**"sv, "2"sv, "\n"sv}},
  });
}

TEST(Pretokenize, PiecesCoverTextOnRandomInput) {
  const gpt2::Pretokenizer p;
  const std::vector<std::string> alphabet = {"a", "Z", "0", "'", "s", " ", "\t", "\n", "\r", ".", "!",
                                             "\u00A0", "\u3000", "\u2028", "\u0301", "\u4E2D", "\U0001F600",
                                             "\u200D", "\u0663", "\u00BD"};
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    std::string joined;
    for (auto piece : p.split(text)) {
      ASSERT_FALSE(piece.empty());
      joined += piece;
    }
    ASSERT_EQ(joined, text);
  }
}

TEST(Pretokenize, WhiteSpaceIsExactlyUnicodeWhiteSpace) {
  int count = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) count += gpt2::Pretokenizer::is_space(cp) ? 1 : 0;
  EXPECT_EQ(count, 25);
  for (char32_t cp : {0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029,
                      0x202F, 0x205F, 0x3000}) {
    EXPECT_TRUE(gpt2::Pretokenizer::is_space(cp)) << std::hex << static_cast<unsigned>(cp);
  }
  for (char32_t cp : {0x1C, 0x1F, 0x200B, 0xFEFF, 0x180E}) {
    EXPECT_FALSE(gpt2::Pretokenizer::is_space(cp)) << std::hex << static_cast<unsigned>(cp);
  }
}
