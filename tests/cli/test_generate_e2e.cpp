// End-to-end tests of `gpt2 generate` and `gpt2 sample-unconditional` on the
// tiny-ref fixture: the real binary for each output format and error, and the
// app in-process for the interactive loop and Ctrl-C.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>
#include <torch/cuda.h>

#include "cli/app.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/test_support.hpp"

using gpt2::test::run_gpt2;
using nlohmann::json;

namespace {

using gpt2::test::tiny_ref;

const std::string kBar80(80, '=');

std::string header(int n) { return std::string(40, '=') + " SAMPLE " + std::to_string(n) + " " + std::string(40, '='); }

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// tiny-ref's greedy continuation of "Hello, my dog is cute" (tests/data/tiny-ref/expected.json)
std::string greedy_text() {
  json e = json::parse(gpt2::test::read_file(gpt2::test::data_dir() / "tiny-ref" / "expected.json"));
  return gpt2::Tokenizer::builtin()->decode(e["cases"][0]["greedy"].get<std::vector<gpt2::TokenId>>());
}

// Runs the app in-process with the given stdin text and a TTY flag.
struct InProcess {
  std::ostringstream out, err;
  int code = -1;
  InProcess(std::vector<std::string> args, const std::string& input, bool tty, std::streambuf* out_buf = nullptr) {
    std::istringstream in(input);
    std::ostream real_out(out_buf != nullptr ? out_buf : out.rdbuf());
    gpt2::cli::CliIO io{in, real_out, err, tty, false};
    args.insert(args.begin(), "gpt2");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    code = gpt2::cli::run_cli(static_cast<int>(argv.size()), argv.data(), io);
    std::signal(SIGINT, SIG_DFL);
    gpt2::clear_interrupt();
  }
};

}  // namespace

TEST(GenerateE2E, GreedyReleasedFormat) {
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello, my dog is cute", "--length", "20",
                     "--temperature", "0", "--nsamples", "2", "--batch-size", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string want = header(1) + "\n" + greedy_text() + "\n" + header(2) + "\n" + greedy_text() + "\n" + kBar80 + "\n";
  EXPECT_EQ(r.out, want);
}

// A float16 KV cache moves the logits only by the rounding of keys and values
// (2^-11 relative each); the float64 reference's smallest greedy margin on this
// prompt is 0.0098 logits, so tiny-ref's continuation must not change.
TEST(GenerateE2E, Float16KvCacheKeepsTheGreedyContinuation) {
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello, my dog is cute", "--length", "20",
                     "--temperature", "0", "--kv-cache", "float16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, header(1) + "\n" + greedy_text() + "\n" + kBar80 + "\n");
}

TEST(GenerateE2E, SeedReproducesAndBatchingDoesNotChangeSamples) {
  const std::vector<std::string> base = {"generate", "--model", tiny_ref(), "--prompt", "The quick brown fox",
                                         "--length", "15", "--nsamples", "4", "--top-k", "40", "--seed", "77",
                                         "--ignore-eot"};
  auto a = run_gpt2(base);
  auto b = run_gpt2(base);
  auto with_batch = base;
  with_batch.insert(with_batch.end(), {"--batch-size", "2"});
  auto c = run_gpt2(with_batch);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.out, c.out);
  for (int n = 1; n <= 4; ++n) EXPECT_NE(a.out.find(header(n)), std::string::npos);
  EXPECT_EQ(a.err.find("seed"), std::string::npos) << "an explicit seed is not announced";
}

TEST(GenerateE2E, RandomSeedIsPrintedAndReproduces) {
  auto a = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hi", "--length", "10", "--raw"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const auto at = a.err.find("--seed ");
  ASSERT_NE(at, std::string::npos) << a.err;
  const std::string seed = a.err.substr(at + 7, a.err.find(' ', at + 7) - at - 7);
  auto b = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hi", "--length", "10", "--raw", "--seed", seed});
  EXPECT_EQ(a.out, b.out);
}

