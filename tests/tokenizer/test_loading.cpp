// Loading vocabularies: the built-in one, the released files, Hugging Face's
// vocab.json / merges.txt, model directories, a small synthetic vocabulary,
// and clear errors for missing or malformed files and bad ids.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/test_support.hpp"
#include "tokenizer/byte_unicode.hpp"

using gpt2::TokenId;
using gpt2::Tokenizer;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string>& samples() {
  static const std::vector<std::string> s = {
      "hello world", "  Hello\n\nworld  ", "It's 2022, we'll see \xF0\x9F\x98\x80 \xE4\xB8\xAD\xE6\x96\x87",
      "def f(x):\n    return x ** 2\n", ""};
  return s;
}

fs::path tokenizer_data() { return gpt2::test::data_dir() / "tokenizer"; }

void expect_same_as_builtin(const Tokenizer& tok) {
  const auto builtin = Tokenizer::builtin();
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eot_id(), 50256);
  for (const auto& s : samples()) EXPECT_EQ(tok.encode_ordinary(s), builtin->encode_ordinary(s)) << s;
}

// A tiny vocabulary: the 256 byte tokens (id = byte), then "ab", "abc", " ab", <|endoftext|>.
std::string tiny_encoder_json(const std::string& extra_key = "", int extra_id = 0) {
  nlohmann::json j = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) j[gpt2::byte_unicode::encode_token(std::string(1, static_cast<char>(b)))] = b;
  j["ab"] = 256;
  j["abc"] = 257;
  j["\xC4\xA0" "ab"] = 258;  // "Ġab" = " ab"
  j["<|endoftext|>"] = 259;
  if (!extra_key.empty()) j[extra_key] = extra_id;
  return j.dump();
}

const char* kTinyMerges = "#version: 0.2\na b\nab c\n\xC4\xA0 ab\n";

template <typename F>
std::string format_error_of(F&& f) {
  try {
    f();
  } catch (const gpt2::FormatError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no exception";
}

}  // namespace

TEST(TokenizerLoading, BuiltinIsShared) {
  EXPECT_EQ(Tokenizer::builtin().get(), Tokenizer::builtin().get());
  EXPECT_EQ(Tokenizer::builtin()->token_bytes(31373), "hello");
  EXPECT_EQ(Tokenizer::builtin()->token_bytes(995), " world");
}

TEST(TokenizerLoading, ReleasedFiles) {
  const auto tok = Tokenizer::from_files(tokenizer_data() / "encoder.json", tokenizer_data() / "vocab.bpe");
  expect_same_as_builtin(*tok);
  EXPECT_EQ(tok->encoder_json_text(), gpt2::test::read_file(tokenizer_data() / "encoder.json"));
  EXPECT_EQ(tok->vocab_bpe_text(), gpt2::test::read_file(tokenizer_data() / "vocab.bpe"));
}

// The same vocabulary in other bytes (encoder.json re-serialized with indentation
// and its keys sorted): parsed from the files, not the built-in shortcut.
TEST(TokenizerLoading, ReformattedReleasedFilesAreParsed) {
  gpt2::test::TempDir dir("tok-reformatted");
  const std::string reformatted =
      nlohmann::json::parse(gpt2::test::read_file(tokenizer_data() / "encoder.json")).dump(1);
  gpt2::test::write_file(dir / "encoder.json", reformatted);
  fs::copy_file(tokenizer_data() / "vocab.bpe", dir / "vocab.bpe");
  const auto tok = Tokenizer::from_model_dir(dir.path());
  EXPECT_NE(tok.get(), Tokenizer::builtin().get());  // really parsed
  EXPECT_EQ(tok->encoder_json_text(), reformatted);
  expect_same_as_builtin(*tok);
}

TEST(TokenizerLoading, HuggingFaceVocabJsonGivesTheSameIds) {
  const auto tok = Tokenizer::from_files(tokenizer_data() / "hf-vocab.json", tokenizer_data() / "vocab.bpe");
  EXPECT_NE(tok.get(), Tokenizer::builtin().get());  // really parsed, not the shared built-in
  expect_same_as_builtin(*tok);
}

TEST(TokenizerLoading, ModelDirectoryWithReleasedOrHuggingFaceNames) {
  gpt2::test::TempDir released("tok-released");
  // encoder.json with a trailing newline: other bytes than the built-in file, same vocabulary
  gpt2::test::write_file(released / "encoder.json", gpt2::test::read_file(tokenizer_data() / "encoder.json") + "\n");
  fs::copy_file(tokenizer_data() / "vocab.bpe", released / "vocab.bpe");
  const auto from_dir = Tokenizer::from_model_dir(released.path());
  EXPECT_NE(from_dir.get(), Tokenizer::builtin().get());
  expect_same_as_builtin(*from_dir);

  gpt2::test::TempDir hf("tok-hf");
  fs::copy_file(tokenizer_data() / "hf-vocab.json", hf / "vocab.json");
  fs::copy_file(tokenizer_data() / "vocab.bpe", hf / "merges.txt");
  expect_same_as_builtin(*Tokenizer::from_model_dir(hf.path()));
}

