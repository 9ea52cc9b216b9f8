#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/kv_cache.hpp"
#include "support/model_test_util.hpp"

using gpt2::KVCache;

TEST(KVCache, PreallocatesEveryLayer) {
  auto hp = gpt2::test::tiny_hparams();
  KVCache c(hp, 2, 0, torch::kFloat32);
  EXPECT_EQ(c.batch(), 2);
  EXPECT_EQ(c.capacity(), hp.n_ctx);
  EXPECT_EQ(c.length(), 0);
  EXPECT_EQ(c.num_layers(), hp.n_layer);
  EXPECT_EQ(c.bytes(), 2 * hp.n_layer * 2 * hp.n_head * hp.n_ctx * hp.head_dim() * 4);
}

TEST(KVCache, WritesByPositionAndReturnsTheFilledPrefix) {
  auto hp = gpt2::test::tiny_hparams();
  KVCache c(hp, 1, 5, torch::kFloat32);
  const int64_t H = hp.n_head, D = hp.head_dim();
  torch::Tensor k1 = torch::full({1, H, 2, D}, 1.0), v1 = torch::full({1, H, 2, D}, -1.0);
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    auto [K, V] = c.write(l, k1, v1);
    EXPECT_EQ(K.sizes(), torch::IntArrayRef({1, H, 2, D}));
    EXPECT_TRUE(torch::equal(K, k1));
    EXPECT_TRUE(torch::equal(V, v1));
  }
  c.advance(2);
  torch::Tensor k2 = torch::full({1, H, 1, D}, 2.0), v2 = torch::full({1, H, 1, D}, -2.0);
  auto [K, V] = c.write(0, k2, v2);
  ASSERT_EQ(K.size(2), 3);
  EXPECT_TRUE(torch::equal(K.narrow(2, 0, 2), k1));
  EXPECT_TRUE(torch::equal(K.narrow(2, 2, 1), k2));
  EXPECT_TRUE(torch::equal(V.narrow(2, 2, 1), v2));
  c.advance(1);
  EXPECT_EQ(c.length(), 3);
  // 3 more do not fit in 5
  EXPECT_THROW(c.write(0, torch::zeros({1, H, 3, D}), torch::zeros({1, H, 3, D})), gpt2::UsageError);
  EXPECT_THROW(c.advance(3), gpt2::UsageError);
  EXPECT_THROW(c.write(hp.n_layer, k2, v2), gpt2::UsageError);
  c.reset();
  EXPECT_EQ(c.length(), 0);
}

TEST(KVCache, RejectsBadSizes) {
  auto hp = gpt2::test::tiny_hparams();
  EXPECT_THROW(KVCache(hp, 0, 0, torch::kFloat32), gpt2::UsageError);
  EXPECT_THROW(KVCache(hp, 1, hp.n_ctx + 1, torch::kFloat32), gpt2::UsageError);
  EXPECT_THROW(KVCache(hp, 1, -3, torch::kFloat32), gpt2::UsageError);
}
