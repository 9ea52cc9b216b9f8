#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "checkpoint_test_util.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"

namespace {

using namespace gpt2::test;
using gpt2::CheckpointFormat;

// Every weight with its released name, in registry order.
std::vector<std::pair<std::string, torch::Tensor>> all_tensors(const gpt2::ModelWeights& w) {
  std::vector<std::pair<std::string, torch::Tensor>> v;
  gpt2::for_each_weight(w.hp, [&](const gpt2::WeightId& id) { v.push_back({gpt2::weight_tf_name(id), w.at(id)}); });
  return v;
}

void expect_canonical_shapes(const gpt2::ModelWeights& w) {
  const int64_t C = w.hp.n_embd;
  EXPECT_EQ(w.wte.sizes(), (std::vector<int64_t>{w.hp.n_vocab, C}));
  EXPECT_EQ(w.wpe.sizes(), (std::vector<int64_t>{w.hp.n_ctx, C}));
  ASSERT_EQ(static_cast<int64_t>(w.blocks.size()), w.hp.n_layer);
  for (const auto& b : w.blocks) {
    EXPECT_EQ(b.attn_w.sizes(), (std::vector<int64_t>{C, 3 * C}));
    EXPECT_EQ(b.attn_b.sizes(), (std::vector<int64_t>{3 * C}));
    EXPECT_EQ(b.attn_proj_w.sizes(), (std::vector<int64_t>{C, C}));
    EXPECT_EQ(b.fc_w.sizes(), (std::vector<int64_t>{C, 4 * C}));
    EXPECT_EQ(b.fc_b.sizes(), (std::vector<int64_t>{4 * C}));
    EXPECT_EQ(b.mlp_proj_w.sizes(), (std::vector<int64_t>{4 * C, C}));
    EXPECT_EQ(b.ln_1_g.sizes(), (std::vector<int64_t>{C}));
  }
  for (const auto& [name, t] : all_tensors(w)) {
    EXPECT_EQ(t.scalar_type(), torch::kFloat32) << name;
    EXPECT_TRUE(t.is_contiguous()) << name;
  }
}

bool in_mapping(const gpt2::ModelWeights& w, const torch::Tensor& t) {
  for (const auto& s : w.storage)
    if (static_cast<const gpt2::MappedFile*>(s.get())->contains(t.data_ptr())) return true;
  return false;
}

TEST(LoadModelWeights, TinyRefTfBundleIsZeroCopy) {
  const auto w = gpt2::load_model_weights(tiny_ref_dir());
  EXPECT_EQ(w.format, CheckpointFormat::kTFBundle);
  EXPECT_EQ(w.hp.n_embd, 24);
  EXPECT_EQ(w.hp.n_layer, 3);
  EXPECT_EQ(w.hp.n_ctx, 64);
  expect_canonical_shapes(w);
  ASSERT_EQ(w.storage.size(), 1u);
  for (const auto& [name, t] : all_tensors(w)) EXPECT_TRUE(in_mapping(w, t)) << name;
}

TEST(LoadModelWeights, TinyRefBothFormatsAreBitIdentical) {
  gpt2::LoadOptions tf_opt;
  tf_opt.format = CheckpointFormat::kTFBundle;
  tf_opt.verify_checksums = true;
  gpt2::LoadOptions st_opt;
  st_opt.format = CheckpointFormat::kSafetensors;
  const auto a = gpt2::load_model_weights(tiny_ref_dir(), tf_opt);
  const auto b = gpt2::load_model_weights(tiny_ref_dir(), st_opt);
  EXPECT_EQ(b.format, CheckpointFormat::kSafetensors);
  expect_canonical_shapes(b);
  const auto ta = all_tensors(a), tb = all_tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    ASSERT_EQ(ta[i].second.sizes(), tb[i].second.sizes()) << ta[i].first;
    EXPECT_EQ(std::memcmp(ta[i].second.data_ptr(), tb[i].second.data_ptr(), ta[i].second.nbytes()), 0) << ta[i].first;
    EXPECT_TRUE(in_mapping(b, tb[i].second)) << tb[i].first;
  }
  // Not all zeros: the fixture has real random weights.
  EXPECT_GT(a.blocks[2].fc_w.abs().sum().item<float>(), 0.0f);
}

TEST(LoadModelWeights, SafetensorsOnlyDirectoryIsDetected) {
  TempDir d("st-only");
  copy_tiny_st(d.path());
  EXPECT_EQ(gpt2::detect_checkpoint_format(d.path()), CheckpointFormat::kSafetensors);
  const auto w = gpt2::load_model_weights(d.path());
  EXPECT_EQ(w.format, CheckpointFormat::kSafetensors);
  expect_canonical_shapes(w);
}

TEST(LoadModelWeights, HfTinyGpt2WithConfigJson) {
  const auto w = gpt2::load_model_weights(hf_tiny_dir());
  EXPECT_EQ(w.format, CheckpointFormat::kSafetensors);
  EXPECT_EQ(w.hp.n_embd, 2);
  EXPECT_EQ(w.hp.n_head, 2);
  EXPECT_EQ(w.hp.n_layer, 2);
  EXPECT_EQ(w.hp.n_vocab, 50257);
  EXPECT_EQ(w.hp.n_ctx, 1024);
  expect_canonical_shapes(w);
  for (const auto& [name, t] : all_tensors(w)) EXPECT_TRUE(in_mapping(w, t)) << name;
}

