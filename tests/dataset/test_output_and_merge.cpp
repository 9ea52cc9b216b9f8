// The resumable output file (torn lines, settings sidecar, lock) and merge_shards.
#include <gtest/gtest.h>

#include "gpt2/dataset/dataset_output.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/test_support.hpp"

namespace {

using namespace gpt2;
using nlohmann::json;

std::string rec(uint64_t id) { return "{\"id\": " + std::to_string(id) + ", \"text\": \"t" + std::to_string(id) + "\"}"; }

TEST(ResumableOutput, AppendsAndResumesAfterATornLine) {
  test::TempDir d("out");
  const auto f = d / "o.jsonl";
  const json settings = {{"seed", 1}, {"model", "m"}};
  {
    ResumableOutput out(f, settings);
    EXPECT_TRUE(out.done().empty());
    out.append({{0, rec(0)}, {2, rec(2)}});
  }
  // A crash in the middle of a record: a torn last line.
  test::write_file(f, test::read_file(f) + "{\"id\": 4, \"te");
  ResumableOutput again(f, settings);
  EXPECT_EQ(again.torn_bytes(), 13);
  EXPECT_TRUE(again.has(0));
  EXPECT_TRUE(again.has(2));
  EXPECT_FALSE(again.has(4));
  again.append({{4, rec(4)}});
  EXPECT_EQ(test::read_file(f), rec(0) + "\n" + rec(2) + "\n" + rec(4) + "\n");
}

TEST(ResumableOutput, OtherSettingsAreRefused) {
  test::TempDir d("out");
  const auto f = d / "o.jsonl";
  { ResumableOutput out(f, {{"seed", 1}, {"top_k", 40}}); }
  try {
    ResumableOutput out(f, {{"seed", 1}, {"top_k", 0}});
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("top_k: 40 there, 0 now"), std::string::npos) << e.what();
  }
}

TEST(ResumableOutput, OneWriterAtATimeAndBadRecordsNamed) {
  test::TempDir d("out");
  const auto f = d / "o.jsonl";
  ResumableOutput first(f, {{"seed", 1}});
  EXPECT_THROW(ResumableOutput(f, {{"seed", 1}}), IoError);
  test::TempDir e("out2");
  test::write_file(e / "x.jsonl", rec(1) + "\n" + rec(1) + "\n");
  // A file with records but no sidecar was not written by --output: refused.
  EXPECT_THROW(ResumableOutput(e / "x.jsonl", {{"seed", 1}}), UsageError);
  test::write_file(e / "x.jsonl.meta.json", "{\"settings\": {\"seed\": 1}}");
  try {
    ResumableOutput dup(e / "x.jsonl", {{"seed", 1}});
    FAIL() << "no error";
  } catch (const FormatError& err) {
    EXPECT_NE(std::string(err.what()).find("line 2: id 1 appears twice"), std::string::npos) << err.what();
  }
}

TEST(MergeShards, SortsChecksAndWritesAtomically) {
  test::TempDir d("merge");
  test::write_file(d / "s0", rec(0) + "\n" + rec(2) + "\n" + rec(4) + "\n");
  test::write_file(d / "s1", rec(3) + "\n" + rec(1) + "\n");
  const MergeReport r = merge_shards(d / "all.jsonl", {d / "s0", d / "s1"});
  EXPECT_EQ(r.records, 5);
  EXPECT_EQ(test::read_file(d / "all.jsonl"), rec(0) + "\n" + rec(1) + "\n" + rec(2) + "\n" + rec(3) + "\n" + rec(4) + "\n");
  // Missing ids (the expected count says 7), duplicates, torn files: refused, nothing written.
  try {
    merge_shards(d / "bad.jsonl", {d / "s0", d / "s1"}, 7);
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("2 of 7 ids are missing (5, 6)"), std::string::npos) << e.what();
  }
  test::write_file(d / "s2", rec(3) + "\n");
  EXPECT_THROW(merge_shards(d / "bad.jsonl", {d / "s0", d / "s1", d / "s2"}), FormatError);
  test::write_file(d / "s3", rec(5) + "\n{\"id\": 6");
  EXPECT_THROW(merge_shards(d / "bad.jsonl", {d / "s0", d / "s1", d / "s3"}), FormatError);
  EXPECT_FALSE(std::filesystem::exists(d / "bad.jsonl"));
}

TEST(MergeShards, ExpectedCountFromTheSidecars) {
  test::TempDir d("merge");
  { ResumableOutput a(d / "a", {{"total_samples", 3}, {"shard", "0/2"}}); a.append({{0, rec(0)}, {2, rec(2)}}); }
  { ResumableOutput b(d / "b", {{"total_samples", 3}, {"shard", "1/2"}}); }
  // Shard 1 has not produced id 1 yet: the sidecars say 3 samples.
  EXPECT_THROW(merge_shards(d / "all", {d / "a", d / "b"}), FormatError);
  { ResumableOutput b(d / "b", {{"total_samples", 3}, {"shard", "1/2"}}); b.append({{1, rec(1)}}); }
  EXPECT_EQ(merge_shards(d / "all", {d / "a", d / "b"}).records, 3);
}

}  // namespace
