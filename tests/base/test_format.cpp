// The text helpers every area shares (gpt2/base/format.hpp), on written-out values.
#include <gtest/gtest.h>

#include <string>

#include "gpt2/base/format.hpp"

TEST(Format, StrprintfFormatsAnyLength) {
  EXPECT_EQ(gpt2::strprintf("%.3f", 1.23456), "1.235");
  EXPECT_EQ(gpt2::strprintf("%+.4f|%6.0f|%s", -0.5, 12.0, "x"), "-0.5000|    12|x");
  const std::string long_one = gpt2::strprintf("%0300d", 7);  // longer than any fixed buffer
  EXPECT_EQ(long_one.size(), 300u);
  EXPECT_EQ(long_one.back(), '7');
  EXPECT_EQ(gpt2::strprintf("%s", ""), "");
}

TEST(Format, HtmlEscapeCoversTextAndAttributes) {
  EXPECT_EQ(gpt2::html_escape(R"(<a href="x">Tom & 'Jerry'</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;");
  EXPECT_EQ(gpt2::html_escape("plain text"), "plain text");
}

TEST(Format, Bytes) {
  EXPECT_EQ(gpt2::format_bytes(0), "0 B");
  EXPECT_EQ(gpt2::format_bytes(1023), "1023 B");
  EXPECT_EQ(gpt2::format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(gpt2::format_bytes(497759232), "474.7 MiB");
  EXPECT_EQ(gpt2::format_bytes(int64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(gpt2::format_bytes(-1), "?");
  EXPECT_EQ(gpt2::format_grouped(1234567), "1,234,567");
  EXPECT_EQ(gpt2::format_grouped(-1234), "-1,234");
}

TEST(Format, DurationsAndShapes) {
  EXPECT_EQ(gpt2::format_duration(7.2), "7s");
  EXPECT_EQ(gpt2::format_duration(125), "2m05s");
  EXPECT_EQ(gpt2::format_duration(3720), "1h02m");
  EXPECT_EQ(gpt2::format_duration(-1), "--");
  EXPECT_EQ(gpt2::shape_string({1, 768, 2304}), "[1, 768, 2304]");
  EXPECT_EQ(gpt2::shape_string({}), "[]");
}

TEST(Format, RandomSeedsHave53Bits) {
  uint64_t any_high = 0;
  for (int i = 0; i < 64; ++i) {
    const uint64_t s = gpt2::random_seed53();
    EXPECT_LT(s, uint64_t{1} << 53);
    any_high |= s >> 40;
  }
  EXPECT_NE(any_high, 0u);  // not stuck in the low bits
}
