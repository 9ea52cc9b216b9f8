// The weight registry against independent facts: the real released 124M index
// (names, shapes), Hugging Face's naming, and its own iteration order.
#include <gtest/gtest.h>

#include <set>

#include "checkpoint_test_util.hpp"
#include "gpt2/base/hparams.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"
#include "gpt2/checkpoint/weight_registry.hpp"

namespace {

using namespace gpt2;

TEST(WeightRegistry, MatchesTheReleased124MIndexExactly) {
  const tf::BundleIndex index = tf::read_bundle_index(test::tf_index_124m_dir() / "model.ckpt.index");
  const HParams hp = HParams::released("124M");
  std::set<std::string> registry_names;
  for_each_weight(hp, [&](const WeightId& id) {
    const std::string name = weight_tf_name(id);
    registry_names.insert(name);
    const tf::BundleEntry* e = index.find(name);
    ASSERT_NE(e, nullptr) << name << " is not in the released index";
    std::vector<int64_t> want = weight_shape(id, hp);
    if (weight_kind(id.field).role == WeightRole::kProjection) want.insert(want.begin(), 1);  // TF's [1, in, out]
    EXPECT_EQ(e->shape, want) << name;
  });
  EXPECT_EQ(registry_names.size(), index.entries.size());  // 148: nothing in the index is left out
  EXPECT_EQ(weight_count(hp), 148);
}

TEST(WeightRegistry, HuggingFaceNamesAndIndexRoundTrip) {
  HParams hp;
  hp.n_layer = 3;
  EXPECT_EQ(weight_hf_name({-1, WeightField::kWte}), "transformer.wte.weight");
  EXPECT_EQ(weight_hf_name({2, WeightField::kAttnW}), "transformer.h.2.attn.c_attn.weight");
  EXPECT_EQ(weight_hf_name({0, WeightField::kMlpProjB}, false), "h.0.mlp.c_proj.bias");
  EXPECT_EQ(weight_tf_name({1, WeightField::kLn2G}), "model/h1/ln_2/g");
  int64_t i = 0;
  for_each_weight(hp, [&](const WeightId& id) {
    EXPECT_EQ(weight_index(id), i);
    EXPECT_EQ(weight_at(i), id);
    ++i;
  });
  EXPECT_EQ(i, 4 + 3 * 12);
}

TEST(WeightRegistry, ShapesFollowHparams) {
  HParams hp;
  hp.n_vocab = 100;
  hp.n_ctx = 16;
  hp.n_embd = 8;
  EXPECT_EQ(weight_shape({-1, WeightField::kWte}, hp), (std::vector<int64_t>{100, 8}));
  EXPECT_EQ(weight_shape({-1, WeightField::kWpe}, hp), (std::vector<int64_t>{16, 8}));
  EXPECT_EQ(weight_shape({0, WeightField::kAttnW}, hp), (std::vector<int64_t>{8, 24}));
  EXPECT_EQ(weight_shape({0, WeightField::kAttnB}, hp), (std::vector<int64_t>{24}));
  EXPECT_EQ(weight_shape({0, WeightField::kFcW}, hp), (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(weight_shape({0, WeightField::kMlpProjW}, hp), (std::vector<int64_t>{32, 8}));
  EXPECT_EQ(weight_shape({0, WeightField::kLn1G}, hp), (std::vector<int64_t>{8}));
}

}  // namespace