TEST(GenerateE2E, JsonlOneObjectPerSample) {
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello", "--length", "6", "--nsamples", "3",
                     "--seed", "5", "--format", "jsonl", "--ignore-eot", "--top-p", "0.9"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ls = lines(r.out);
  ASSERT_EQ(ls.size(), 3u) << r.out;
  for (size_t i = 0; i < ls.size(); ++i) {
    json j = json::parse(ls[i]);
    EXPECT_EQ(j["sample"], i + 1);
    EXPECT_EQ(j["prompt"], "Hello");
    EXPECT_EQ(j["prompt_tokens"], json::array({15496}));
    EXPECT_EQ(j["seed"], 5);
    EXPECT_EQ(j["tokens"].size(), 6u);
    EXPECT_EQ(j["finish_reason"], "length");
    EXPECT_EQ(j["settings"]["top_p"], 0.9);
    EXPECT_EQ(j["settings"]["length"], 6);
    EXPECT_TRUE(j["timings"].contains("generated_tokens_per_s"));
    EXPECT_TRUE(j["timings"].contains("load_ms"));
    EXPECT_EQ(j["text"], gpt2::Tokenizer::builtin()->decode(j["tokens"].get<std::vector<gpt2::TokenId>>()));
  }
}

TEST(GenerateE2E, RawEchoAndPromptFromStdinOrFile) {
  gpt2::test::ProcOptions stdin_opt;
  stdin_opt.stdin_data = "Hello, my dog is cute\n";
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--length", "20", "--temperature", "0", "--raw", "--echo"},
                    stdin_opt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, my dog is cute" + greedy_text() + "\n");

  gpt2::test::TempDir dir("prompt");
  gpt2::test::write_file(dir / "p.txt", "Hello, my dog is cute\n");
  auto f = run_gpt2({"generate", "--model", tiny_ref(), "--length", "20", "--temperature", "0", "--raw",
                     "--prompt-file", (dir / "p.txt").string()});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, greedy_text() + "\n");

  auto missing = run_gpt2({"generate", "--model", tiny_ref(), "--prompt-file", (dir / "none.txt").string()});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_NE(missing.err.find("none.txt"), std::string::npos);
}

TEST(GenerateE2E, StopStringEndsTheSample) {
  const std::string full = greedy_text();
  const std::string stop = full.substr(full.size() / 2, 6);
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello, my dog is cute", "--length", "20",
                     "--temperature", "0", "--raw", "--stop", stop});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, full.substr(0, full.find(stop)) + "\n");
}

TEST(GenerateE2E, PromptTooLong) {
  std::string prompt;
  for (int i = 0; i < 70; ++i) prompt += "word ";
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", prompt, "--length", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--truncate-prompt"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // 40 prompt tokens + 30 - 1 > 64: suggests --length 25 (the context rule: 40 + 25 - 1 = 64)
  std::string p40;
  for (int i = 0; i < 40; ++i) p40 += " word";
  auto s = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", p40, "--length", "30"});
  EXPECT_EQ(s.exit_code, 2);
  EXPECT_NE(s.err.find("--length 25 or less"), std::string::npos) << s.err;
  auto t = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", prompt, "--length", "10", "--truncate-prompt",
                     "--format", "jsonl", "--seed", "1", "--ignore-eot"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  json j = json::parse(t.out);
  EXPECT_EQ(j["prompt_tokens"].size(), 55u);  // 55 + 10 - 1 = 64
  EXPECT_EQ(j["tokens"].size(), 10u);
}

// The context rule at its boundary through the binary: a 40-token prompt with
// --length 25 computes exactly n_ctx = 64 positions and runs; --length 26 is refused.
TEST(GenerateE2E, ContextRuleBoundary) {
  std::string p40;
  for (int i = 0; i < 40; ++i) p40 += " word";
  auto ok = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", p40, "--length", "25", "--ignore-eot",
                      "--format", "jsonl", "--seed", "3"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  json j = json::parse(ok.out);
  EXPECT_EQ(j["prompt_tokens"].size(), 40u);
  EXPECT_EQ(j["tokens"].size(), 25u);
  auto refused = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", p40, "--length", "26"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("need 65 positions"), std::string::npos) << refused.err;
  // sample-unconditional: the 1-token <|endoftext|> prompt leaves room for n_ctx tokens.
  auto unc = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "1", "--length", "64",
                       "--ignore-eot", "--format", "jsonl", "--seed", "3"});
  ASSERT_EQ(unc.exit_code, 0) << unc.err;
  EXPECT_EQ(json::parse(unc.out)["tokens"].size(), 64u);
  auto unc_over = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "1", "--length", "65"});
  EXPECT_EQ(unc_over.exit_code, 2);
  EXPECT_NE(unc_over.err.find("--length 64 or less"), std::string::npos) << unc_over.err;
}

