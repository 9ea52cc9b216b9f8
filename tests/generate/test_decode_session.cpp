// Decode sessions (gpt2/generate/decode_session.hpp): rewinding to a prefix.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/decode_session.hpp"
#include "gpt2/model/model.hpp"
#include "support/model_test_util.hpp"

using gpt2::GPT2;

namespace {

TEST(DecodeSessionRewind, DecodingAgainFromAPrefixRepeatsTheLogits) {
  GPT2 model(gpt2::test::random_weights(gpt2::test::tiny_hparams(), 8));
  gpt2::DecodeSession s(*model, 2, 12);
  auto prompt = torch::randint(0, 97, {2, 4}, torch::kInt64);  // [2, 4]
  s.prefill(prompt);
  auto a = torch::tensor({{5}, {6}}, torch::kInt64);
  torch::Tensor first = s.step(a);  // position 4
  s.step(torch::tensor({{7}, {8}}, torch::kInt64));
  EXPECT_EQ(s.length(), 6);
  s.rewind(4);
  EXPECT_EQ(s.length(), 4);
  EXPECT_TRUE(torch::equal(s.step(a), first));
  EXPECT_THROW(s.rewind(6), gpt2::UsageError);
  EXPECT_THROW(s.rewind(-1), gpt2::UsageError);
}

}  // namespace
