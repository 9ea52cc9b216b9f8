// The weight cache: written on the first bfloat16/int8 load, memory-mapped on
// the next (bitwise the same logits, the float32 projections never read),
// rebuilt when the checkpoint changes or the cache is corrupt, off with
// weight_cache = false.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <fstream>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/model/weight_cache.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"

namespace {

using namespace gpt2;
namespace fs = std::filesystem;

fs::path copy_tiny(const test::TempDir& d) {
  const fs::path m = d / "m";
  fs::create_directories(m);
  for (const char* f : {"hparams.json", "model.ckpt.index", "model.ckpt.data-00000-of-00001"})
    fs::copy_file(test::fixture_dir("tiny-ref") / f, m / f);
  return m;
}

LoadedModel load(const fs::path& dir, ops::WeightType t, bool cache = true) {
  ModelSpec s;
  s.model = dir.string();
  s.device = "cpu";
  s.weight_type = t;
  s.weight_cache = cache;
  return load_model(s);
}

torch::Tensor logits(LoadedModel& m) {
  return m.model->forward(torch::tensor({{464, 3290, 318, 257, 1310}}, torch::kInt64));  // [1, 5, V]
}

class WeightCache : public ::testing::TestWithParam<ops::WeightType> {};

TEST_P(WeightCache, WrittenThenUsedWithIdenticalLogits) {
  test::TempDir d("cache");
  const fs::path m = copy_tiny(d);
  LoadedModel first = load(m, GetParam());
  const fs::path file = weight_cache_path(m, GetParam());
  EXPECT_EQ(first.weight_cache, "written " + file.string());
  ASSERT_TRUE(fs::exists(file));
  LoadedModel second = load(m, GetParam());
  EXPECT_EQ(second.weight_cache, "used " + file.string());
  EXPECT_TRUE(torch::equal(logits(first), logits(second)));
  // Stale: the checkpoint changed (its mtime moved).
  const auto data = m / "model.ckpt.data-00000-of-00001";
  fs::last_write_time(data, fs::last_write_time(data) + std::chrono::seconds(5));
  LoadedModel third = load(m, GetParam());
  EXPECT_EQ(third.weight_cache.rfind("rebuilt ", 0), 0u) << third.weight_cache;
  EXPECT_NE(third.weight_cache.find("stale"), std::string::npos) << third.weight_cache;
  EXPECT_EQ(load(m, GetParam()).weight_cache, "used " + file.string());
  // Corrupt: one flipped byte in the cached data.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-3, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(-3, std::ios::end);
    f.write(&c, 1);
  }
  LoadedModel fourth = load(m, GetParam());
  EXPECT_NE(fourth.weight_cache.find("corrupt"), std::string::npos) << fourth.weight_cache;
  EXPECT_TRUE(torch::equal(logits(first), logits(fourth)));
  // Truncated: rebuilt too.
  fs::resize_file(file, 100);
  EXPECT_NE(load(m, GetParam()).weight_cache.find("corrupt"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(ReducedPrecisions, WeightCache,
                         ::testing::Values(ops::WeightType::kBFloat16, ops::WeightType::kInt8, ops::WeightType::kInt4));

TEST(WeightCacheOff, NoCacheAndFloat32WriteNothing) {
  test::TempDir d("nocache");
  const fs::path m = copy_tiny(d);
  EXPECT_EQ(load(m, ops::WeightType::kInt8, false).weight_cache, "off");
  EXPECT_EQ(load(m, ops::WeightType::kFloat32).weight_cache, "");
  for (const auto& e : fs::directory_iterator(m)) EXPECT_NE(e.path().extension(), ".gpt2cache") << e.path();
  EXPECT_FALSE(fs::exists(weight_cache_path(m, ops::WeightType::kInt8)));
}

TEST(WeightCacheOff, ACacheOfAnotherModelIsStale) {
  test::TempDir d("other");
  const fs::path m = copy_tiny(d);
  load(m, ops::WeightType::kInt8);
  // Another checkpoint (the same tiny-ref as safetensors, no TF bundle) in the same directory.
  fs::remove(m / "model.ckpt.index");
  fs::remove(m / "model.ckpt.data-00000-of-00001");
  fs::copy_file(test::fixture_dir("tiny-ref") / "model.safetensors", m / "model.safetensors");
  EXPECT_NE(load(m, ops::WeightType::kInt8).weight_cache.find("stale"), std::string::npos);
}

}  // namespace