TEST(GenerateE2E, UnconditionalSamplesAreNumberedAcrossBatches) {
  auto r = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "4", "--batch-size", "2",
                     "--length", "5", "--seed", "9"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t pos = 0;
  for (int n = 1; n <= 4; ++n) {
    const size_t at = r.out.find(header(n));
    ASSERT_NE(at, std::string::npos) << "SAMPLE " << n << "\n" << r.out;
    EXPECT_GE(at, pos);
    pos = at;
  }
  EXPECT_EQ(r.out.find(header(5)), std::string::npos);
  EXPECT_EQ(r.out.find(kBar80), std::string::npos);  // the released unconditional script prints none
}

TEST(GenerateE2E, UnconditionalDefaultLengthIsTheContext) {
  auto r = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "1", "--seed", "2",
                     "--ignore-eot", "--format", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["tokens"].size(), 64u);
  EXPECT_EQ(j["prompt"], nullptr);
  EXPECT_EQ(j["prompt_tokens"], json::array({50256}));
}

TEST(GenerateE2E, StreamedOutputIsValidUtf8) {
  auto r = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "2", "--temperature", "2",
                     "--seed", "11", "--ignore-eot", "--raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NO_THROW(json(r.out).dump());  // nlohmann throws on invalid UTF-8
}

TEST(GenerateE2E, MissingModelNamesTheDownloadCommand) {
  gpt2::test::TempDir empty("models");
  gpt2::test::ProcOptions opt;
  opt.env = {{"GPT2_MODELS_DIR", empty.path().string()}};
  auto r = run_gpt2({"generate", "--prompt", "hi", "--model", "117M"}, opt);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("gpt2 download 124M"), std::string::npos) << r.err;
  auto u = run_gpt2({"sample-unconditional", "--models-dir", empty.path().string(), "--nsamples", "1"});
  EXPECT_EQ(u.exit_code, 3);
  EXPECT_NE(u.err.find("gpt2 download 124M"), std::string::npos) << u.err;
  auto d = run_gpt2({"generate", "--prompt", "hi", "--model", (empty.path() / "nope").string()});
  EXPECT_EQ(d.exit_code, 3);
}

TEST(GenerateE2E, BadOptionValues) {
  const std::vector<std::vector<std::string>> bad = {
      {"--temperature", "-1"}, {"--top-k", "-3"},       {"--top-p", "0"},       {"--top-p", "1.5"},
      {"--nsamples", "0"},     {"--nsamples", "3", "--batch-size", "2"},        {"--batch-size", "0"},
      {"--length", "0"},       {"--length", "65"},      {"--format", "xml"},    {"--dtype", "fp8"},
      {"--device", "tpu"},     {"--raw", "--format", "jsonl"},                  {"--stop", ""},
      {"--temperature", "hot"}, {"--threads", "-1"},    {"--prompt-file", "x", "--prompt", "y"},
      {"--kv-cache", "bf16"},
  };
  // in-process (the binary's start-up dominates otherwise); the exit codes are run_cli's
  for (const auto& extra : bad) {
    std::vector<std::string> args = {"generate", "--model", tiny_ref(), "--prompt", "hi"};
    args.insert(args.end(), extra.begin(), extra.end());
    InProcess p(args, "", false);
    std::string joined;
    for (const auto& e : extra) joined += e + " ";
    EXPECT_EQ(p.code, 2) << joined << "\n" << p.err.str();
    EXPECT_FALSE(p.err.str().empty()) << joined;
    EXPECT_EQ(p.out.str().find("SAMPLE"), std::string::npos) << joined;
  }
  EXPECT_EQ(InProcess({"generate", "--model", tiny_ref(), "--prompt", ""}, "", false).code, 2);
  EXPECT_EQ(InProcess({"sample-unconditional", "--model", tiny_ref(), "--nsamples", "-1"}, "", false).code, 2);
  // and once through the real binary: a one-line message naming the flag
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "hi", "--top-p", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "gpt2: error: --top-p must be in (0, 1] (1 = off), got 0\n");
  if (!torch::cuda::is_available()) {
    auto cuda = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "hi", "--device", "cuda"});
    EXPECT_EQ(cuda.exit_code, 2);
    EXPECT_NE(cuda.err.find("cuda"), std::string::npos);
  }
}

