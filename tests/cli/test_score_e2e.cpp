// End-to-end tests of `gpt2 score` on tiny-ref (n_ctx 64): the JSONL schema and
// per-token values against the float64 reference (tests/tools/score_reference.py ->
// tests/data/tiny-ref/score_expected.json) at two strides on a text longer than
// n_ctx, JSONL batches equal to one document at a time, tsv and text output,
// --compare-dtype, every input error, and the HTML report rendered by headless
// Chromium (scripts/check_html.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/score_e2e_util.hpp"
#include "cli/in_process.hpp"
#include "support/test_support.hpp"

using gpt2::test::run_gpt2;
using gpt2::test::run_in_process;
using gpt2::test::TempDir;
using nlohmann::json;

namespace {

using gpt2::test::tiny_ref;

using gpt2::test::score_reference;

const json& ref_case(const std::string& name) {
  for (const json& c : score_reference()["cases"])
    if (c["name"] == name) return c;
  throw std::runtime_error("no reference case " + name);
}

std::vector<json> jsonl(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
  return v;
}

std::vector<std::string> score_args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"score", "--model", tiny_ref()};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// The documented schema, and every value against the reference case.
void expect_document(const json& d, const json& c, bool with_top) {
  SCOPED_TRACE(c["name"].get<std::string>());
  std::set<std::string> keys;
  for (auto it = d.begin(); it != d.end(); ++it) keys.insert(it.key());
  keys.erase("id");
  keys.erase("record");  // --jsonl: the record's index
  EXPECT_EQ(keys, (std::set<std::string>{"tokens_scored", "nll", "mean_nll", "perplexity", "bits_per_byte", "bytes",
                                          "mean_log_rank", "buckets", "tokens"}));
  EXPECT_EQ(d["tokens_scored"], c["tokens_scored"]);
  EXPECT_EQ(d["bytes"], c["bytes"]);
  const double n = c["tokens_scored"].get<double>();
  EXPECT_NEAR(d["nll"].get<double>(), c["nll"].get<double>(), 1e-4 * n);
  EXPECT_NEAR(d["mean_nll"].get<double>(), c["mean_nll"].get<double>(), 1e-4);
  EXPECT_NEAR(d["perplexity"].get<double>() / c["perplexity"].get<double>(), 1.0, 2e-4);
  EXPECT_NEAR(d["bits_per_byte"].get<double>(), c["bits_per_byte"].get<double>(), 1e-4);
  const json& b = d["buckets"];
  ASSERT_EQ(b.size(), 4u);
  double sum = 0;
  for (const char* k : {"10", "100", "1000", "rest"}) sum += b[k].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  const json& toks = d["tokens"];
  ASSERT_EQ(toks.size(), c["tokens"].size());
  std::array<int, 4> counts{};
  for (size_t i = 0; i < toks.size(); ++i) {
    const json& t = toks[i];
    const json& e = c["tokens"][i];
    SCOPED_TRACE(i);
    EXPECT_EQ(t["index"], e["index"]);
    EXPECT_EQ(t["id"], e["id"]);
    EXPECT_EQ(t["text"], e["text"]);
    EXPECT_NEAR(t["logprob"].get<double>(), e["logprob"].get<double>(), 1e-4);
    EXPECT_NEAR(t["entropy"].get<double>(), e["entropy"].get<double>(), 1e-4);
    EXPECT_GE(t["rank"].get<int64_t>(), e["rank_min"].get<int64_t>());
    EXPECT_LE(t["rank"].get<int64_t>(), e["rank_max"].get<int64_t>());
    const int64_t r = t["rank"].get<int64_t>();
    ++counts[r <= 10 ? 0 : r <= 100 ? 1 : r <= 1000 ? 2 : 3];
    EXPECT_EQ(t.contains("top"), with_top);
    if (with_top) {
      ASSERT_EQ(t["top"].size(), 3u);
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_NEAR(t["top"][k]["logprob"].get<double>(), e["top"][k]["logprob"].get<double>(), 1e-4);
        EXPECT_TRUE(t["top"][k]["text"].is_string());
      }
    }
  }
  EXPECT_DOUBLE_EQ(b["10"].get<double>(), counts[0] / n);
  EXPECT_DOUBLE_EQ(b["100"].get<double>(), counts[1] / n);
  EXPECT_DOUBLE_EQ(b["1000"].get<double>(), counts[2] / n);
  EXPECT_DOUBLE_EQ(b["rest"].get<double>(), counts[3] / n);
}

