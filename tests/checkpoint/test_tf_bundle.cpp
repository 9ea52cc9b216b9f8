#include <gtest/gtest.h>

#include <map>

#include "checkpoint_test_util.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"

namespace {

using namespace gpt2::test;
namespace tf = gpt2::tf;

// Reads every fixed-size tensor of a tf-small bundle and checks its crc.
std::map<std::string, std::string> read_all(const std::filesystem::path& index, const std::filesystem::path& data) {
  const tf::BundleIndex idx = tf::read_bundle_index(index);
  const std::string bytes = read_file(data);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), idx.shard_bytes(0));
  std::map<std::string, std::string> out;
  for (const auto& e : idx.entries) {
    const std::string b = bytes.substr(static_cast<size_t>(e.offset), static_cast<size_t>(e.size));
    if (e.dtype != tf::DT_STRING) {
      EXPECT_TRUE(e.has_crc) << e.name;
      EXPECT_EQ(gpt2::crc32c::value(b.data(), b.size()), e.crc32c) << e.name;
    }
    out[e.name] = b;
  }
  return out;
}

TEST(TfBundle, Released124MIndexParses) {
  const tf::BundleIndex idx = tf::read_bundle_index(tf_index_124m_dir() / "model.ckpt.index");
  EXPECT_EQ(idx.header.num_shards, 1);
  EXPECT_EQ(idx.header.endianness, tf::Endianness::kLittle);
  ASSERT_EQ(idx.entries.size(), 148u);
  for (const auto& e : idx.entries) {
    EXPECT_EQ(e.dtype, tf::DT_FLOAT) << e.name;
    EXPECT_EQ(e.shard_id, 0) << e.name;
    EXPECT_EQ(e.size, e.num_elements() * 4) << e.name;
  }
  EXPECT_EQ(idx.shard_bytes(0), 497759232);
  const tf::BundleEntry* wte = idx.find("model/wte");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{50257, 768}));
  const tf::BundleEntry* w = idx.find("model/h11/mlp/c_proj/w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{1, 3072, 768}));
  EXPECT_EQ(idx.find("model/h12/mlp/c_proj/w"), nullptr);
  EXPECT_EQ(idx.find(""), nullptr);
}

