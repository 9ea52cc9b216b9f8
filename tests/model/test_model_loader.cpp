// load_model(): one call opens a model directory of either format, with one
// tokenizer policy (the directory's own vocabulary files, else the built-in one).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using namespace gpt2;
namespace fs = std::filesystem;

void copy_model_files(const fs::path& from, const fs::path& to, const std::vector<std::string>& names) {
  fs::create_directories(to);
  for (const auto& n : names) fs::copy_file(from / n, to / n);
}

ModelSpec spec_for(const fs::path& dir) {
  ModelSpec s;
  s.model = dir.string();
  s.device = "cpu";
  return s;
}

TEST(ModelLoader, DirectoryWithoutVocabularyUsesTheBuiltInOne) {
  test::TempDir d("no-vocab");
  copy_model_files(test::fixture_dir("tiny-ref"), d / "m", {"hparams.json", "model.safetensors"});
  LoadedModel m = load_model(spec_for(d / "m"));
  EXPECT_EQ(m.tokenizer.get(), Tokenizer::builtin().get());
  EXPECT_EQ(m.format, CheckpointFormat::kSafetensors);
  EXPECT_EQ(m.hp.n_ctx, 64);
  EXPECT_EQ(m.dir, d / "m");
  EXPECT_GE(m.load_ms, 0.0);
  EXPECT_NE(m.describe().find("safetensors, 3 layers, n_embd 24, n_ctx 64) as float32 on cpu"), std::string::npos)
      << m.describe();
  // encode --model and generate share the policy.
  EXPECT_EQ(tokenizer_for_model_dir(d / "m").get(), Tokenizer::builtin().get());
}

TEST(ModelLoader, DirectoryWithItsOwnVocabularyUsesIt) {
  test::TempDir d("own-vocab");
  copy_model_files(test::fixture_dir("tiny-ref"), d / "m",
                   {"hparams.json", "model.ckpt.index", "model.ckpt.data-00000-of-00001"});
  const fs::path tok = test::data_dir() / "tokenizer";
  // Other bytes than the built-in files (indented JSON), so it is really read from the directory.
  const std::string enc = nlohmann::json::parse(test::read_file(tok / "encoder.json")).dump(2);
  test::write_file(d / "m" / "encoder.json", enc);
  fs::copy_file(tok / "vocab.bpe", d / "m" / "vocab.bpe");
  LoadedModel m = load_model(spec_for(d / "m"));
  EXPECT_NE(m.tokenizer.get(), Tokenizer::builtin().get());
  EXPECT_EQ(m.tokenizer->encoder_json_text(), enc);
  EXPECT_EQ(m.format, CheckpointFormat::kTFBundle);
  EXPECT_EQ(m.tokenizer->encode_ordinary("hello world"), (std::vector<TokenId>{31373, 995}));
}

TEST(ModelLoader, HalfAVocabularyIsAnErrorNamingTheMissingFile) {
  test::TempDir d("half-vocab");
  copy_model_files(test::fixture_dir("tiny-ref"), d / "m", {"hparams.json", "model.safetensors"});
  fs::copy_file(test::data_dir() / "tokenizer" / "vocab.bpe", d / "m" / "vocab.bpe");
  try {
    load_model(spec_for(d / "m"));
    FAIL() << "no error";
  } catch (const NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.json"), std::string::npos) << e.what();
  }
}

TEST(ModelLoader, WeightTypeAndErrors) {
  ModelSpec s = spec_for(test::fixture_dir("tiny-ref"));
  s.weight_type = ops::WeightType::kBFloat16;
  LoadedModel m = load_model(s);
  EXPECT_EQ(m.model->weight_type(), ops::WeightType::kBFloat16);

  ModelSpec missing;
  missing.model = "355M";
  missing.models_dir = "/nonexistent/models";
  try {
    load_model(missing);
    FAIL() << "no error";
  } catch (const NotFoundError& e) {
    EXPECT_NE(std::string(e.what()).find("gpt2 download 355M"), std::string::npos) << e.what();
  }
  ModelSpec bad_device = spec_for(test::fixture_dir("tiny-ref"));
  bad_device.device = "tpu";
  EXPECT_THROW(load_model(bad_device), UsageError);
}

}  // namespace
