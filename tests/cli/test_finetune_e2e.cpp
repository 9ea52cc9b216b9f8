// End-to-end tests of `gpt2 finetune` (the real binary) on tests/data/tiny-ref:
// a short run that `gpt2 generate`, `verify` and `info` then use, resuming,
// Ctrl-C, JSONL records, and every refusal with its exit code.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/in_process.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using gpt2::test::run_gpt2;
using gpt2::test::write_file;
using nlohmann::json;

namespace {

struct FtRun {
  gpt2::test::TempDir dir{"ft-e2e"};
  std::string models = (dir / "models").string();
  std::string data = (dir / "corpus.txt").string();
  FtRun() {
    std::string s;
    for (int i = 0; i < 12; ++i) s += "Entry " + std::to_string(i) + ": a small corpus for a quick test.<|endoftext|>";
    write_file(data, s);
  }
  std::vector<std::string> args(const std::string& run, int steps, std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"finetune", "--model", (gpt2::test::data_dir() / "tiny-ref").string(),
                                  "--models-dir", models, "--data", data, "--run", run, "--steps",
                                  std::to_string(steps), "--seq", "16", "--threads", "1", "--device", "cpu",
                                  "--seed", "3", "--eval-every", "2", "--sample-every", "0"};
    // an extra option replaces the default value of the same option (CLI11 takes each once)
    for (size_t i = 0; i < extra.size(); ++i) {
      const bool has_value = i + 1 < extra.size() && extra[i + 1].rfind("--", 0) != 0;
      auto it = std::find(a.begin(), a.end(), extra[i]);
      if (has_value && it != a.end()) {
        *(it + 1) = extra[++i];
        continue;
      }
      a.push_back(extra[i]);
      if (has_value) a.push_back(extra[++i]);
    }
    return a;
  }
};

std::vector<json> records(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
  return v;
}

}  // namespace

TEST(FinetuneE2E, TrainsThenGenerateVerifyAndInfoUseTheRun) {
  FtRun r;
  auto t = run_gpt2(r.args("mine", 3, {"--sample-every", "3", "--sample-length", "5"}));
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_NE(t.out.find("SAMPLE at step 3"), std::string::npos) << t.out;
  EXPECT_NE(t.err.find("step 3/3"), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("saved step 3"), std::string::npos) << t.err;
  EXPECT_TRUE(fs::exists(fs::path(r.models) / "mine" / "loss.svg"));

  auto g = run_gpt2({"generate", "--model", "mine", "--models-dir", r.models, "--prompt", "Entry", "--length", "5",
                     "--seed", "1"});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.out.find("SAMPLE 1"), std::string::npos);
  auto v = run_gpt2({"verify", "mine", "--models-dir", r.models});
  EXPECT_EQ(v.exit_code, 0) << v.err;
  EXPECT_NE(v.out.find("safetensors"), std::string::npos) << v.out;
  auto i = run_gpt2({"info", (fs::path(r.models) / "mine").string()});
  EXPECT_EQ(i.exit_code, 0) << i.err;
}

TEST(FinetuneE2E, JsonlRecordsAndResumeContinuesTheRun) {
  FtRun r;
  auto a = run_gpt2(r.args("j", 2, {"--format", "jsonl"}));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto recs = records(a.out);
  ASSERT_EQ(recs.size(), 2u);
  for (const char* k : {"step", "loss", "val_loss", "lr", "tokens_per_s", "elapsed_s"})
    EXPECT_TRUE(recs[1].contains(k)) << k;
  EXPECT_TRUE(recs[0]["val_loss"].is_null());
  EXPECT_TRUE(recs[1]["val_loss"].is_number());

  auto same = run_gpt2(r.args("j", 2, {"--format", "jsonl"}));
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("already at step 2"), std::string::npos) << same.err;

  auto b = run_gpt2(r.args("j", 4, {"--format", "jsonl"}));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.err.find("resuming"), std::string::npos) << b.err;
  EXPECT_NE(b.err.find("token cache reused"), std::string::npos) << b.err;
  recs = records(b.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["step"], 3);
}

TEST(FinetuneE2E, CtrlCSavesAndExits130) {
  FtRun r;
  gpt2::test::ProcOptions po;
  po.signal = SIGINT;
  po.signal_after_lines = 1;
  auto a = run_gpt2(r.args("c", 100000, {"--format", "jsonl", "--eval-every", "0"}), po);
  EXPECT_EQ(a.exit_code, 130) << a.err;
  EXPECT_NE(a.err.find("interrupted at step"), std::string::npos) << a.err;
  const auto state = json::parse(gpt2::test::read_file(fs::path(r.models) / "c" / "training_state.json"));
  EXPECT_GE(state["step"].get<int>(), 1);
  EXPECT_EQ(state["tool"], "gpt2 finetune");
}

TEST(FinetuneE2E, BadInputExitCodes) {
  FtRun r;
  // in-process (the same run_cli() main() calls); the first case through the real binary
  bool first = true;
  auto expect = [&](const std::vector<std::string>& args, int code, const std::string& fragment) {
    auto p = first ? run_gpt2(args) : gpt2::test::run_in_process(args);
    first = false;
    EXPECT_EQ(p.exit_code, code) << p.err;
    EXPECT_NE(p.err.find(fragment), std::string::npos) << p.err;
  };
  auto no_data = r.args("x", 1);
  no_data.erase(no_data.begin() + 5, no_data.begin() + 7);  // drop --data FILE
  expect(no_data, 2, "no training data");
  auto missing = r.args("x", 1);
  missing[6] = (r.dir / "missing.txt").string();
  expect(missing, 3, "missing.txt not found");
  write_file(r.dir / "empty.txt", "");
  auto empty = r.args("x", 1);
  empty[6] = (r.dir / "empty.txt").string();
  expect(empty, 4, "is empty");
  write_file(r.dir / "bad.jsonl", "{\"text\": \"fine\"}\n{\"title\": \"no text\"}\n");
  auto jsonl = r.args("x", 1);
  jsonl[6] = (r.dir / "bad.jsonl").string();
  expect(jsonl, 4, "bad.jsonl:2");
  expect(r.args("124M", 1), 2, "released model name");
  auto self = r.args((gpt2::test::data_dir() / "tiny-ref").string(), 1);
  expect(self, 2, "base model itself");
  fs::create_directories(fs::path(r.models) / "keep");
  write_file(fs::path(r.models) / "keep" / "file.txt", "x");
  expect(r.args("keep", 1), 2, "not a run of gpt2 finetune");
  expect(r.args("x", 1, {"--dtype", "int8"}), 2, "float32");
  expect(r.args("x", 1, {"--max-memory", "0.001"}), 2, "try a smaller --seq");
  expect(r.args("x", 0), 2, "--steps must be at least 1");
  expect(r.args("x", 1, {"--schedule", "linear"}), 2, "--schedule");
  // an unwritable models directory: below a regular file, and read-only (root ignores permissions)
  auto under_file = r.args("x", 1);
  under_file[4] = (r.dir / "corpus.txt" / "models").string();
  expect(under_file, 1, "not writable");
  if (::geteuid() != 0) {
    const fs::path ro = r.dir / "ro";
    fs::create_directories(ro);
    ::chmod(ro.c_str(), 0555);
    auto p = r.args("x", 1);
    p[4] = ro.string();
    expect(p, 1, "not writable");
    ::chmod(ro.c_str(), 0755);
  }
  EXPECT_TRUE(fs::exists(fs::path(r.models) / "keep" / "file.txt"));
  EXPECT_FALSE(fs::exists(fs::path(r.models) / "x"));
}
