// The corpus summary of score records (gpt2/score/score_summary.hpp) against
// written-out formulas on hand-made records: sums, token-weighted perplexity,
// mean log-rank, bucket shares, the perplexity histogram's bins, the same
// result whatever order the records arrive in, and bad records named.
#include <gtest/gtest.h>

#include <cmath>

#include "gpt2/base/errors.hpp"
#include "gpt2/score/score_summary.hpp"

namespace {

using gpt2::CorpusSummary;
using gpt2::SummaryBuilder;

// record 2: 4 tokens, buckets 1/1/0/2; record 0: 2 tokens, buckets 1/1/0/0.
const char* kRecord2 =
    R"({"record": 2, "id": "b", "tokens_scored": 4, "bytes": 10, "nll": 8.0, "perplexity": 7.38905609893065,)"
    R"( "mean_log_rank": 1.5, "buckets": {"10": 0.25, "100": 0.25, "1000": 0.0, "rest": 0.5}})";
const char* kRecord0 =
    R"({"record": 0, "tokens_scored": 2, "bytes": 5, "nll": 2.0, "perplexity": 2.718281828459045,)"
    R"( "mean_log_rank": 0.5, "buckets": {"10": 0.5, "100": 0.5, "1000": 0.0, "rest": 0.0}})";

TEST(CorpusSummary, FiguresByTheFormulas) {
  SummaryBuilder b;
  b.add_line(kRecord2, "f line 1");
  b.add_line(kRecord0, "f line 2");
  const CorpusSummary s = b.summary();
  EXPECT_EQ(s.documents, 2);
  EXPECT_EQ(s.tokens, 6);
  EXPECT_EQ(s.bytes, 15);
  EXPECT_DOUBLE_EQ(s.nll, 10.0);
  EXPECT_DOUBLE_EQ(s.mean_nll(), 10.0 / 6);
  EXPECT_DOUBLE_EQ(s.perplexity(), std::exp(10.0 / 6));
  EXPECT_DOUBLE_EQ(s.bits_per_byte(), 10.0 / std::log(2.0) / 15);
  EXPECT_DOUBLE_EQ(s.mean_log_rank(), (1.5 * 4 + 0.5 * 2) / 6);
  EXPECT_EQ(s.buckets, (std::array<int64_t, 4>{2, 2, 0, 2}));
  EXPECT_DOUBLE_EQ(s.bucket_share(3), 2.0 / 6);
  // log10(e^2) x 4 = 3.47 -> bin 3; log10(e) x 4 = 1.74 -> bin 1.
  for (int i = 0; i < gpt2::kSummaryBins; ++i) EXPECT_EQ(s.histogram[static_cast<size_t>(i)], i == 1 || i == 3 ? 1 : 0) << i;
  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j["documents"], 2);
  ASSERT_EQ(j["perplexity_histogram"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["perplexity_histogram"][0]["from"].get<double>(), std::pow(10.0, 0.25));
  EXPECT_DOUBLE_EQ(j["perplexity_histogram"][0]["to"].get<double>(), std::pow(10.0, 0.5));
}

TEST(CorpusSummary, BinsAtTheEdges) {
  EXPECT_EQ(CorpusSummary::bin_of(1.0), 0);
  EXPECT_EQ(CorpusSummary::bin_of(0.5), 0);
  EXPECT_EQ(CorpusSummary::bin_of(std::nan("")), 0);
  EXPECT_EQ(CorpusSummary::bin_of(10.5), 4);
  EXPECT_EQ(CorpusSummary::bin_of(50257.0), 18);  // log10 = 4.70
  EXPECT_EQ(CorpusSummary::bin_of(1e9), gpt2::kSummaryBins - 1);
}

TEST(CorpusSummary, SameResultInAnyOrder) {
  SummaryBuilder a, b;
  a.add_line(kRecord0, "x");
  a.add_line(kRecord2, "x");
  b.add_line(kRecord2, "y");
  b.add_line(kRecord0, "y");
  EXPECT_EQ(a.summary().to_json().dump(), b.summary().to_json().dump());
}

TEST(CorpusSummary, BadRecordsAreNamed) {
  SummaryBuilder b;
  b.add_line(kRecord0, "f line 1");
  try {
    b.add_line(kRecord0, "g line 7");
    FAIL() << "no error";
  } catch (const gpt2::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("g line 7: record 0 appears twice"), std::string::npos) << e.what();
  }
  try {
    b.add_line(R"({"record": 5, "tokens_scored": 1})", "g line 8");
    FAIL() << "no error";
  } catch (const gpt2::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("g line 8"), std::string::npos) << e.what();
  }
  EXPECT_THROW(b.add_line(R"({"id": 5})", "g line 9"), gpt2::FormatError);
  EXPECT_THROW(b.add_line("{not json", "g line 10"), gpt2::FormatError);
}

}  // namespace
