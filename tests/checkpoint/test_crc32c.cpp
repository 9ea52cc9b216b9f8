#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gpt2/checkpoint/crc32c.hpp"

namespace {

// Bit-at-a-time reference.
uint32_t reference_crc32c(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

TEST(Crc32c, KnownVectors) {
  const std::string check = "123456789";
  EXPECT_EQ(gpt2::crc32c::value(check.data(), check.size()), 0xe3069283u);
  EXPECT_EQ(gpt2::crc32c::value("", 0), 0u);
  const std::vector<uint8_t> zeros(32, 0);  // RFC 3720 B.4 test vectors
  EXPECT_EQ(gpt2::crc32c::value(zeros.data(), zeros.size()), 0x8a9136aau);
  const std::vector<uint8_t> ones(32, 0xff);
  EXPECT_EQ(gpt2::crc32c::value(ones.data(), ones.size()), 0x62a8ab43u);
}

TEST(Crc32c, MatchesReferenceAtEveryLengthAndSplit) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(1000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t n : {0, 1, 3, 7, 8, 9, 15, 16, 63, 64, 65, 999, 1000}) {
    const uint32_t want = reference_crc32c(buf.data(), n);
    EXPECT_EQ(gpt2::crc32c::value(buf.data(), n), want) << n;
    const size_t half = n / 3;
    EXPECT_EQ(gpt2::crc32c::extend(gpt2::crc32c::value(buf.data(), half), buf.data() + half, n - half), want) << n;
  }
}

TEST(Crc32c, MaskRoundTrips) {
  for (uint32_t c : {0u, 1u, 0x8c273d74u, 0xffffffffu, 0x12345678u}) {
    EXPECT_EQ(gpt2::crc32c::unmask(gpt2::crc32c::mask(c)), c);
    EXPECT_NE(gpt2::crc32c::mask(c), c);
  }
}

}  // namespace
