// Overfitting a short text: the loss falls near zero and greedy generation from
// the text's first tokens (the inference model built from the trained weights)
// reproduces the rest.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/train/trainer.hpp"
#include "support/model_test_util.hpp"

TEST(Memorise, ShortTextLossNearZeroAndGreedyReproducesIt) {
  auto tok = gpt2::Tokenizer::builtin();
  const std::string text =
      "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, "
      "I thought I would sail about.";
  const std::vector<gpt2::TokenId> ids = tok->encode_ordinary(text);
  ASSERT_GE(ids.size(), 25u);
  std::vector<uint16_t> stream(ids.begin(), ids.end());

  gpt2::HParams hp;
  hp.n_vocab = tok->vocab_size();
  hp.n_ctx = 64;
  hp.n_embd = 32;
  hp.n_head = 2;
  hp.n_layer = 2;
  torch::manual_seed(0);
  gpt2::TrainableGPT2 model(gpt2::random_model_weights(hp, 1));
  gpt2::AdamW opt(model->params());
  const gpt2::WindowSampler sampler(static_cast<int64_t>(stream.size()), 64, 3);
  ASSERT_EQ(sampler.window(), static_cast<int64_t>(stream.size()) - 1) << "a short stream is used whole";
  double first = 0, loss = 0;
  for (int64_t step = 0; step < 300; ++step) {
    loss = gpt2::train_step(*model, opt, stream, sampler, step, 3e-3, {}).loss;
    if (step == 0) first = loss;
    if (loss < 0.02) break;
  }
  EXPECT_GT(first, 8.0) << "random start: about ln(50257)";
  EXPECT_LT(loss, 0.05);
  EXPECT_LT(gpt2::eval_loss(*model, stream, 64), 0.05);

  gpt2::GPT2 infer(model->to_weights());
  const size_t prompt = 3;
  gpt2::GenerateOptions g;
  g.length = static_cast<int64_t>(ids.size() - prompt);
  g.sampling.temperature = 0;
  g.ignore_eot = true;
  auto r = gpt2::generate(*infer, tok, std::vector<gpt2::TokenId>(ids.begin(), ids.begin() + prompt), 1, g);
  EXPECT_EQ(r.rows[0].tokens, std::vector<gpt2::TokenId>(ids.begin() + prompt, ids.end()));
  EXPECT_EQ(tok->decode(std::vector<gpt2::TokenId>(ids.begin(), ids.begin() + prompt)) + r.rows[0].text, text);
}