void expect_error(const gpt2::test::ProcResult& r, int code, const std::string& text) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_NE(r.err.find(text), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");  // nothing half-written
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

}  // namespace

TEST(ScoreE2E, LongTextDefaultStrideMatchesReference) {
  const json& c = ref_case("long_w64_s32");
  auto r = run_gpt2(score_args({"--text", c["text"], "--format", "jsonl", "--tokens", "--top", "3"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto docs = jsonl(r.out);
  ASSERT_EQ(docs.size(), 1u);
  expect_document(docs[0], c, true);
}

TEST(ScoreE2E, LongTextOtherStridesMatchReference) {
  for (const char* name : {"long_w64_s17", "long_w40_s40", "long_noprefix_w64_s32"}) {
    const json& c = ref_case(name);
    std::vector<std::string> args = {"--text", c["text"], "--format", "jsonl", "--tokens", "--window",
                                     std::to_string(c["window"].get<int>()), "--stride",
                                     std::to_string(c["stride"].get<int>())};
    if (!c["eot_prefix"].get<bool>()) args.push_back("--no-eot-prefix");
    auto r = run_gpt2(score_args(args));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto docs = jsonl(r.out);
    ASSERT_EQ(docs.size(), 1u);
    expect_document(docs[0], c, false);
  }
}

TEST(ScoreE2E, JsonlBatchEqualsOneDocumentAtATime) {
  TempDir dir("score-jsonl");
  const std::vector<std::string> names = {"short_0", "long_w64_s32", "short_1", "short_2"};
  std::string input;
  for (size_t i = 0; i < names.size(); ++i) {
    json rec = {{"text", ref_case(names[i])["text"]}, {"length", 1}, {"ended", true}};
    if (i != 2) rec["id"] = static_cast<int>(100 + i);
    input += rec.dump() + "\n";
  }
  gpt2::test::write_file(dir / "in.jsonl", input + "\n");  // a trailing blank line is ignored
  auto r = run_gpt2(score_args({"--jsonl", (dir / "in.jsonl").string(), "--format", "jsonl", "--tokens"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto docs = jsonl(r.out);
  ASSERT_EQ(docs.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    expect_document(docs[i], ref_case(names[i]), false);
    if (i != 2) {
      EXPECT_EQ(docs[i]["id"], static_cast<int>(100 + i));
    } else {
      EXPECT_FALSE(docs[i].contains("id"));
    }
    auto one = run_gpt2(score_args({"--text", ref_case(names[i])["text"], "--format", "jsonl", "--tokens"}));
    ASSERT_EQ(one.exit_code, 0) << one.err;
    const json single = jsonl(one.out).at(0);
    EXPECT_EQ(single["tokens_scored"], docs[i]["tokens_scored"]);
    EXPECT_NEAR(single["nll"].get<double>(), docs[i]["nll"].get<double>(), 1e-4);
    for (size_t t = 0; t < single["tokens"].size(); ++t)
      EXPECT_NEAR(single["tokens"][t]["logprob"].get<double>(), docs[i]["tokens"][t]["logprob"].get<double>(), 1e-5);
  }
}

TEST(ScoreE2E, TsvOneRowPerTokenAndTextSummary) {
  const json& c = ref_case("short_1");
  auto r = run_gpt2(score_args({"--text", c["text"], "--format", "tsv"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream in(r.out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "doc\tindex\tid\ttext\tlogprob\trank\tentropy");
  size_t rows = 0;
  while (std::getline(in, line)) {
    const json& e = c["tokens"][rows];
    std::vector<std::string> f;
    std::istringstream ls(line);
    for (std::string x; std::getline(ls, x, '\t');) f.push_back(x);
    ASSERT_EQ(f.size(), 7u) << line;
    EXPECT_EQ(f[0], "1");
    EXPECT_EQ(std::stoll(f[1]), e["index"].get<int64_t>());
    EXPECT_EQ(std::stoll(f[2]), e["id"].get<int64_t>());
    EXPECT_NEAR(std::stod(f[4]), e["logprob"].get<double>(), 1e-4);
    ++rows;
  }
  EXPECT_EQ(rows, c["tokens"].size());

  auto s = run_gpt2(score_args({"--text", c["text"], "-v"}));
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("14 tokens scored"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("perplexity"), std::string::npos) << s.out;
  EXPECT_NE(s.err.find("tokens/s"), std::string::npos) << s.err;
}

TEST(ScoreE2E, CompareSameDtypeGivesZeroKL) {
  const json& c = ref_case("long_w64_s32");
  auto r = run_gpt2(score_args({"--text", c["text"], "--format", "jsonl", "--compare-dtype", "float32"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = jsonl(r.out).at(0);
  EXPECT_EQ(d["kl_divergence"].get<double>(), 0.0);
  EXPECT_EQ(d["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(d["perplexity_delta"].get<double>(), 0.0);

  auto b = run_gpt2(score_args({"--text", c["text"], "--format", "jsonl", "--dtype", "bfloat16", "--compare-dtype",
                                "float32"}));
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const json db = jsonl(b.out).at(0);
  EXPECT_GT(db["kl_divergence"].get<double>(), 0.0);
  EXPECT_NEAR(db["reference_perplexity"].get<double>() / c["perplexity"].get<double>(), 1.0, 1e-3);
}

TEST(ScoreE2E, Errors) {
  TempDir dir("score-err");
  // the real binary once; the rest in-process (the same run_cli() main() calls)
  expect_error(run_gpt2(score_args({"--text", ""})), 2, "nothing to score");
  expect_error(run_in_process(score_args({"--file", (dir / "missing.txt").string()})), 3, "missing.txt");
  expect_error(run_in_process(score_args({"--jsonl", (dir / "missing.jsonl").string()})), 3, "missing.jsonl");
  expect_error(run_in_process(score_args({"--text", "hi there", "--stride", "0"})), 2, "--stride");
  expect_error(run_in_process(score_args({"--text", "hi there", "--window", "32", "--stride", "33"})), 2, "--stride");
  expect_error(run_in_process(score_args({"--text", "hi there", "--window", "65"})), 2, "--window");
  expect_error(run_in_process(score_args({"--text", "hi there", "--top", "-1"})), 2, "--top");
  expect_error(run_in_process(score_args({"--text", "hi", "--no-eot-prefix"})), 2, "nothing to score");
  expect_error(run_in_process(score_args({"--text", "x", "--format", "xml"})), 2, "--format");
  gpt2::test::write_file(dir / "empty.txt", "");
  expect_error(run_in_process(score_args({"--file", (dir / "empty.txt").string()})), 2, "nothing to score");
  expect_error(run_in_process(score_args({}), ""), 2, "nothing to score");

  const std::string good = json{{"text", "Hello there"}}.dump() + "\n";
  gpt2::test::write_file(dir / "notjson.jsonl", good + "{not json\n" + good);
  expect_error(run_in_process(score_args({"--jsonl", (dir / "notjson.jsonl").string()})), 4, "notjson.jsonl:2: not valid JSON");
  gpt2::test::write_file(dir / "notext.jsonl", good + good + json{{"id", 3}}.dump() + "\n");
  expect_error(run_in_process(score_args({"--jsonl", (dir / "notext.jsonl").string()})), 4, "notext.jsonl:3: no \"text\"");
  gpt2::test::write_file(dir / "emptytext.jsonl", json{{"text", ""}}.dump() + "\n");
  expect_error(run_in_process(score_args({"--jsonl", (dir / "emptytext.jsonl").string()})), 4, "emptytext.jsonl:1: nothing to score");

  auto skip = run_in_process(score_args({"--jsonl", (dir / "notjson.jsonl").string(), "--skip-bad", "--format", "jsonl"}));
  EXPECT_EQ(skip.exit_code, 0) << skip.err;
  EXPECT_EQ(jsonl(skip.out).size(), 2u);
  EXPECT_NE(skip.err.find("skipped 1 bad line"), std::string::npos) << skip.err;
  expect_error(run_in_process(score_args({"--jsonl", (dir / "notjson.jsonl").string(), "--html", (dir / "x.html").string()})),
               2, "--html");
  EXPECT_FALSE(std::filesystem::exists(dir / "x.html"));
}

// A --file longer than the pieces it is streamed in (64 KiB) scores exactly like
// the same text held whole (one --jsonl record): the same tokens, the same
// windows, the same values.
TEST(ScoreE2E, LongFileIsStreamedLikeOneWholeRecord) {
  TempDir dir("score-stream");
  std::string text;
  for (int i = 0; text.size() < 150000; ++i)
    text += ref_case(i % 2 ? "long_w64_s32" : "short_1")["text"].get<std::string>() + " " + std::to_string(i) + "\n";
  gpt2::test::write_file(dir / "long.txt", text);
  gpt2::test::write_file(dir / "long.jsonl", json({{"text", text}}).dump() + "\n");
  auto streamed = run_gpt2(score_args({"--file", (dir / "long.txt").string(), "--format", "tsv"}));
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
  auto whole = run_gpt2(score_args({"--jsonl", (dir / "long.jsonl").string(), "--format", "tsv"}));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  std::istringstream a(streamed.out), b(whole.out);
  std::string la, lb;
  int64_t rows = 0;
  std::getline(a, la);  // header
  std::getline(b, lb);
  while (std::getline(a, la)) {
    ASSERT_TRUE(std::getline(b, lb)) << "streamed output has more rows: " << la;
    // doc, index, id, text, logprob, rank, entropy
    std::vector<std::string> fa, fb;
    std::istringstream sa(la), sb(lb);
    for (std::string f; std::getline(sa, f, '\t');) fa.push_back(f);
    for (std::string f; std::getline(sb, f, '\t');) fb.push_back(f);
    ASSERT_EQ(fa.size(), 7u) << la;
    ASSERT_EQ(fb.size(), 7u) << lb;
    for (int k : {0, 1, 2, 3}) ASSERT_EQ(fa[static_cast<size_t>(k)], fb[static_cast<size_t>(k)]) << la << " / " << lb;
    EXPECT_NEAR(std::stod(fa[4]), std::stod(fb[4]), 2e-5) << la;
    EXPECT_NEAR(std::stod(fa[6]), std::stod(fb[6]), 5e-5) << la;
    ++rows;
  }
  EXPECT_FALSE(std::getline(b, lb)) << "whole output has more rows: " << lb;
  EXPECT_GT(rows, 30000);  // ~150 KB of text: several pieces
}

TEST(ScoreE2E, InvalidUtf8IsReadAsReplacementCharacters) {
  // The same policy as `gpt2 encode`: a warning, and U+FFFD in place of the bad bytes.
  gpt2::test::ProcOptions bad_utf8;
  bad_utf8.stdin_data = "ab\xff" "cd";
  auto r = run_gpt2(score_args({"--format", "jsonl", "--tokens"}), bad_utf8);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("not valid UTF-8"), std::string::npos) << r.err;
  auto e = run_gpt2({"encode", "--json"}, bad_utf8);
  ASSERT_EQ(e.exit_code, 0);
  const auto ids = json::parse(e.out);
  const json d = jsonl(r.out).at(0);
  ASSERT_EQ(d["tokens"].size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(d["tokens"][i]["id"], ids[i]);
  EXPECT_EQ(d["bytes"], 5);
}

TEST(ScoreE2E, HtmlReportRendersInChromium) {
  TempDir dir("score-html");
  const json& c = ref_case("long_w64_s32");
  gpt2::test::write_file(dir / "text.txt", c["text"].get<std::string>() + " <b>&</b>");
  const auto html = dir / "report.html";
  auto r = run_gpt2(score_args({"--file", (dir / "text.txt").string(), "--html", html.string()}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = gpt2::test::read_file(html);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_EQ(page.find("<b>"), std::string::npos);  // the text is escaped
  EXPECT_NE(page.find("&lt;"), std::string::npos);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("class=\"b3\" title=\""), std::string::npos);
  EXPECT_NE(page.find("rank "), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(html.string() + ".tmp"));

  // Rendered by headless Chromium: not blank, the purple of rank > 1000 (nearly
  // every token of a random model) and the histogram bars' blue on screen.
  gpt2::test::ProcOptions slow;
  slow.timeout_s = 240;
  auto shot = gpt2::test::run_process({"/bin/bash", (gpt2::test::source_dir() / "scripts" / "check_html.sh").string(),
                                       html.string(), (dir / "shot.png").string(), "E5B0FF", "7fa7d8"},
                                      slow);
  EXPECT_EQ(shot.exit_code, 0) << shot.out << shot.err;
}