TEST(LoadModelWeights, TensorsOutliveTheWeightsStruct) {
  torch::Tensor wte;
  float first;
  {
    const auto w = gpt2::load_model_weights(tiny_ref_dir());
    wte = w.wte;
    first = w.wte[0][0].item<float>();
  }
  EXPECT_EQ(wte[0][0].item<float>(), first);  // the mapping is still alive
  EXPECT_TRUE(std::isfinite(wte.sum().item<float>()));
}

TEST(LoadModelWeights, Float16AndBfloat16AreConverted) {
  // Rewrite tiny-ref's safetensors with F16 / BF16 copies of every tensor.
  const auto f32 = gpt2::load_model_weights(tiny_ref_dir());
  for (auto dt : {torch::kHalf, torch::kBFloat16}) {
    TempDir d("half");
    copy_files(tiny_ref_dir(), d.path(), {"hparams.json"});
    const std::string src = read_file(tiny_ref_dir() / "model.safetensors");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(src[i]);
    auto header = nlohmann::json::parse(src.substr(8, n));
    std::string data;
    nlohmann::json out = nlohmann::json::object();
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") continue;
      const uint64_t b = (*it)["data_offsets"][0];
      std::vector<int64_t> shape = (*it)["shape"];
      auto t = torch::from_blob(const_cast<char*>(src.data() + 8 + n + b), shape, torch::kFloat32).to(dt);
      const uint64_t begin = data.size();
      data.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
      out[it.key()] = {{"dtype", dt == torch::kHalf ? "F16" : "BF16"}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
    }
    std::string h = out.dump();
    const uint64_t hn = h.size();
    std::string file(8, '\0');
    for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((hn >> (8 * i)) & 0xff);
    write_file(d / "model.safetensors", file + h + data);
    const auto w = gpt2::load_model_weights(d.path());
    expect_canonical_shapes(w);
    EXPECT_TRUE(torch::allclose(w.blocks[1].fc_w, f32.blocks[1].fc_w.to(dt).to(torch::kFloat32)));
    EXPECT_FALSE(in_mapping(w, w.wte));  // converted copies
  }
}

}  // namespace

namespace {

// The real 124M index over a sparse data file of the full size whose first 3 MiB
// are the real bytes: every shape of the released model is checked and loaded.
TEST(LoadModelWeights, Released124MIndexOverSparseDataFile) {
  TempDir d("124m-sparse");
  copy_files(tf_index_124m_dir(), d.path(), {"hparams.json", "model.ckpt.index"});
  const auto data = d / "model.ckpt.data-00000-of-00001";
  write_file(data, read_file(tf_index_124m_dir() / "model.ckpt.data-00000-of-00001.first3MiB"));
  std::filesystem::resize_file(data, 497759232);  // sparse: costs no disk space
  const auto w = gpt2::load_model_weights(d.path());
  EXPECT_EQ(w.hp, gpt2::HParams::released("124M"));
  expect_canonical_shapes(w);
  EXPECT_EQ(w.blocks[0].attn_w.sizes(), (std::vector<int64_t>{768, 2304}));
  EXPECT_EQ(w.wte.sizes(), (std::vector<int64_t>{50257, 768}));
  for (const auto& [name, t] : all_tensors(w)) EXPECT_TRUE(in_mapping(w, t)) << name;
  const auto b = w.blocks[0].attn_b;  // [3C], the real first tensor
  EXPECT_FLOAT_EQ(b[0].item<float>(), 0.48033914f);
  EXPECT_FLOAT_EQ(b[1].item<float>(), -0.5254326f);
  EXPECT_FLOAT_EQ(b[2].item<float>(), -0.42926455f);
  EXPECT_FLOAT_EQ(b[3].item<float>(), -0.2059525f);
  int64_t params = 0;
  for (const auto& [name, t] : all_tensors(w)) params += t.numel();
  EXPECT_EQ(params, w.hp.num_parameters());
}

}  // namespace

namespace {

TEST(LoadModelWeights, MisalignedFloat32IsCopiedNotWrapped) {
  TempDir d("misaligned");
  copy_files(tiny_ref_dir(), d.path(), {"hparams.json"});
  const auto parts = read_safetensors(tiny_ref_dir() / "model.safetensors");
  // JSON allows trailing whitespace: one extra byte shifts the data off 4-byte alignment.
  const std::string h = parts.header.dump() + " ";
  ASSERT_NE((8 + h.size()) % 4, 0u);
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write_file(d / "model.safetensors", file + h + parts.data);
  const auto w = gpt2::load_model_weights(d.path());
  const auto ref = gpt2::load_model_weights(tiny_ref_dir());
  EXPECT_FALSE(in_mapping(w, w.wte));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w.wte.data_ptr()) % alignof(float), 0u);
  EXPECT_TRUE(torch::equal(w.wte, ref.wte));
  EXPECT_TRUE(torch::equal(w.blocks[2].mlp_proj_w, ref.blocks[2].mlp_proj_w));
}

TEST(MappedFile, OpenErrors) {
  EXPECT_THROW(gpt2::MappedFile::open(data_dir() / "no-such-file"), gpt2::NotFoundError);
  EXPECT_THROW(gpt2::MappedFile::open(data_dir()), gpt2::IoError);
  TempDir d("mf");
  write_file(d / "empty", "");
  const auto m = gpt2::MappedFile::open(d / "empty");
  EXPECT_EQ(m->size(), 0u);
  EXPECT_EQ(m->data(), nullptr);
  write_file(d / "abc", "abc");
  const auto a = gpt2::MappedFile::open(d / "abc");
  ASSERT_EQ(a->size(), 3u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(a->data()), 3), "abc");
  EXPECT_TRUE(a->contains(a->data() + 2));
  EXPECT_FALSE(a->contains(a->data() + 3));
}

}  // namespace
