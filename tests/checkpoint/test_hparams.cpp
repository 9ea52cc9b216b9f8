#include <gtest/gtest.h>

#include "checkpoint_test_util.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/hparams.hpp"

namespace {

using namespace gpt2::test;
using gpt2::HParams;

TEST(HParams, Released124MFile) {
  const HParams hp = HParams::load(tf_index_124m_dir() / "hparams.json");
  EXPECT_EQ(hp, HParams::released("124M"));
  EXPECT_EQ(hp.num_parameters(), 124439808);  // GPT-2 small, tied head counted once
}

TEST(HParams, FromHfConfig) {
  const HParams hp = HParams::load_dir(hf_tiny_dir());
  EXPECT_EQ(hp.n_vocab, 50257);
  EXPECT_EQ(hp.n_ctx, 1024);
  EXPECT_EQ(hp.n_embd, 2);
  EXPECT_EQ(hp.n_head, 2);
  EXPECT_EQ(hp.n_layer, 2);
}

TEST(HParams, HfConfigPrefersNPositions) {
  const HParams hp = HParams::from_hf_config(
      R"({"vocab_size":10,"n_positions":32,"n_ctx":16,"n_embd":4,"n_head":2,"n_layer":1})");
  EXPECT_EQ(hp.n_ctx, 32);
  const HParams hp2 = HParams::from_hf_config(R"({"vocab_size":10,"n_ctx":16,"n_embd":4,"n_head":2,"n_layer":1})");
  EXPECT_EQ(hp2.n_ctx, 16);
}

TEST(HParams, HfConfigErrors) {
  auto err = [](const std::string& text) -> std::string {
    try {
      HParams::from_hf_config(text, "c.json");
    } catch (const gpt2::FormatError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_TRUE(contains(err(R"({"n_positions":32,"n_embd":4,"n_head":2,"n_layer":1})"), "c.json: missing field 'vocab_size'"));
  EXPECT_TRUE(contains(err(R"({"vocab_size":10,"n_embd":4,"n_head":2,"n_layer":1})"), "n_positions"));
  EXPECT_TRUE(contains(err(R"({"model_type":"llama","vocab_size":10,"n_positions":3,"n_embd":4,"n_head":2,"n_layer":1})"),
                       "model_type 'llama'"));
  EXPECT_TRUE(contains(err(R"({"activation_function":"relu","vocab_size":10,"n_positions":3,"n_embd":4,"n_head":2,"n_layer":1})"),
                       "activation_function 'relu'"));
  EXPECT_TRUE(contains(err(R"({"n_inner":5,"vocab_size":10,"n_positions":3,"n_embd":4,"n_head":2,"n_layer":1})"), "n_inner"));
  EXPECT_TRUE(contains(err("{"), "c.json: not valid JSON"));
  EXPECT_EQ(err(R"({"n_inner":16,"vocab_size":10,"n_positions":3,"n_embd":4,"n_head":2,"n_layer":1})"), "");
}

TEST(HParams, LoadDirPrefersHparamsJsonAndReportsNeither) {
  TempDir d("hp");
  write_file(d / "config.json", R"({"vocab_size":10,"n_positions":32,"n_embd":4,"n_head":2,"n_layer":1})");
  EXPECT_EQ(HParams::load_dir(d.path()).n_vocab, 10);
  write_file(d / "hparams.json", R"({"n_vocab":11,"n_ctx":8,"n_embd":4,"n_head":2,"n_layer":1})");
  EXPECT_EQ(HParams::load_dir(d.path()).n_vocab, 11);
  TempDir empty("hp-empty");
  EXPECT_THROW(HParams::load_dir(empty.path()), gpt2::NotFoundError);
}

}  // namespace
