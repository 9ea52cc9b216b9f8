// End-to-end tests of `gpt2 encode` and `gpt2 decode` (the real binary).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/test_support.hpp"

using gpt2::test::ProcOptions;
using gpt2::test::run_gpt2;
using gpt2::test::TempDir;

namespace {

ProcOptions with_stdin(const std::string& data) {
  ProcOptions o;
  o.stdin_data = data;
  return o;
}

// Run with an empty models directory, so nothing depends on downloaded models.
ProcOptions no_models(const TempDir& dir, const std::string& stdin_data = "") {
  ProcOptions o;
  o.stdin_data = stdin_data;
  o.env.emplace_back("GPT2_MODELS_DIR", (dir / "models").string());
  return o;
}

}  // namespace

TEST(TokenizerCli, EncodeText) {
  TempDir dir("enc");
  const auto r = run_gpt2({"encode", "--text", "hello world"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 995\n");
  EXPECT_EQ(r.err, "");
}

TEST(TokenizerCli, EncodeStdinFileJsonCount) {
  TempDir dir("enc");
  auto r = run_gpt2({"encode"}, no_models(dir, "hello world"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 995\n");

  gpt2::test::write_file(dir / "in.txt", "Hello, world!");
  r = run_gpt2({"encode", "--file", (dir / "in.txt").string(), "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "[15496,11,995,0]\n");

  r = run_gpt2({"encode", "-f", (dir / "in.txt").string(), "--count"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "4\n");

  r = run_gpt2({"encode", "--text", ""});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\n");
  r = run_gpt2({"encode", "--json"}, with_stdin(""));
  EXPECT_EQ(r.out, "[]\n");
}

TEST(TokenizerCli, EndOfTextIsOrdinaryUnlessAllowed) {
  auto r = run_gpt2({"encode", "--text", "hello <|endoftext|>"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 1279 91 437 1659 5239 91 29\n");
  r = run_gpt2({"encode", "--allow-special", "--text", "hello <|endoftext|>"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 220 50256\n");
}

TEST(TokenizerCli, DecodeArgumentsAndStdin) {
  auto r = run_gpt2({"decode", "31373", "995"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");
  r = run_gpt2({"decode", "31373,995"});
  EXPECT_EQ(r.out, "hello world");
  r = run_gpt2({"decode"}, with_stdin("[31373, 995]\n"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");
  r = run_gpt2({"decode"}, with_stdin("31373\n995 50256\n"));
  EXPECT_EQ(r.out, "hello world<|endoftext|>");
  // Raw bytes: half an emoji comes out as its bytes.
  r = run_gpt2({"decode", "47249"});
  EXPECT_EQ(r.out, "\xF0\x9F\x98");
}

TEST(TokenizerCli, BadIdsAreNamed) {
  auto r = run_gpt2({"decode", "31373", "50257"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("50257"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  r = run_gpt2({"decode"}, with_stdin("12 hello"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'hello'"), std::string::npos) << r.err;
  r = run_gpt2({"decode", "99999999999999999999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("99999999999999999999"), std::string::npos) << r.err;
}

TEST(TokenizerCli, UsageAndMissingFiles) {
  TempDir dir("enc");
  auto r = run_gpt2({"encode", "--text", "a", "--file", (dir / "x").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--text"), std::string::npos) << r.err;
  r = run_gpt2({"encode", "--json", "--count", "--text", "a"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_gpt2({"encode", "--file", (dir / "missing.txt").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("missing.txt"), std::string::npos) << r.err;
  r = run_gpt2({"encode", "--model", "124M", "--text", "a"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("gpt2 download 124M"), std::string::npos) << r.err;
}

TEST(TokenizerCli, ModelDirectoryTokenizerFiles) {
  TempDir dir("enc");
  const auto model = dir / "models" / "124M";
  std::filesystem::create_directories(model);
  const auto data = gpt2::test::data_dir() / "tokenizer";
  std::filesystem::copy_file(data / "hf-vocab.json", model / "vocab.json");
  std::filesystem::copy_file(data / "vocab.bpe", model / "merges.txt");
  auto r = run_gpt2({"encode", "--model", "124M", "--text", "hello world"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 995\n");
  r = run_gpt2({"decode", "--models-dir", (dir / "models").string(), "--model", "117M", "31373"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello");
  // A broken vocabulary file is a clear error naming it.
  gpt2::test::write_file(model / "vocab.json", "{ not json");
  r = run_gpt2({"encode", "--model", "124M", "--text", "x"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("vocab.json"), std::string::npos) << r.err;
}

// The loader's one vocabulary policy: a model directory without vocabulary
// files uses the built-in one, for encode as for generate.
TEST(TokenizerCli, ModelDirectoryWithoutVocabularyUsesTheBuiltInOne) {
  TempDir dir("enc");
  const auto model = dir / "models" / "mine";
  std::filesystem::create_directories(model);
  std::filesystem::copy_file(gpt2::test::data_dir() / "tiny-ref" / "hparams.json", model / "hparams.json");
  auto r = run_gpt2({"encode", "--model", model.string(), "--text", "hello world"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "31373 995\n");
  r = run_gpt2({"decode", "--model", model.string(), "31373", "995"}, no_models(dir));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "hello world");
}

TEST(TokenizerCli, InvalidUtf8IsReplacedWithAWarning) {
  const auto r = run_gpt2({"encode"}, with_stdin("caf\xE9"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "66 1878 4210\n");  // "caf" + U+FFFD
  EXPECT_NE(r.err.find("U+FFFD"), std::string::npos) << r.err;
}

TEST(TokenizerCli, RoundTripThroughBothCommands) {
  const std::string text = "Grüße 世界 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD\r\n\ttabs   and  spaces\u00A0\u3000 end  ";
  const auto enc = run_gpt2({"encode"}, with_stdin(text));
  ASSERT_EQ(enc.exit_code, 0) << enc.err;
  const auto dec = run_gpt2({"decode"}, with_stdin(enc.out));
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, text);
}

TEST(TokenizerCli, StatsGoToStderr) {
  const auto r = run_gpt2({"encode", "--count", "--stats", "--text", "hello world"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2\n");
  EXPECT_NE(r.err.find("MB/s"), std::string::npos) << r.err;
}
