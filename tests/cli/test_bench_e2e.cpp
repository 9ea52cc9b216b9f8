// `gpt2 bench` end to end on the tiny-ref fixture (fast: a few tokens, one run).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/in_process.hpp"
#include "support/test_support.hpp"

namespace {

using gpt2::test::data_dir;
using gpt2::test::run_gpt2;

TEST(BenchE2E, JsonReportOnTinyRef) {
  auto r = run_gpt2({"bench", "--model", (data_dir() / "tiny-ref").string(), "--reps", "2", "--tokens", "5",
                     "--prompt", "8,100", "--batch", "1,3", "--threads", "1", "--accuracy", "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["dtype"], "float32");
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["hparams"]["n_embd"], 24);
  EXPECT_FALSE(j["random_weights"].get<bool>());
  // 100 > n_ctx 64: skipped with a note.
  ASSERT_EQ(j["prompt"].size(), 1u);
  EXPECT_EQ(j["prompt"][0]["tokens"], 8);
  EXPECT_EQ(j["prompt"][0]["tokens_per_s"]["values"].size(), 2u);
  EXPECT_GT(j["prompt"][0]["tokens_per_s"]["median"].get<double>(), 0.0);
  EXPECT_FALSE(j["notes"].empty());
  ASSERT_EQ(j["decode"].size(), 2u);
  EXPECT_EQ(j["decode"][1]["batch"], 3);
  EXPECT_EQ(j["decode"][1]["steps"], 5);
  const double tps = j["decode"][0]["tokens_per_s"]["median"];
  const double gbs = j["decode"][0]["weight_gb_per_s"]["median"];
  const double bytes = j["weight_bytes_per_step"];
  EXPECT_GT(tps, 0.0);
  EXPECT_NEAR(gbs, bytes * tps / 1e9, 1e-6 * bytes * tps / 1e9 + 1e-9);  // batch 1: steps/s == tok/s
  EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0.0);
  // float32 kernels against the libtorch reference: tiny error, same greedy tokens.
  EXPECT_LT(j["accuracy"]["rel_logit_error"].get<double>(), 1e-5);
  EXPECT_EQ(j["accuracy"]["teacher_forced_agreement"].get<double>(), 1.0);
}

TEST(BenchE2E, TextReportWithInt8) {
  auto r = run_gpt2({"bench", "--model", (data_dir() / "tiny-ref").string(), "--dtype", "int8", "--reps", "1",
                     "--tokens", "3", "--prompt", "4", "--batch", "1", "--threads", "1", "--accuracy"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("int8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode     batch   1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("relative logit error"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("bench: decode batch 1"), std::string::npos) << r.err;  // progress lines
}

TEST(BenchE2E, BadOptions) {
  const std::string tiny = (data_dir() / "tiny-ref").string();
  auto r = run_gpt2({"bench", "--model", tiny, "--dtype", "float16"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("float16"), std::string::npos) << r.err;
  r = gpt2::test::run_in_process({"bench", "--model", tiny, "--random", "124M"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--random"), std::string::npos) << r.err;
  r = gpt2::test::run_in_process({"bench", "--random", "7B"});
  EXPECT_EQ(r.exit_code, 2);
  r = gpt2::test::run_in_process({"bench", "--model", tiny, "--reps", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--reps"), std::string::npos) << r.err;
  r = gpt2::test::run_in_process({"bench", "--model", tiny, "--batch", "0"});
  EXPECT_EQ(r.exit_code, 2);
  r = gpt2::test::run_in_process({"bench", "--model", (data_dir() / "no-such-model").string()});
  EXPECT_EQ(r.exit_code, 3);
}

}  // namespace

TEST(BenchE2E, DecodeFromALongContext) {
  // tiny-ref: n_ctx 64. From position 60 only 4 steps fit: capped with a note.
  auto r = run_gpt2({"bench", "--model", (data_dir() / "tiny-ref").string(), "--dtype", "int4", "--reps", "1",
                     "--tokens", "10", "--context", "60", "--prompt", "4", "--batch", "1,2", "--threads", "1",
                     "--json", "-q"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["decode"].size(), 2u);
  EXPECT_EQ(j["decode"][1]["context"], 60);
  EXPECT_EQ(j["decode"][1]["steps"], 4);
  EXPECT_EQ(j["dtype"], "int4");
  EXPECT_FALSE(j["notes"].empty());
  // A context that leaves no room is refused, naming the option.
  auto bad = run_gpt2({"bench", "--model", (data_dir() / "tiny-ref").string(), "--context", "64", "--reps", "1"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--context must be 1..63"), std::string::npos) << bad.err;
}
