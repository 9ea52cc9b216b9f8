// `gpt2 score` at corpus scale through the real binary: shards (explicit,
// Slurm array, Kubernetes Indexed Job, the shipped sbatch script) merging into
// exactly one process's --output file, a run killed mid-way and rerun giving
// the same file as an uninterrupted one, bad lines, the per-record GLTR
// statistics and the corpus summary against the float64 reference
// (tests/tools/score_reference.py -> tests/data/tiny-ref/score_expected.json).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/score_e2e_util.hpp"
#include "cli/in_process.hpp"
#include "support/test_support.hpp"

using gpt2::test::run_gpt2;
using gpt2::test::TempDir;
using nlohmann::json;

namespace {

using gpt2::test::tiny_ref;

using gpt2::test::score_reference;

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The reference cases scored with window 64 / stride 32 and the <|endoftext|> prefix (the defaults on tiny-ref).
std::vector<const json*> default_cases() {
  std::vector<const json*> v;
  for (const json& c : score_reference()["cases"])
    if (c["eot_prefix"].get<bool>() && c["window"] == 64 && c["stride"] == 32) v.push_back(&c);
  return v;
}

// A corpus of `n` records cycling through texts of several lengths, with
// numeric, string and missing ids; `bad` lines (0-based record numbers) are not JSON.
std::string corpus(int n, const std::set<int>& bad = {}) {
  const auto cases = default_cases();
  std::string s;
  for (int k = 0; k < n; ++k) {
    if (bad.count(k)) {
      s += "{\"text\": broken\n";
      continue;
    }
    json rec = {{"text", (*cases[static_cast<size_t>(k) % cases.size()])["text"]}};
    if (k % 3 == 0) rec["id"] = 1000 + k;
    else if (k % 3 == 1) rec["id"] = "doc-" + std::to_string(k);
    s += rec.dump() + "\n";
    if (k == 2) s += "\n";  // a blank line is no record
  }
  return s;
}

std::vector<std::string> score(const std::string& input, std::vector<std::string> extra) {
  std::vector<std::string> a = {"score", "--model", tiny_ref(), "--jsonl", input, "--format", "jsonl"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

void expect_corpus_error(const gpt2::test::ProcResult& r, int code, const std::string& text) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_NE(r.err.find(text), std::string::npos) << "expected '" << text << "' in: " << r.err;
}

TEST(ScoreCorpusE2E, ShardsUnderSlurmAndKubernetesMergeIntoOneProcess) {
  TempDir d("score-shards");
  const std::string in = (d / "in.jsonl").string();
  gpt2::test::write_file(in, corpus(14, {5}));
  // One process: the reference file (and its summary).
  auto one = run_gpt2(score(in, {"--skip-bad", "--output", (d / "one.jsonl").string(), "--summary",
                                 (d / "one.json").string()}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "");
  EXPECT_NE(one.err.find("skipped 1 bad line"), std::string::npos) << one.err;
  const std::string want = gpt2::test::read_file(d / "one.jsonl");
  const auto recs = lines_of(want);
  ASSERT_EQ(recs.size(), 13u);
  for (size_t i = 0; i < recs.size(); ++i) {
    const json j = json::parse(recs[i]);
    const int k = static_cast<int>(i < 5 ? i : i + 1);  // record 5 is the bad line
    EXPECT_EQ(j["record"], k);
    if (k % 3 == 0) EXPECT_EQ(j["id"], 1000 + k);
    else if (k % 3 == 1) EXPECT_EQ(j["id"], "doc-" + std::to_string(k));
    else EXPECT_FALSE(j.contains("id"));
  }
  // The same command to stdout writes the same records.
  auto to_stdout = run_gpt2(score(in, {"--skip-bad", "--shard", "0/1"}));
  ASSERT_EQ(to_stdout.exit_code, 0) << to_stdout.err;
  EXPECT_EQ(to_stdout.out, want);

  // Slurm: sbatch --array=3-5 -> task ids 3, 4, 5 with min 3, count 3.
  std::vector<std::string> merge = {"merge-shards", (d / "slurm.jsonl").string(), "--summary", (d / "slurm.json").string()};
  for (int task : {3, 4, 5}) {
    gpt2::test::ProcOptions env;
    env.env = {{"SLURM_ARRAY_TASK_ID", std::to_string(task)}, {"SLURM_ARRAY_TASK_MIN", "3"},
               {"SLURM_ARRAY_TASK_COUNT", "3"}};
    const std::string f = (d / ("slurm" + std::to_string(task))).string();
    auto r = run_gpt2(score(in, {"--skip-bad", "--shard", "auto", "--output", f}), env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("shard " + std::to_string(task - 3) + "/3"), std::string::npos) << r.err;
    for (const auto& l : lines_of(gpt2::test::read_file(f)))
      EXPECT_EQ(json::parse(l)["record"].get<int>() % 3, task - 3) << l;  // record k in shard k mod 3
    merge.push_back(f);
  }
  auto m = run_gpt2(merge);
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_EQ(gpt2::test::read_file(d / "slurm.jsonl"), want);
  EXPECT_EQ(gpt2::test::read_file(d / "slurm.json"), gpt2::test::read_file(d / "one.json"));

  // Kubernetes Indexed Job: JOB_COMPLETION_INDEX of GPT2_SHARD_COUNT.
  std::vector<std::string> k8s = {"merge-shards", (d / "k8s.jsonl").string()};
  for (int index = 0; index < 2; ++index) {
    gpt2::test::ProcOptions env;
    env.env = {{"JOB_COMPLETION_INDEX", std::to_string(index)}, {"GPT2_SHARD_COUNT", "2"}};
    const std::string f = (d / ("k8s" + std::to_string(index))).string();
    auto r = run_gpt2(score(in, {"--skip-bad", "--shard", "auto", "--output", f}), env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    k8s.push_back(f);
  }
  auto k = run_gpt2(k8s);
  ASSERT_EQ(k.exit_code, 0) << k.err;
  EXPECT_NE(k.err.find("merged 13 records"), std::string::npos) << k.err;
  EXPECT_EQ(gpt2::test::read_file(d / "k8s.jsonl"), want);

  // A missing shard: the records it owns are named, nothing is written.
  auto partial = run_gpt2({"merge-shards", (d / "partial.jsonl").string(), k8s[2]});
  expect_corpus_error(partial, 4, "missing");
  EXPECT_FALSE(std::filesystem::exists(d / "partial.jsonl"));
  // Shards of another input do not merge with these.
  gpt2::test::write_file(d / "other.jsonl", corpus(14));
  auto other = run_gpt2(score((d / "other.jsonl").string(), {"--shard", "1/2", "--output", (d / "o1").string()}));
  ASSERT_EQ(other.exit_code, 0) << other.err;
  expect_corpus_error(run_gpt2({"merge-shards", (d / "mixed.jsonl").string(), k8s[2], (d / "o1").string()}), 4, "o1");
}

TEST(ScoreCorpusE2E, KilledAndRerunGivesTheUninterruptedFile) {
  TempDir d("score-resume");
  const std::string in = (d / "in.jsonl").string();
  gpt2::test::write_file(in, corpus(120));
  auto full = run_gpt2(score(in, {"--output", (d / "full.jsonl").string(), "--threads", "1"}));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const std::string want = gpt2::test::read_file(d / "full.jsonl");
  ASSERT_EQ(lines_of(want).size(), 120u);

  // The real binary, SIGKILLed after some records; then a torn last record, as
  // a crash in the middle of a write leaves; then the same command again.
  const std::string part = (d / "part.jsonl").string();
  const auto args = score(in, {"--output", part, "--threads", "1"});
  const bool killed = gpt2::test::kill_gpt2_after_lines(args, part, 3);
  const std::string before = gpt2::test::read_file(part);
  const auto done = std::count(before.begin(), before.end(), '\n');
  EXPECT_TRUE(killed) << "the run ended before the kill";  // 120 fsynced records take far longer than a poll
  EXPECT_LT(done, 120) << "the kill came after the last record";
  gpt2::test::write_file(part, before + "{\"record\": 119, \"nll\": 12");
  auto rerun = run_gpt2(args);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_NE(rerun.err.find("cut a torn last record"), std::string::npos) << rerun.err;
  EXPECT_NE(rerun.err.find(std::to_string(done) + " already done"), std::string::npos) << rerun.err;
  EXPECT_EQ(gpt2::test::read_file(part), want);

  // Cut back to a few whole records (as after a kill at any point): the rerun completes it identically.
  const auto recs = lines_of(want);
  gpt2::test::write_file(part, recs[0] + "\n" + recs[1] + "\n" + recs[2] + "\n" + recs[3].substr(0, 20));
  auto again = run_gpt2(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("3 already done, 117 to score"), std::string::npos) << again.err;
  EXPECT_EQ(gpt2::test::read_file(part), want);

  // Other settings on the same file are refused, in one line naming the setting.
  auto other = run_gpt2(score(in, {"--output", part, "--threads", "1", "--window", "32", "--stride", "32"}));
  expect_corpus_error(other, 2, "window");
  EXPECT_EQ(std::count(other.err.begin(), other.err.end(), '\n'), 1) << other.err;
  auto other_shard = run_gpt2(score(in, {"--output", part, "--shard", "1/2"}));
  expect_corpus_error(other_shard, 2, "shard");
  EXPECT_EQ(gpt2::test::read_file(part), want);
  // Another input file (same name, other contents) too.
  gpt2::test::write_file(in, corpus(121));
  expect_corpus_error(run_gpt2(args), 2, "input");
}

TEST(ScoreCorpusE2E, BadLinesNameTheirLineAndAreCounted) {
  TempDir d("score-bad");
  const std::string in = (d / "in.jsonl").string();
  // Lines 1-3 are records 0-2, line 4 is blank, line 5 (record 3) is not JSON, line 7 (record 5) has no text.
  gpt2::test::write_file(in, corpus(3) + "{\"text\": broken\n{\"text\": \"fine\"}\n{\"id\": 7}\n{\"text\": \"end\"}\n");
  expect_corpus_error(run_gpt2(score(in, {"--output", (d / "o.jsonl").string()})), 4, "in.jsonl:5: not valid JSON");
  EXPECT_FALSE(std::filesystem::exists(d / "o.jsonl"));  // the input is checked before anything is written
  auto r = run_gpt2(score(in, {"--skip-bad", "--output", (d / "o.jsonl").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("skipped 2 bad line(s)"), std::string::npos) << r.err;
  std::vector<int> records;
  for (const auto& l : lines_of(gpt2::test::read_file(d / "o.jsonl"))) records.push_back(json::parse(l)["record"]);
  EXPECT_EQ(records, (std::vector<int>{0, 1, 2, 4, 6}));  // records 3 and 5 are the bad lines
  auto m = run_gpt2({"merge-shards", (d / "m.jsonl").string(), (d / "o.jsonl").string()});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.err.find("2 skipped"), std::string::npos) << m.err;
}

TEST(ScoreCorpusE2E, OptionErrors) {
  TempDir d("score-opt");
  const std::string in = (d / "in.jsonl").string();
  gpt2::test::write_file(in, corpus(2));
  const std::string out = (d / "o.jsonl").string();
  expect_corpus_error(run_gpt2({"score", "--model", tiny_ref(), "--text", "hello", "--output", out}), 2, "--output");
  expect_corpus_error(gpt2::test::run_in_process({"score", "--model", tiny_ref(), "--text", "hello", "--shard", "0/2"}), 2, "--shard");
  expect_corpus_error(gpt2::test::run_in_process({"score", "--model", tiny_ref(), "--jsonl", in, "--output", out}), 2, "--format jsonl");
  expect_corpus_error(gpt2::test::run_in_process(score(in, {"--shard", "2/2"})), 2, "--shard");
  expect_corpus_error(gpt2::test::run_in_process(score(in, {"--shard", "auto"})), 2, "neither Slurm");
  expect_corpus_error(gpt2::test::run_in_process({"score", "--model", tiny_ref(), "--text", "hello", "--summary", (d / "s.html").string()}), 2,
               "--summary");
  EXPECT_FALSE(std::filesystem::exists(out));
  // A file that was not written by --output is not appended to.
  gpt2::test::write_file(d / "foreign.jsonl", "{\"x\": 1}\n");
  expect_corpus_error(gpt2::test::run_in_process(score(in, {"--output", (d / "foreign.jsonl").string()})), 2, "not written by");
  // merge-shards --summary needs score records.
  gpt2::test::write_file(d / "gen.jsonl", "{\"id\": 0, \"text\": \"x\"}\n");
  expect_corpus_error(gpt2::test::run_in_process({"merge-shards", (d / "m.jsonl").string(), (d / "gen.jsonl").string(), "--summary",
                         (d / "s.html").string()}),
               2, "--summary");
}

// Per-record mean log-rank and bucket shares, and the corpus summary, against
// the float64 reference: ranks within the reference's range for logits
// perturbed by its error bound, sums and perplexity by the written-out formulas.
TEST(ScoreCorpusE2E, RecordStatisticsAndSummaryMatchTheReference) {
  TempDir d("score-summary");
  const auto cases = default_cases();
  std::string input;
  for (const json* c : cases) input += json{{"text", (*c)["text"]}}.dump() + "\n";
  gpt2::test::write_file(d / "in.jsonl", input);
  auto r = run_gpt2(score((d / "in.jsonl").string(), {"--summary", (d / "s.json").string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto recs = lines_of(r.out);
  ASSERT_EQ(recs.size(), cases.size());
  double nll = 0, log_rank_lo = 0, log_rank_hi = 0;
  int64_t tokens = 0, bytes = 0;
  std::vector<int64_t> buckets(4, 0);
  std::vector<int64_t> hist(24, 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const json& c = *cases[i];
    const json rec = json::parse(recs[i]);
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(rec["record"], i);
    const int64_t n = c["tokens_scored"].get<int64_t>();
    double lo = 0, hi = 0;
    std::vector<int64_t> own(4, 0);
    for (const json& t : c["tokens"]) {
      lo += std::log(t["rank_min"].get<double>());
      hi += std::log(t["rank_max"].get<double>());
      const int64_t rank = t["rank"].get<int64_t>();
      ++own[rank <= 10 ? 0 : rank <= 100 ? 1 : rank <= 1000 ? 2 : 3];
    }
    EXPECT_GE(rec["mean_log_rank"].get<double>(), lo / n - 1e-12);
    EXPECT_LE(rec["mean_log_rank"].get<double>(), hi / n + 1e-12);
    const std::vector<std::string> keys = {"10", "100", "1000", "rest"};
    for (size_t b = 0; b < 4; ++b)
      EXPECT_DOUBLE_EQ(rec["buckets"][keys[b]].get<double>(), static_cast<double>(own[b]) / n) << keys[b];
    nll += c["nll"].get<double>();
    log_rank_lo += lo;
    log_rank_hi += hi;
    tokens += n;
    bytes += c["bytes"].get<int64_t>();
    for (size_t b = 0; b < 4; ++b) buckets[b] += own[b];
    ++hist[static_cast<size_t>(std::floor(std::log10(c["perplexity"].get<double>()) * 4))];
  }
  const json s = json::parse(gpt2::test::read_file(d / "s.json"));
  EXPECT_EQ(s["documents"], cases.size());
  EXPECT_EQ(s["tokens_scored"], tokens);
  EXPECT_EQ(s["bytes"], bytes);
  EXPECT_NEAR(s["nll"].get<double>(), nll, 1e-4 * tokens);
  EXPECT_NEAR(s["perplexity"].get<double>(), std::exp(nll / tokens), 1e-3 * std::exp(nll / tokens));
  EXPECT_NEAR(s["bits_per_byte"].get<double>(), nll / std::log(2.0) / bytes, 1e-4);
  EXPECT_GE(s["mean_log_rank"].get<double>(), log_rank_lo / tokens - 1e-12);
  EXPECT_LE(s["mean_log_rank"].get<double>(), log_rank_hi / tokens + 1e-12);
  const std::vector<std::string> keys = {"10", "100", "1000", "rest"};
  for (size_t b = 0; b < 4; ++b)
    EXPECT_DOUBLE_EQ(s["buckets"][keys[b]].get<double>(), static_cast<double>(buckets[b]) / tokens);
  int64_t in_histogram = 0;
  for (const json& bin : s["perplexity_histogram"]) {
    const int idx = static_cast<int>(std::lround(std::log10(bin["from"].get<double>()) * 4));
    EXPECT_EQ(bin["documents"], hist[static_cast<size_t>(idx)]) << bin.dump();
    in_histogram += bin["documents"].get<int64_t>();
  }
  EXPECT_EQ(in_histogram, static_cast<int64_t>(cases.size()));

  // The HTML page: the same numbers, the histogram as inline SVG, no scripts.
  auto h = run_gpt2(score((d / "in.jsonl").string(), {"--summary", (d / "s.html").string()}));
  ASSERT_EQ(h.exit_code, 0) << h.err;
  const std::string page = gpt2::test::read_file(d / "s.html");
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find(std::to_string(tokens)), std::string::npos);
}

// The shipped Slurm script, run as Slurm would run each array task (the same
// environment variables, no scheduler), ends in one process's file.
TEST(ScoreCorpusE2E, SlurmScriptScoresTheArrayAndMerges) {
  TempDir d("score-sbatch");
  const std::string in = (d / "in.jsonl").string();
  gpt2::test::write_file(in, corpus(7));
  auto one = run_gpt2(score(in, {"--output", (d / "one.jsonl").string(), "--threads", "1"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string script = (gpt2::test::source_dir() / "scripts" / "slurm" / "score-corpus.sbatch").string();
  for (int task : {0, 1, 2}) {
    gpt2::test::ProcOptions env;
    env.env = {{"SLURM_ARRAY_TASK_ID", std::to_string(task)}, {"SLURM_ARRAY_TASK_COUNT", "3"},
               {"SLURM_CPUS_PER_TASK", "1"}, {"GPT2", gpt2::test::gpt2_binary().string()}, {"MODEL", tiny_ref()},
               {"OUT_DIR", (d / "out").string()}, {"CORPUS", in}};
    auto r = gpt2::test::run_process({"/bin/bash", script}, env);
    ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  }
  EXPECT_EQ(gpt2::test::read_file(d / "out" / "scores.jsonl"), gpt2::test::read_file(d / "one.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(d / "out" / "summary.html"));
}

}  // namespace
