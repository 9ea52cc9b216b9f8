// Dataset-scale generation through the real binary: the released dataset's
// records, shards (explicit, Slurm, Kubernetes) reproducing one process byte
// for byte at any batch sizes, kill-and-resume with nothing lost or doubled,
// merge-shards, prompt files, and the errors.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "cli/in_process.hpp"
#include "support/test_support.hpp"

using gpt2::test::run_gpt2;
using gpt2::test::TempDir;
using nlohmann::json;

namespace {

using gpt2::test::tiny_ref;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> unconditional(const std::vector<std::string>& extra) {
  std::vector<std::string> a = {"sample-unconditional", "--model", tiny_ref(), "--nsamples", "12", "--length", "16",
                                "--seed", "5", "--format", "dataset", "--top-k", "40"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// One process, everything, to stdout: the reference.
std::string reference_unconditional() {
  auto r = run_gpt2(unconditional({"--batch-size", "4"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out;
}

TEST(DatasetE2E, RecordsAreTheReleasedDatasetsFormat) {
  const auto recs = lines_of(reference_unconditional());
  ASSERT_EQ(recs.size(), 12u);
  for (size_t i = 0; i < recs.size(); ++i) {
    json j = json::parse(recs[i]);
    EXPECT_EQ(j.size(), 4u) << recs[i];
    EXPECT_EQ(j["id"], i);
    EXPECT_TRUE(j["ended"].is_boolean());
    EXPECT_TRUE(j["length"].is_number_integer());
    EXPECT_TRUE(j["text"].is_string());
    EXPECT_EQ(recs[i].rfind("{\"id\": " + std::to_string(i) + ", \"ended\": ", 0), 0u) << recs[i];  // field order
    if (j["ended"] == false) EXPECT_EQ(j["length"], 16);
  }
}

TEST(DatasetE2E, ShardsAtAnyBatchSizeReproduceOneProcess) {
  const std::string want = reference_unconditional();
  TempDir d("shards");
  const std::vector<std::pair<std::string, std::string>> runs = {{"0/3", "1"}, {"1/3", "5"}, {"2/3", "2"}};
  std::vector<std::string> files;
  for (const auto& [shard, batch] : runs) {
    const std::string f = (d / ("s" + shard.substr(0, 1) + ".jsonl")).string();
    auto r = run_gpt2(unconditional({"--shard", shard, "--batch-size", batch, "--output", f}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");
    files.push_back(f);
  }
  std::vector<std::string> merge = {"merge-shards", (d / "all.jsonl").string()};
  merge.insert(merge.end(), files.begin(), files.end());
  auto m = run_gpt2(merge);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(gpt2::test::read_file(d / "all.jsonl"), want);
}

TEST(DatasetE2E, SlurmAndKubernetesArraysReproduceOneProcess) {
  const std::string want = reference_unconditional();
  TempDir d("arrays");
  // Slurm: sbatch --array=10-11 -> task ids 10, 11 with min 10, count 2.
  std::vector<std::string> slurm_files;
  for (int task : {10, 11}) {
    gpt2::test::ProcOptions env;
    env.env = {{"SLURM_ARRAY_TASK_ID", std::to_string(task)}, {"SLURM_ARRAY_TASK_MIN", "10"},
               {"SLURM_ARRAY_TASK_COUNT", "2"}};
    const std::string f = (d / ("slurm" + std::to_string(task))).string();
    auto r = run_gpt2(unconditional({"--shard", "auto", "--batch-size", "3", "--output", f}), env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard " + std::to_string(task - 10) + "/2"), std::string::npos) << r.err;
    slurm_files.push_back(f);
  }
  auto m = run_gpt2({"merge-shards", (d / "slurm.jsonl").string(), slurm_files[0], slurm_files[1]});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(gpt2::test::read_file(d / "slurm.jsonl"), want);
  // Kubernetes Indexed Job: JOB_COMPLETION_INDEX of GPT2_SHARD_COUNT.
  std::vector<std::string> k8s = {"merge-shards", (d / "k8s.jsonl").string()};
  for (int index = 0; index < 4; ++index) {
    gpt2::test::ProcOptions env;
    env.env = {{"JOB_COMPLETION_INDEX", std::to_string(index)}, {"GPT2_SHARD_COUNT", "4"}};
    const std::string f = (d / ("k8s" + std::to_string(index))).string();
    auto r = run_gpt2(unconditional({"--shard", "auto", "--batch-size", "2", "--output", f}), env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    k8s.push_back(f);
  }
  auto k = run_gpt2(k8s);
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_EQ(gpt2::test::read_file(d / "k8s.jsonl"), want);
  // Neither set: a clear error.
  auto none = run_gpt2(unconditional({"--shard", "auto"}));
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("neither Slurm"), std::string::npos) << none.err;
}

TEST(DatasetE2E, KillAndResumeLosesAndDoublesNothing) {
  TempDir d("resume");
  const std::vector<std::string> args = {"sample-unconditional", "--model", tiny_ref(), "--nsamples", "40",
                                         "--length", "30", "--seed", "8", "--format", "dataset", "--ignore-eot",
                                         "--batch-size", "2", "--output", (d / "out.jsonl").string()};
  auto ref = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "40", "--length", "30", "--seed",
                       "8", "--format", "dataset", "--ignore-eot", "--batch-size", "7"});
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  gpt2::test::kill_gpt2_after_lines(args, d / "out.jsonl", 4);
  const std::string killed = gpt2::test::read_file(d / "out.jsonl");
  const auto before = std::count(killed.begin(), killed.end(), '\n');  // whole records
  // A torn last record, as a crash in the middle of a write leaves.
  gpt2::test::write_file(d / "out.jsonl", gpt2::test::read_file(d / "out.jsonl") + "{\"id\": 39, \"ended\": fa");
  std::vector<std::string> rerun = args;
  rerun.erase(rerun.begin() + 7, rerun.begin() + 9);  // the same command without --seed: the sidecar's seed is used
  auto r = run_gpt2(rerun);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cut a torn last record"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(before) + " already done"), std::string::npos) << r.err;
  std::set<int64_t> ids;
  for (const auto& l : lines_of(gpt2::test::read_file(d / "out.jsonl"))) EXPECT_TRUE(ids.insert(json::parse(l)["id"].get<int64_t>()).second);
  EXPECT_EQ(ids.size(), 40u);
  auto m = run_gpt2({"merge-shards", (d / "sorted.jsonl").string(), (d / "out.jsonl").string()});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(gpt2::test::read_file(d / "sorted.jsonl"), ref.out);
  // Other settings on the same file are refused.
  std::vector<std::string> other = args;
  other[8] = "9";  // --seed 9
  auto bad = run_gpt2(other);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("seed"), std::string::npos) << bad.err;
}

TEST(DatasetE2E, PromptFilesShardByPromptAndCarryPromptIds) {
  TempDir d("prompts");
  gpt2::test::write_file(d / "p.jsonl",
                         "{\"id\": \"a\", \"prompt\": \"Hello, my dog\"}\n{\"prompt\": \"The cat sat on\"}\n"
                         "{\"id\": 9, \"prompt\": \"One two three\"}\n");
  auto base = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"generate", "--model", tiny_ref(), "--prompts", (d / "p.jsonl").string(),
                                  "--nsamples", "3", "--length", "12", "--seed", "4", "--format", "dataset"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  auto one = run_gpt2(base({"--batch-size", "4"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto recs = lines_of(one.out);
  ASSERT_EQ(recs.size(), 9u);
  std::map<int64_t, json> by_id;
  for (const auto& l : recs) {
    json j = json::parse(l);
    by_id[j["id"]] = j;
  }
  EXPECT_EQ(by_id[0]["prompt_id"], "a");
  EXPECT_EQ(by_id[4]["prompt_id"], 1);  // no id: the 0-based line number
  EXPECT_EQ(by_id[8]["prompt_id"], 9);
  std::vector<std::string> merge = {"merge-shards", (d / "all").string()};
  for (int i = 0; i < 2; ++i) {
    const std::string f = (d / ("s" + std::to_string(i))).string();
    auto r = run_gpt2(base({"--shard", std::to_string(i) + "/2", "--batch-size", i == 0 ? "1" : "3", "--output", f}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    merge.push_back(f);
  }
  ASSERT_EQ(run_gpt2(merge).exit_code, 0);
  std::vector<std::string> merged = lines_of(gpt2::test::read_file(d / "all"));
  ASSERT_EQ(merged.size(), 9u);
  for (size_t i = 0; i < merged.size(); ++i) EXPECT_EQ(json::parse(merged[i]), by_id[static_cast<int64_t>(i)]);
  // Shard 0 of 2 owns prompts 0 and 2 (ids 0-2 and 6-8).
  std::set<int64_t> s0;
  for (const auto& l : lines_of(gpt2::test::read_file(d / "s0"))) s0.insert(json::parse(l)["id"].get<int64_t>());
  EXPECT_EQ(s0, (std::set<int64_t>{0, 1, 2, 6, 7, 8}));
}

TEST(DatasetE2E, BadInputIsNamed) {
  TempDir d("bad");
  gpt2::test::write_file(d / "p.jsonl", "{\"prompt\": \"ok\"}\n{\"id\": 2}\n");
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompts", (d / "p.jsonl").string(), "--format", "dataset"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("p.jsonl line 2: no string field \"prompt\""), std::string::npos) << r.err;
  auto s = gpt2::test::run_in_process(unconditional({"--shard", "3/3"}));
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.err.find("--shard"), std::string::npos) << s.err;
  auto p = gpt2::test::run_in_process(unconditional({"--repetition-penalty", "0"}));
  EXPECT_EQ(p.exit_code, 2);
  EXPECT_NE(p.err.find("--repetition-penalty"), std::string::npos) << p.err;
  auto b = gpt2::test::run_in_process(unconditional({"--logit-bias", "50257=1"}));
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("outside the vocabulary"), std::string::npos) << b.err;
  auto o = gpt2::test::run_in_process(unconditional({"--output", (d / "x").string(), "--format", "text"}));
  EXPECT_EQ(o.exit_code, 2);
  auto endless = gpt2::test::run_in_process({"sample-unconditional", "--model", tiny_ref(), "--format", "dataset"});
  EXPECT_EQ(endless.exit_code, 2);
  EXPECT_NE(endless.err.find("--nsamples"), std::string::npos) << endless.err;
  auto both = gpt2::test::run_in_process({"generate", "--model", tiny_ref(), "--prompt", "x", "--prompts", (d / "p.jsonl").string()});
  EXPECT_EQ(both.exit_code, 2);
}

// The shipped Slurm script, run as Slurm would run each array task (no
// scheduler needed: the same environment variables), ends in the merged dataset.
TEST(DatasetE2E, SlurmScriptRunsTheArrayAndMerges) {
  TempDir d("sbatch");
  const std::string script = (gpt2::test::source_dir() / "scripts" / "slurm" / "generate-dataset.sbatch").string();
  for (int task : {0, 1, 2}) {
    gpt2::test::ProcOptions env;
    env.env = {{"SLURM_ARRAY_TASK_ID", std::to_string(task)}, {"SLURM_ARRAY_TASK_COUNT", "3"},
               {"SLURM_CPUS_PER_TASK", "1"}, {"GPT2", gpt2::test::gpt2_binary().string()}, {"MODEL", tiny_ref()},
               {"OUT_DIR", (d / "out").string()}, {"NSAMPLES", "12"}, {"LENGTH", "16"}, {"SEED", "5"},
               {"DTYPE", "float32"}, {"BATCH", "2"}, {"TOPK", "40"}};
    auto r = gpt2::test::run_process({"/bin/bash", script}, env);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }
  EXPECT_EQ(gpt2::test::read_file(d / "out" / "dataset.jsonl"), reference_unconditional());
}

TEST(DatasetE2E, ContextShiftGoesPastTheContext) {
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello", "--length", "150", "--context-shift",
                     "--ignore-eot", "--format", "jsonl", "--seed", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tokens"].size(), 150u);
  auto no = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello", "--length", "150"});
  EXPECT_EQ(no.exit_code, 2);
  EXPECT_NE(no.err.find("--context-shift"), std::string::npos) << no.err;
}

}  // namespace
