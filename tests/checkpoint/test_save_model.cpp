// The safetensors writer and save_model_dir: load -> save -> load is bit-identical
// from both input formats; the file is what GPT2LMHeadModel.save_pretrained writes
// (Hugging Face names, Conv1D [in, out], no lm_head); writes are atomic.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint_test_util.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "gpt2/checkpoint/save_model.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace {

using namespace gpt2;
using namespace gpt2::test;

void expect_bit_identical(const ModelWeights& a, const ModelWeights& b) {
  ASSERT_EQ(a.hp, b.hp);
  for_each_weight(a.hp, [&](const WeightId& id) {
    const torch::Tensor& ta = a.at(id);
    const torch::Tensor& tb = b.at(id);
    ASSERT_EQ(ta.sizes(), tb.sizes()) << weight_tf_name(id);
    EXPECT_EQ(std::memcmp(ta.contiguous().data_ptr(), tb.contiguous().data_ptr(), ta.nbytes()), 0)
        << weight_tf_name(id);
  });
}

class SaveModelDir : public ::testing::TestWithParam<CheckpointFormat> {};

TEST_P(SaveModelDir, RoundTripIsBitIdentical) {
  LoadOptions opt;
  opt.format = GetParam();
  const ModelWeights original = load_model_weights(tiny_ref_dir(), opt);
  TempDir out("saved");
  save_model_dir(out / "run", original, *Tokenizer::builtin());
  const ModelWeights again = load_model_weights(out / "run");
  EXPECT_EQ(again.format, CheckpointFormat::kSafetensors);
  expect_bit_identical(original, again);
  // The saved directory verifies like a downloaded one.
  EXPECT_TRUE(verify_model_dir(out / "run").ok());
}

INSTANTIATE_TEST_SUITE_P(BothFormats, SaveModelDir,
                         ::testing::Values(CheckpointFormat::kTFBundle, CheckpointFormat::kSafetensors));

TEST(SaveModelDirLayout, HuggingFaceNamesShapesAndConfig) {
  const ModelWeights w = load_model_weights(tiny_ref_dir());
  TempDir out("layout");
  save_model_dir(out.path(), w, *Tokenizer::builtin());
  const st::Header h = st::read_header(out / "model.safetensors");
  EXPECT_EQ(h.metadata.at("format"), "pt");
  EXPECT_EQ(h.data_start % 8, 0u);  // header padded: the data starts aligned
  EXPECT_EQ(h.find("lm_head.weight"), nullptr);  // tied: left out, as save_pretrained does
  ASSERT_NE(h.find("transformer.h.2.attn.c_attn.weight"), nullptr);
  EXPECT_EQ(h.find("transformer.h.2.attn.c_attn.weight")->shape, (std::vector<int64_t>{24, 72}));  // [in, out]
  EXPECT_EQ(h.find("transformer.h.0.mlp.c_proj.weight")->shape, (std::vector<int64_t>{96, 24}));
  EXPECT_EQ(h.find("transformer.wte.weight")->shape, (std::vector<int64_t>{50257, 24}));
  EXPECT_EQ(h.tensors.size(), 4u + 3u * 12u);
  for (const auto& t : h.tensors) EXPECT_EQ(t.dtype, "F32") << t.name;

  const auto config = nlohmann::json::parse(read_file(out / "config.json"));
  EXPECT_EQ(config["model_type"], "gpt2");
  EXPECT_EQ(config["n_embd"], 24);
  EXPECT_EQ(config["n_head"], 3);
  EXPECT_EQ(config["n_layer"], 3);
  EXPECT_EQ(config["n_positions"], 64);
  EXPECT_EQ(config["n_ctx"], 64);
  EXPECT_EQ(config["vocab_size"], 50257);
  EXPECT_EQ(config["layer_norm_epsilon"], 1e-5);
  EXPECT_EQ(config["activation_function"], "gelu_new");
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(HParams::from_hf_config(read_file(out / "config.json")), w.hp);
  EXPECT_EQ(HParams::load(out / "hparams.json"), w.hp);
  // The tokenizer's own files, byte for byte.
  EXPECT_EQ(read_file(out / "encoder.json"), read_file(data_dir() / "tokenizer" / "encoder.json"));
  EXPECT_EQ(read_file(out / "vocab.bpe"), read_file(data_dir() / "tokenizer" / "vocab.bpe"));
  // No temporary files are left behind.
  for (const auto& e : std::filesystem::directory_iterator(out.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
}

TEST(SaveModelDirLayout, RefusesWeightsThatDisagreeWithHparams) {
  ModelWeights w = load_model_weights(tiny_ref_dir());
  w.blocks[1].fc_b = torch::zeros({5});
  TempDir out("bad");
  try {
    save_model_dir(out / "run", w, *Tokenizer::builtin());
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("model/h1/mlp/c_fc/b"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(out / "run" / "model.safetensors"));
}

TEST(SafetensorsWriter, FailedWriteLeavesTheOldFile) {
  TempDir out("atomic");
  const float one = 1.0f;
  st::write_file(out / "x.safetensors", {{"a", "F32", {1}, &one, 4}}, {});
  const std::string before = read_file(out / "x.safetensors");
  // A size that does not match the shape is refused before anything is written.
  EXPECT_THROW(st::write_file(out / "x.safetensors", {{"a", "F32", {2}, &one, 4}}, {}), UsageError);
  EXPECT_THROW(st::write_file(out / "x.safetensors", {{"a", "F32", {1}, &one, 4}, {"a", "F32", {1}, &one, 4}}, {}),
               UsageError);
  EXPECT_EQ(read_file(out / "x.safetensors"), before);
  // Unwritable target directory: IoError naming it, nothing created.
  EXPECT_THROW(st::write_file(out / "missing-dir" / "y.safetensors", {{"a", "F32", {1}, &one, 4}}, {}), IoError);
}

TEST(SafetensorsWriter, HeaderParsesBackWithOffsets) {
  const float a[3] = {1, 2, 3};
  const uint16_t b[2] = {7, 8};
  const std::string header = st::make_header({{"b", "F32", {3}, a, 12}, {"a", "BF16", {2, 1}, b, 4}}, {{"k", "v"}});
  std::string file = header + std::string(reinterpret_cast<const char*>(a), 12) + std::string(reinterpret_cast<const char*>(b), 4);
  const st::Header h = st::parse_header(reinterpret_cast<const uint8_t*>(file.data()), file.size(), "mem");
  EXPECT_EQ(h.metadata.at("k"), "v");
  ASSERT_NE(h.find("b"), nullptr);
  EXPECT_EQ(h.find("b")->begin, h.data_start);       // laid out in the given order
  EXPECT_EQ(h.find("a")->begin, h.data_start + 12);
  EXPECT_EQ(h.find("a")->shape, (std::vector<int64_t>{2, 1}));
}

}  // namespace