TEST(GenerateE2E, VerbosePrintsTimings) {
  auto r = run_gpt2({"generate", "--model", tiny_ref(), "--prompt", "Hello", "--length", "5", "--seed", "1", "-v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("ms"), std::string::npos);
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << r.err;
}

// A real SIGINT to the binary: an endless jsonl run stops after the line it is
// writing, exits 0, and leaves only whole JSON objects on stdout.
TEST(GenerateE2E, SigintEndsEndlessJsonlAfterAWholeLine) {
  gpt2::test::ProcOptions opt;
  opt.signal = SIGINT;
  opt.signal_after_lines = 3;
  opt.timeout_s = 60;
  auto r = run_gpt2({"sample-unconditional", "--model", tiny_ref(), "--format", "jsonl", "--length", "8",
                     "--seed", "5"},
                    opt);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n') << "last line is incomplete";
  const auto ls = lines(r.out);
  EXPECT_GE(ls.size(), 3u);
  for (size_t i = 0; i < ls.size(); ++i) {
    json j = json::parse(ls[i]);  // throws (fails the test) on a half-written line
    EXPECT_EQ(j["sample"].get<int>(), static_cast<int>(i) + 1);
  }
}

TEST(GenerateInProcess, InteractiveLoopReasksOnEmptyAndEndsAtEof) {
  InProcess p({"generate", "--model", tiny_ref(), "--length", "20", "--temperature", "0"},
              "\nHello, my dog is cute\n", /*tty=*/true);
  EXPECT_EQ(p.code, 0) << p.err.str();
  const std::string err = p.err.str();
  size_t prompts = 0;
  for (size_t at = err.find("Model prompt >>> "); at != std::string::npos; at = err.find("Model prompt >>> ", at + 1))
    ++prompts;
  EXPECT_EQ(prompts, 3u) << err;  // empty, the prompt, then EOF
  EXPECT_NE(err.find("Prompt should not be empty!"), std::string::npos);
  EXPECT_EQ(p.out.str(), header(1) + "\n" + greedy_text() + "\n" + kBar80 + "\n");
}

namespace {
// Raises SIGINT once `lines` newlines have been written through it (no put
// area: every character goes through overflow/xsputn).
class InterruptAfterLines : public std::streambuf {
 public:
  explicit InterruptAfterLines(int lines) : left_(lines) {}
  const std::string& str() const { return data_; }

 protected:
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) put(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) put(s[i]);
    return n;
  }

 private:
  void put(char c) {
    data_ += c;
    if (c == '\n' && --left_ == 0) std::raise(SIGINT);
  }
  std::string data_;
  int left_;
};
}  // namespace

TEST(GenerateInProcess, CtrlCEndsAnEndlessRunAfterTheCurrentLine) {
  InterruptAfterLines buf(3);
  InProcess p({"sample-unconditional", "--model", tiny_ref(), "--length", "4", "--seed", "1", "--format", "jsonl"},
              "", false, &buf);
  EXPECT_EQ(p.code, 0) << p.err.str();
  auto ls = lines(buf.str());
  ASSERT_EQ(ls.size(), 3u);
  for (size_t i = 0; i < ls.size(); ++i) EXPECT_EQ(json::parse(ls[i])["sample"], i + 1);
  EXPECT_NE(p.err.str().find("interrupted"), std::string::npos);
}

TEST(GenerateInProcess, CtrlCWithAFixedCountIsAnInterruption) {
  InterruptAfterLines buf(2);  // at the end of sample 1 (its header, then its text) of a streamed run
  InProcess p({"generate", "--model", tiny_ref(), "--prompt", "Hi", "--length", "4", "--seed", "1", "--nsamples",
               "5", "--ignore-eot"},
              "", false, &buf);
  EXPECT_EQ(p.code, 130) << p.err.str();
  EXPECT_EQ(buf.str().find(header(1)), 0u) << buf.str();
  EXPECT_EQ(buf.str().find(header(2)), std::string::npos) << buf.str();
  EXPECT_EQ(lines(buf.str()).size(), 2u) << buf.str();
}