TEST(TfBundle, Released124MFirstTensorMatchesTruncatedDataFile) {
  const tf::BundleIndex idx = tf::read_bundle_index(tf_index_124m_dir() / "model.ckpt.index");
  const tf::BundleEntry* b = idx.find("model/h0/attn/c_attn/b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->offset, 0);
  EXPECT_EQ(b->size, 9216);
  EXPECT_EQ(b->shape, (std::vector<int64_t>{2304}));
  EXPECT_EQ(gpt2::crc32c::mask(b->crc32c), 0x8c273d74u);
  const std::string data = read_file(tf_index_124m_dir() / "model.ckpt.data-00000-of-00001.first3MiB");
  ASSERT_EQ(data.size(), 3145728u);
  EXPECT_EQ(gpt2::crc32c::value(data.data(), 9216), b->crc32c);
  EXPECT_FLOAT_EQ(load_f32(data, 0), 0.48033914f);
  EXPECT_FLOAT_EQ(load_f32(data, 4), -0.5254326f);
  EXPECT_FLOAT_EQ(load_f32(data, 8), -0.42926455f);
  EXPECT_FLOAT_EQ(load_f32(data, 12), -0.2059525f);
  // The next tensor starts right after and is only partly present.
  const tf::BundleEntry* w = idx.find("model/h0/attn/c_attn/w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->offset, 9216);
  EXPECT_GT(w->offset + w->size, 3145728);
}

TEST(TfBundle, HalfPlusTwoSnappyIndex) {
  const auto dir = tf_small_dir("tf-serving-saved_model_half_plus_two_cpu");
  const auto t = read_all(dir / "variables.index", dir / "variables.data-00000-of-00001");
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(load_f32(t.at("a"), 0), 0.5f);
  EXPECT_EQ(load_f32(t.at("a2"), 0), 0.5f);
  EXPECT_EQ(load_f32(t.at("b"), 0), 2.0f);
  EXPECT_EQ(load_f32(t.at("c"), 0), 3.0f);
  EXPECT_EQ(load_f32(t.at("c2"), 0), 3.0f);
}

TEST(TfBundle, HalfPlusThreeUncompressedIndex) {
  const auto dir = tf_small_dir("tf-serving-saved_model_half_plus_three");
  const auto t = read_all(dir / "variables.index", dir / "variables.data-00000-of-00001");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(load_f32(t.at("a"), 0), 0.5f);
  EXPECT_EQ(load_f32(t.at("b"), 0), 3.0f);
  EXPECT_EQ(load_f32(t.at("c"), 0), 3.0f);
}

TEST(TfBundle, HalfPlusTwoTf2SnappyIndexWithStringTensor) {
  const auto dir = tf_small_dir("tf-serving-saved_model_half_plus_two_tf2_cpu");
  const tf::BundleIndex idx = tf::read_bundle_index(dir / "variables.index");
  const auto t = read_all(dir / "variables.index", dir / "variables.data-00000-of-00001");
  EXPECT_EQ(load_f32(t.at("a/.ATTRIBUTES/VARIABLE_VALUE"), 0), 0.5f);
  EXPECT_EQ(load_f32(t.at("b/.ATTRIBUTES/VARIABLE_VALUE"), 0), 2.0f);
  EXPECT_EQ(load_f32(t.at("c/.ATTRIBUTES/VARIABLE_VALUE"), 0), 3.0f);
  const tf::BundleEntry* g = idx.find("_CHECKPOINTABLE_OBJECT_GRAPH");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->dtype, tf::DT_STRING);
  EXPECT_EQ(tf::dtype_name(g->dtype), "string");
  EXPECT_EQ(g->offset, 12);
  EXPECT_EQ(g->size, 619);
}

TEST(TfBundle, MnistCheckpointAllTensors) {
  const auto dir = tf_small_dir("mnist-fc2");
  const tf::BundleIndex idx = tf::read_bundle_index(dir / "fc2.ckpt.index");
  EXPECT_EQ(idx.entries.size(), 21u);
  const auto t = read_all(dir / "fc2.ckpt.index", dir / "fc2.ckpt.data-00000-of-00001");
  ASSERT_NE(idx.find("h1/w"), nullptr);
  EXPECT_EQ(idx.find("h1/w")->shape, (std::vector<int64_t>{784, 100}));
  EXPECT_EQ(idx.find("h1/w")->dtype, tf::DT_FLOAT);
  ASSERT_NE(idx.find("output/w"), nullptr);
  EXPECT_EQ(idx.find("output/w")->shape, (std::vector<int64_t>{25, 10}));
  ASSERT_NE(idx.find("global_step"), nullptr);
  EXPECT_EQ(idx.find("global_step")->dtype, tf::DT_INT32);
}

TEST(TfBundle, DataFilePath) {
  EXPECT_EQ(tf::data_file_path("m/model.ckpt", 0, 1).string(), "m/model.ckpt.data-00000-of-00001");
  EXPECT_EQ(tf::data_file_path("x", 12, 345).string(), "x.data-00012-of-00345");
}

// --- corrupt indexes --------------------------------------------------------

std::string index_bytes() { return read_file(tiny_ref_dir() / "model.ckpt.index"); }

std::string bundle_parse_error(const std::string& bytes) {
  try {
    tf::parse_bundle_index(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "x.index");
  } catch (const gpt2::FormatError& e) {
    return e.what();
  }
  return "";
}

class TfBundleFlip : public ::testing::TestWithParam<std::string> {};

TEST_P(TfBundleFlip, EveryFlippedByteIsCaught) {
  const std::string good = read_file(data_dir() / GetParam());
  ASSERT_EQ(bundle_parse_error(good), "");
  // Every byte of the index is covered by a block crc, the footer's handles or magic,
  // except the footer's zero padding, which TF ignores as well.
  size_t caught = 0, ignored = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x10);
    const std::string err = bundle_parse_error(bad);
    if (!err.empty()) {
      EXPECT_TRUE(contains(err, "x.index: ")) << err;
      ++caught;
    } else {
      ++ignored;
      EXPECT_GE(i, good.size() - 48) << "flip at " << i << " not detected";
      EXPECT_LT(i, good.size() - 8) << "flip in magic at " << i << " not detected";
    }
  }
  EXPECT_GT(caught, good.size() - 48);
}

INSTANTIATE_TEST_SUITE_P(Indexes, TfBundleFlip,
                         ::testing::Values("tiny-ref/model.ckpt.index",  // uncompressed blocks
                                           "tf-small/tf-serving-saved_model_half_plus_two_cpu/variables.index"));  // Snappy

TEST(TfBundleCorrupt, TruncatedIndex) {
  const std::string good = index_bytes();
  for (size_t n : {size_t{0}, size_t{10}, size_t{47}, size_t{48}, good.size() / 2, good.size() - 1}) {
    const std::string err = bundle_parse_error(good.substr(0, n));
    EXPECT_FALSE(err.empty()) << n;
    EXPECT_TRUE(contains(err, "x.index")) << err;
  }
}

TEST(TfBundleCorrupt, GarbageIsNotAnIndex) {
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
  EXPECT_TRUE(contains(bundle_parse_error(garbage), "bad table magic number")) << bundle_parse_error(garbage);
  const std::string json = "{\"n_vocab\": 50257}";
  EXPECT_TRUE(contains(bundle_parse_error(json), "too short")) << bundle_parse_error(json);
}

TEST(TfBundleCorrupt, MissingFileIsNotFound) {
  EXPECT_THROW(tf::read_bundle_index(tiny_ref_dir() / "nope.index"), gpt2::NotFoundError);
}

}  // namespace
