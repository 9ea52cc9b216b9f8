// The model against the reference outputs of tests/data/tiny-ref (TF bundle and
// safetensors) and tests/data/hf-tiny-gpt2: logits within 1e-4 at every listed
// position, and the 20-token greedy continuations (the last one fills n_ctx).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using gpt2::test::fixture_dir;
using nlohmann::json;

namespace {

json expected(const std::string& name) {
  return json::parse(gpt2::test::read_file(fixture_dir(name) / "expected.json"));
}

// A copy of tiny-ref holding only the safetensors file (the TF bundle would win).
struct SafetensorsOnly {
  gpt2::test::TempDir dir{"st-only"};
  SafetensorsOnly() {
    for (const char* f : {"hparams.json", "model.safetensors"})
      fs::create_symlink(fs::absolute(fixture_dir("tiny-ref") / f), dir / f);
  }
};

void check_logits(const fs::path& model_dir, const std::string& fixture, gpt2::CheckpointFormat format) {
  gpt2::ModelWeights w = gpt2::load_model_weights(model_dir);
  ASSERT_EQ(w.format, format);
  gpt2::GPT2 model(std::move(w));
  const json e = expected(fixture);
  ASSERT_FALSE(e["cases"].empty());
  const int64_t V = model->hparams().n_vocab;
  for (const auto& c : e["cases"]) {
    const auto ids = c["ids"].get<std::vector<int64_t>>();
    torch::Tensor input = gpt2::test::ids_tensor({ids});        // [1, T]
    torch::Tensor full = model->forward(input)[0];               // [T, V]
    auto cache = model->make_cache(1);
    torch::Tensor last = model->forward(input, cache, true)[0];  // [V]
    const auto ref = gpt2::test::read_f32(fixture_dir(fixture) / c["logits_file"].get<std::string>());
    const auto positions = c["logits_positions"].get<std::vector<int64_t>>();
    ASSERT_EQ(static_cast<int64_t>(ref.size()), static_cast<int64_t>(positions.size()) * V);
    for (size_t i = 0; i < positions.size(); ++i) {
      torch::Tensor want = torch::from_blob(const_cast<float*>(ref.data()) + i * V, {V}, torch::kFloat32);
      const double diff = (full[positions[i]] - want).abs().max().item<double>();
      EXPECT_LT(diff, 1e-4) << fixture << " '" << c["prompt"].get<std::string>() << "' position " << positions[i];
      if (positions[i] == static_cast<int64_t>(ids.size()) - 1) {
        EXPECT_LT((last - want).abs().max().item<double>(), 1e-4) << "cached last position";
      }
    }
  }
}

void check_greedy(const fs::path& model_dir) {
  gpt2::GPT2 model(gpt2::load_model_weights(model_dir));
  auto tok = gpt2::Tokenizer::builtin();
  const json e = expected("tiny-ref");
  bool filled_context = false;
  for (const auto& c : e["cases"]) {
    const auto ids = c["ids"].get<std::vector<gpt2::TokenId>>();
    const auto want = c["greedy"].get<std::vector<gpt2::TokenId>>();
    gpt2::GenerateOptions opt;
    opt.length = static_cast<int64_t>(want.size());
    opt.sampling.temperature = 0;
    opt.ignore_eot = true;
    auto r = gpt2::generate(*model, tok, ids, 1, opt);
    EXPECT_EQ(r.rows[0].tokens, want) << c["prompt"].get<std::string>();
    EXPECT_EQ(r.rows[0].finish, gpt2::FinishReason::kLength);
    if (static_cast<int64_t>(ids.size() + want.size()) == model->hparams().n_ctx) filled_context = true;
  }
  EXPECT_TRUE(filled_context) << "expected.json should have a case that fills n_ctx exactly";
}

}  // namespace

TEST(Fixtures, TinyRefTFBundleLogits) {
  check_logits(fixture_dir("tiny-ref"), "tiny-ref", gpt2::CheckpointFormat::kTFBundle);
}

TEST(Fixtures, TinyRefSafetensorsLogits) {
  SafetensorsOnly st;
  check_logits(st.dir.path(), "tiny-ref", gpt2::CheckpointFormat::kSafetensors);
}

TEST(Fixtures, HfTinyGpt2Logits) {
  check_logits(fixture_dir("hf-tiny-gpt2"), "hf-tiny-gpt2", gpt2::CheckpointFormat::kSafetensors);
}

TEST(Fixtures, TinyRefGreedyContinuationsTFBundle) { check_greedy(fixture_dir("tiny-ref")); }

TEST(Fixtures, TinyRefGreedyContinuationsSafetensors) {
  SafetensorsOnly st;
  check_greedy(st.dir.path());
}

TEST(Fixtures, TinyRefGreedyBatchedRowsAgree) {
  gpt2::GPT2 model(gpt2::load_model_weights(fixture_dir("tiny-ref")));
  const json c = expected("tiny-ref")["cases"][0];
  gpt2::GenerateOptions opt;
  opt.length = 20;
  opt.sampling.temperature = 0;
  opt.ignore_eot = true;
  auto r = gpt2::generate(*model, gpt2::Tokenizer::builtin(), c["ids"].get<std::vector<gpt2::TokenId>>(), 3, opt);
  for (const auto& row : r.rows) EXPECT_EQ(row.tokens, c["greedy"].get<std::vector<gpt2::TokenId>>());
}
