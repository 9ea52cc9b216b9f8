// The autograd model: its forward equals the independent float64 reference
// logits of tests/data/tiny-ref, its gradients equal central finite differences
// in float64 (wte gathers both of its uses), and float32 gradients agree with float64.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/train/trainable_model.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"

using gpt2::test::fixture_dir;
using nlohmann::json;

namespace {

// vocab 50, n_ctx 8, n_embd 8, 2 heads, 2 layers
gpt2::HParams grad_check_hparams() {
  gpt2::HParams hp = gpt2::test::tiny_hparams();
  hp.n_vocab = 50;
  hp.n_ctx = 8;
  hp.n_embd = 8;
  hp.n_head = 2;
  return hp;
}

void check_reference_logits(torch::Dtype dtype) {
  gpt2::TrainableGPT2 model(gpt2::load_model_weights(fixture_dir("tiny-ref")), dtype);
  const json e = json::parse(gpt2::test::read_file(fixture_dir("tiny-ref") / "expected.json"));
  const int64_t V = model->hparams().n_vocab;
  int checked = 0;
  for (const auto& c : e["cases"]) {
    const auto ids = c["ids"].get<std::vector<int64_t>>();
    torch::Tensor logits = model->forward(gpt2::test::ids_tensor({ids}))[0].detach().to(torch::kFloat64);  // [T, V]
    const auto ref = gpt2::test::read_f32(fixture_dir("tiny-ref") / c["logits_file"].get<std::string>());
    const auto positions = c["logits_positions"].get<std::vector<int64_t>>();
    for (size_t i = 0; i < positions.size(); ++i) {
      torch::Tensor want =
          torch::from_blob(const_cast<float*>(ref.data()) + i * V, {V}, torch::kFloat32).to(torch::kFloat64);
      EXPECT_LT((logits[positions[i]] - want).abs().max().item<double>(), 1e-4) << "position " << positions[i];
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

}  // namespace

TEST(TrainableModel, ForwardEqualsFloat64ReferenceLogits) {
  check_reference_logits(torch::kFloat32);
  check_reference_logits(torch::kFloat64);
}

TEST(TrainableModel, ForwardEqualsInferenceModel) {
  auto w = gpt2::test::random_weights(gpt2::test::tiny_hparams(), 3);
  gpt2::TrainableGPT2 train(w);
  gpt2::GPT2 infer(train->to_weights());
  torch::Tensor ids = gpt2::test::ids_tensor({{1, 5, 9, 2, 96, 0, 7}, {3, 3, 3, 8, 1, 2, 4}});
  EXPECT_LT((train->forward(ids).detach() - infer->forward(ids)).abs().max().item<double>(), 1e-5);
}

TEST(TrainableModel, GradientsEqualCentralFiniteDifferencesFloat64) {
  const gpt2::HParams hp = grad_check_hparams();
  gpt2::TrainableGPT2 model(gpt2::test::random_weights(hp, 11), torch::kFloat64);
  torch::manual_seed(5);
  const torch::Tensor x = torch::randint(0, hp.n_vocab, {2, 6}, torch::kInt64);  // [B, T]
  const torch::Tensor y = torch::randint(0, hp.n_vocab, {2, 6}, torch::kInt64);  // [B, T]
  auto loss_value = [&] {
    torch::NoGradGuard ng;
    return gpt2::lm_loss(model->forward(x), y).item<double>();
  };
  torch::Tensor loss = gpt2::lm_loss(model->forward(x), y);
  loss.backward();
  const double eps = 1e-6;
  int checked = 0;
  for (const gpt2::WeightId& id : model->weight_ids()) {
    torch::Tensor p = model->at(id);
    ASSERT_TRUE(p.grad().defined()) << gpt2::weight_hf_name(id);
    torch::Tensor flat_p = p.detach().view({-1});
    torch::Tensor flat_g = p.grad().view({-1});
    // a few elements of each weight; for wte, rows used by the inputs, the targets and neither
    std::vector<int64_t> idx = {0, flat_p.numel() / 2, flat_p.numel() - 1};
    if (id.field == gpt2::WeightField::kWte)
      idx = {x[0][0].item<int64_t>() * hp.n_embd + 1, y[1][2].item<int64_t>() * hp.n_embd + 3, 5 * hp.n_embd};
    for (int64_t i : idx) {
      const double orig = flat_p[i].item<double>();
      {
        torch::NoGradGuard ng;
        flat_p[i] = orig + eps;
      }
      const double up = loss_value();
      {
        torch::NoGradGuard ng;
        flat_p[i] = orig - eps;
      }
      const double down = loss_value();
      {
        torch::NoGradGuard ng;
        flat_p[i] = orig;
      }
      const double fd = (up - down) / (2 * eps);
      const double g = flat_g[i].item<double>();
      EXPECT_NEAR(g, fd, 1e-7 + 1e-6 * std::abs(fd)) << gpt2::weight_hf_name(id) << " element " << i;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3 * gpt2::weight_count(hp));
}

TEST(TrainableModel, Float32GradientsAgreeWithFloat64) {
  const gpt2::HParams hp = grad_check_hparams();
  const auto w = gpt2::test::random_weights(hp, 12);
  gpt2::TrainableGPT2 m32(w, torch::kFloat32), m64(w, torch::kFloat64);
  const torch::Tensor x = gpt2::test::ids_tensor({{1, 2, 3, 4, 5, 6, 7}});
  const torch::Tensor y = gpt2::test::ids_tensor({{2, 3, 4, 5, 6, 7, 8}});
  gpt2::lm_loss(m32->forward(x), y).backward();
  gpt2::lm_loss(m64->forward(x), y).backward();
  for (const gpt2::WeightId& id : m32->weight_ids()) {
    const torch::Tensor g32 = m32->at(id).grad().to(torch::kFloat64), g64 = m64->at(id).grad();
    EXPECT_LT((g32 - g64).abs().max().item<double>(), 1e-5 * (1 + g64.abs().max().item<double>()))
        << gpt2::weight_hf_name(id);
  }
}

TEST(TrainableModel, OutputProjectionIsTiedToWte) {
  gpt2::TrainableGPT2 model(gpt2::test::random_weights(grad_check_hparams(), 4));
  // one registered tensor for wte, nothing for an lm_head
  EXPECT_EQ(static_cast<int64_t>(model->parameters().size()), gpt2::weight_count(grad_check_hparams()));
  // a token that is neither input nor ... still gets a gradient through the output projection only
  const torch::Tensor x = gpt2::test::ids_tensor({{1, 2, 3}});
  const torch::Tensor y = gpt2::test::ids_tensor({{2, 3, 4}});
  gpt2::lm_loss(model->forward(x), y).backward();
  const gpt2::WeightId wte{-1, gpt2::WeightField::kWte};
  EXPECT_GT(model->at(wte).grad()[40].abs().sum().item<double>(), 0) << "head gradient reaches wte rows";
}

TEST(TrainableModel, RejectsBadInput) {
  gpt2::TrainableGPT2 model(gpt2::test::random_weights(grad_check_hparams(), 4));
  EXPECT_THROW(model->forward(gpt2::test::ids_tensor({{1, 2, 50}})), gpt2::UsageError);
  EXPECT_THROW(model->forward(torch::zeros({1, 9}, torch::kInt64)), gpt2::UsageError);
}