TEST(TokenizerLoading, MissingFilesAreNotFound) {
  gpt2::test::TempDir empty("tok-empty");
  EXPECT_THROW(Tokenizer::from_model_dir(empty / "nope"), gpt2::NotFoundError);
  EXPECT_THROW(Tokenizer::from_model_dir(empty.path()), gpt2::NotFoundError);
  gpt2::test::write_file(empty / "encoder.json", "{}");
  try {
    Tokenizer::from_model_dir(empty.path());
    FAIL() << "expected NotFoundError";
  } catch (const gpt2::NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.bpe"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Tokenizer::from_files(empty / "missing.json", tokenizer_data() / "vocab.bpe"), gpt2::NotFoundError);
}

TEST(TokenizerLoading, SyntheticVocabulary) {
  const auto tok = Tokenizer::from_strings(tiny_encoder_json(), kTinyMerges, "tiny");
  EXPECT_EQ(tok->vocab_size(), 260);
  EXPECT_EQ(tok->eot_id(), 259);
  // "abc" -> a b c -> ab c -> abc;  " abd" -> Ġ a b d -> Ġ ab d -> Ġab d
  EXPECT_EQ(tok->encode_ordinary("abc abd"), (std::vector<TokenId>{257, 258, 'd'}));
  EXPECT_EQ(tok->encode("x<|endoftext|>", true), (std::vector<TokenId>{'x', 259}));
  EXPECT_EQ(tok->decode({257, 258, 'd'}), "abc abd");
  EXPECT_EQ(tok->token_bytes(258), " ab");
}

TEST(TokenizerLoading, MalformedEncoderJson) {
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings("not json", kTinyMerges, "bad"); }).find("bad encoder.json"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings("[1, 2]", kTinyMerges, "t"); }).find("object"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings(R"({"a": "x"})", kTinyMerges, "t"); }).find("not an integer"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings(R"({"a": 0, "<|endoftext|>": 1})", kTinyMerges, "t"); })
                .find("no token for byte"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings(tiny_encoder_json("xyz", 9999), kTinyMerges, "t"); })
                .find("9999"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings(tiny_encoder_json("xyz", 3), kTinyMerges, "t"); })
                .find("used twice"),
            std::string::npos);
  EXPECT_NE(format_error_of([] { Tokenizer::from_strings(R"({"a": {"b": 1}})", kTinyMerges, "t"); }).find("nested"),
            std::string::npos);
}

TEST(TokenizerLoading, MalformedVocabBpe) {
  const std::string enc = tiny_encoder_json();
  EXPECT_NE(format_error_of([&] { Tokenizer::from_strings(enc, "#version: 0.2\na b\nabc\n", "t"); }).find("t vocab.bpe line 3"),
            std::string::npos);
  EXPECT_NE(format_error_of([&] { Tokenizer::from_strings(enc, "#version: 0.2\na b c\n", "t"); }).find("line 2"),
            std::string::npos);
  EXPECT_NE(format_error_of([&] { Tokenizer::from_strings(enc, "#version: 0.2\nq zz\n", "t"); }).find("uses a token missing"),
            std::string::npos);
  EXPECT_NE(format_error_of([&] { Tokenizer::from_strings(enc, "#version: 0.2\nb c\n", "t"); }).find("makes a token missing"),
            std::string::npos);
  EXPECT_NE(format_error_of([&] { Tokenizer::from_strings(enc, "#version: 0.2\n", "t"); }).find("no merges"),
            std::string::npos);
  // Windows line endings and a missing final newline are fine.
  const auto tok = Tokenizer::from_strings(enc, "#version: 0.2\r\na b\r\nab c", "t");
  EXPECT_EQ(tok->encode_ordinary("abc"), (std::vector<TokenId>{257}));
}

TEST(TokenizerLoading, BadIdsAreUsageErrors) {
  const auto tok = Tokenizer::builtin();
  EXPECT_THROW(tok->token_bytes(-1), gpt2::UsageError);
  EXPECT_THROW(tok->token_bytes(50257), gpt2::UsageError);
  EXPECT_THROW(tok->decode({31373, 50257}), gpt2::UsageError);
  try {
    tok->decode({123456});
    FAIL() << "expected UsageError";
  } catch (const gpt2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("123456"), std::string::npos) << e.what();
  }
  EXPECT_EQ(tok->decode({}), "");
}
