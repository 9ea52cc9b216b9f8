// End-to-end: `gpt2 info` and `gpt2 verify` on the fixture model directories and
// on corrupted copies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "checkpoint/checkpoint_test_util.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"
#include "support/test_support.hpp"

namespace {

using namespace gpt2::test;
namespace fs = std::filesystem;

TEST(CheckpointE2E, InfoTinyRef) {
  const auto r = run_gpt2({"info", tiny_ref_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "format:      tf-bundle (model.ckpt.index)")) << r.out;
  EXPECT_TRUE(contains(r.out, "n_vocab 50257, n_ctx 64, n_embd 24, n_head 3, n_layer 3")) << r.out;
  EXPECT_TRUE(contains(r.out, "tensors:     40 (float32)")) << r.out;
  // 50257*24 + 64*24 + 3 * (per-block) + 2*24, per block = 12*C^2 + 13*C
  const int64_t C = 24, params = 50257 * C + 64 * C + 3 * (12 * C * C + 13 * C) + 2 * C;
  EXPECT_EQ(params, 1229424);
  EXPECT_TRUE(contains(r.out, "parameters:  1,229,424")) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CheckpointE2E, InfoJsonHfTiny) {
  const auto r = run_gpt2({"info", "--json", hf_tiny_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["format"], "safetensors");
  EXPECT_EQ(j["hparams"]["n_embd"], 2);
  EXPECT_EQ(j["hparams"]["n_layer"], 2);
  EXPECT_EQ(j["tensor_count"], 28);
  EXPECT_EQ(j["dtype"], "float32");
  int64_t on_disk = 0;
  for (const auto& e : fs::directory_iterator(hf_tiny_dir())) on_disk += static_cast<int64_t>(e.file_size());
  EXPECT_EQ(j["bytes_on_disk"], on_disk);
  // wte + wpe + 2 blocks + ln_f for C=2: 50257*2 + 1024*2 + 2*(12*4 + 13*2) + 4
  EXPECT_EQ(j["parameter_count"], 50257 * 2 + 1024 * 2 + 2 * (12 * 4 + 13 * 2) + 4);
}

TEST(CheckpointE2E, InfoByNameWithModelsDir) {
  const auto r = run_gpt2({"info", "124M", "--models-dir", (data_dir() / "tf-index").string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["tensor_count"], 148);
  EXPECT_EQ(j["parameter_count"], 124439808);
  ProcOptions env;
  env.env = {{"GPT2_MODELS_DIR", (data_dir() / "tf-index").string()}};
  const auto e = run_gpt2({"info", "117M"}, env);
  EXPECT_EQ(e.exit_code, 0) << e.err;  // 117M is an alias of 124M
}

TEST(CheckpointE2E, VerifyGoodBothFormats) {
  auto r = run_gpt2({"verify", tiny_ref_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "OK ")) << r.out;
  EXPECT_TRUE(contains(r.out, "tf-bundle, 40 tensors, 4,917,696 bytes crc32c-verified")) << r.out;
  r = run_gpt2({"verify", "--format", "safetensors", tiny_ref_dir().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "safetensors, 40 tensors")) << r.out;
  r = run_gpt2({"verify", hf_tiny_dir().string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(CheckpointE2E, VerifyFlippedByte) {
  TempDir d("e2e-flip");
  copy_tiny_tf(d.path());
  const auto idx = gpt2::tf::read_bundle_index(d / "model.ckpt.index");
  flip_byte(d / "model.ckpt.data-00000-of-00001", static_cast<size_t>(idx.find("model/wpe")->offset + 17));
  const auto r = run_gpt2({"verify", d.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "model.ckpt.data-00000-of-00001: tensor 'model/wpe': crc32c mismatch")) << r.err;
  EXPECT_TRUE(contains(r.err, "gpt2: error: " + d.path().string() + ": 1 problem found")) << r.err;
  EXPECT_FALSE(contains(r.out, "OK")) << r.out;
}

TEST(CheckpointE2E, VerifyTruncatedAndBadHparams) {
  TempDir d("e2e-trunc");
  copy_tiny_tf(d.path());
  truncate_file(d / "model.ckpt.data-00000-of-00001", 1000000);
  write_file(d / "hparams.json", R"({"n_vocab":50257,"n_ctx":64,"n_embd":24,"n_head":3,"n_layer":4})");
  const auto r = run_gpt2({"verify", d.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "truncated: 1000000 bytes, the index needs 4917696")) << r.err;
  EXPECT_TRUE(contains(r.err, "tensor 'model/h3/ln_1/g': missing")) << r.err;
}

TEST(CheckpointE2E, GarbageIndexAndSafetensorsHeader) {
  TempDir d("e2e-garbage");
  copy_tiny_tf(d.path());
  write_file(d / "model.ckpt.index", std::string(200, 'x'));
  auto r = run_gpt2({"info", d.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "gpt2: error: " + (d / "model.ckpt.index").string() + ": bad table magic")) << r.err;
  r = run_gpt2({"verify", d.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "model.ckpt.index: bad table magic")) << r.err;

  TempDir s("e2e-st");
  copy_tiny_st(s.path());
  std::string f = read_file(s / "model.safetensors");
  f[5] = '\x01';  // header length ~ 2^40
  write_file(s / "model.safetensors", f);
  r = run_gpt2({"verify", s.path().string()});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_TRUE(contains(r.err, "model.safetensors: header length")) << r.err;
}

TEST(CheckpointE2E, MissingModelAndBadFormatFlag) {
  auto r = run_gpt2({"verify", "355M", "--models-dir", (data_dir() / "no-models").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(contains(r.err, "gpt2 download 355M")) << r.err;
  r = run_gpt2({"info", tiny_ref_dir().string(), "--format", "onnx"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "unknown checkpoint format 'onnx'")) << r.err;
}

}  // namespace
