// generate_rows(): rows of different prompts share a batch, a row's sample does
// not depend on its batch (size or company), context shift equals a full
// recomputation of its rule, and greedy decoding with penalties equals an
// independent float64 application of the penalty formulas to full-forward logits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model_loader.hpp"
#include "support/model_test_util.hpp"

namespace {

using namespace gpt2;

LoadedModel tiny(ops::WeightType type = ops::WeightType::kFloat32) {
  ModelSpec s;
  s.model = test::fixture_dir("tiny-ref").string();
  s.device = "cpu";
  s.weight_type = type;
  return load_model(s);
}

class BatchIndependence : public ::testing::TestWithParam<ops::WeightType> {};

TEST_P(BatchIndependence, ASampleIsTheSameAloneOrInAnyBatch) {
  LoadedModel m = tiny(GetParam());
  const std::vector<std::vector<TokenId>> prompts = {{464, 3290, 318}, {15496, 11, 616}, {40, 716, 257}};
  GenerateOptions opt;
  opt.length = 40;
  opt.seed = 99;
  opt.ignore_eot = true;
  opt.sampling.top_k = 0;  // full distribution: any difference in logits shows up in the draws
  std::vector<RowRequest> rows;
  for (uint64_t id = 0; id < 20; ++id) rows.push_back({prompts[id % 3], id});  // 20 rows: two groups of <= 16
  const GenerateResult all = generate_rows(*m.model, m.tokenizer, rows, opt);
  for (uint64_t id : {0u, 4u, 17u, 19u}) {
    const GenerateResult alone = generate_rows(*m.model, m.tokenizer, {rows[id]}, opt);
    EXPECT_EQ(alone.rows[0].tokens, all.rows[id].tokens) << "row " << id << " " << ops::to_string(GetParam());
  }
  // Another company: rows 5..9 with other rows around them.
  std::vector<RowRequest> mixed = {rows[9], rows[5], {prompts[1], 1000}, rows[7]};
  const GenerateResult m2 = generate_rows(*m.model, m.tokenizer, mixed, opt);
  EXPECT_EQ(m2.rows[0].tokens, all.rows[9].tokens);
  EXPECT_EQ(m2.rows[1].tokens, all.rows[5].tokens);
  EXPECT_EQ(m2.rows[3].tokens, all.rows[7].tokens);
}

INSTANTIATE_TEST_SUITE_P(EveryWeightType, BatchIndependence,
                         ::testing::Values(ops::WeightType::kFloat32, ops::WeightType::kBFloat16, ops::WeightType::kInt8,
                                           ops::WeightType::kInt4));

TEST(GenerateRows, PromptsOfDifferentLengthsCannotShareABatch) {
  LoadedModel m = tiny();
  GenerateOptions opt;
  opt.length = 2;
  EXPECT_THROW(generate_rows(*m.model, m.tokenizer, {{{1, 2}, 0}, {{1, 2, 3}, 1}}, opt), UsageError);
}

// Greedy next token from a full forward pass over `ctx` (no cache).
int64_t greedy_full(GPT2Impl& model, const std::vector<int64_t>& ctx) {
  torch::Tensor ids = torch::tensor(ctx, torch::kInt64).unsqueeze(0);  // [1, T]
  return model.forward(ids)[0][-1].argmax().item<int64_t>();
}

TEST(ContextShift, EqualsFullRecomputationOfTheRule) {
  LoadedModel m = tiny();
  const int64_t n_ctx = m.hp.n_ctx, K = n_ctx / 2;  // 64, 32
  const std::vector<TokenId> prompt = {464, 3290, 318, 257, 1310};
  GenerateOptions opt;
  opt.length = 150;  // past n_ctx twice
  opt.ignore_eot = true;
  opt.sampling.temperature = 0;
  opt.context_shift = true;
  const GenerateResult r = generate(*m.model, m.tokenizer, prompt, 1, opt);
  ASSERT_EQ(r.rows[0].tokens.size(), 150u);
  EXPECT_GE(r.stats.context_shifts, 2);
  // The rule, recomputed from scratch at every step.
  std::vector<int64_t> ctx(prompt.begin(), prompt.end());
  std::vector<TokenId> want;
  for (int step = 0; step < 150; ++step) {
    const int64_t t = greedy_full(*m.model, ctx);
    want.push_back(static_cast<TokenId>(t));
    if (static_cast<int64_t>(ctx.size()) < n_ctx) {
      ctx.push_back(t);
    } else {
      ctx.push_back(t);
      ctx.erase(ctx.begin(), ctx.end() - K);
    }
  }
  EXPECT_EQ(r.rows[0].tokens, want);
  // Without the flag the same request is refused, naming it.
  opt.context_shift = false;
  try {
    generate(*m.model, m.tokenizer, prompt, 1, opt);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("--context-shift"), std::string::npos) << e.what();
  }
}

// The penalties written out again here in float64, applied to full-forward logits.
TEST(Penalties, GreedyWithPenaltiesEqualsAnIndependentFloat64Application) {
  LoadedModel m = tiny();
  const std::vector<TokenId> prompt = {464, 3290, 318, 257};
  GenerateOptions opt;
  opt.length = 30;
  opt.ignore_eot = true;
  opt.sampling.temperature = 0;
  opt.sampling.repetition_penalty = 1.3;
  opt.sampling.presence_penalty = 0.4;
  opt.sampling.frequency_penalty = 0.3;
  opt.sampling.logit_bias = {{11, 2.0}, {13, -100.0}};
  const GenerateResult r = generate(*m.model, m.tokenizer, prompt, 1, opt);

  std::vector<int64_t> ctx(prompt.begin(), prompt.end());
  std::vector<TokenId> want;
  std::map<int64_t, int> counts;
  for (int step = 0; step < 30; ++step) {
    torch::Tensor ids = torch::tensor(ctx, torch::kInt64).unsqueeze(0);
    torch::Tensor l = m.model->forward(ids)[0][-1].to(torch::kFloat64).contiguous();  // [V]
    double* x = l.data_ptr<double>();
    std::map<int64_t, bool> seen;
    for (int64_t id : ctx) seen[id] = true;
    for (const auto& [id, s] : seen) x[id] = x[id] > 0 ? x[id] / 1.3 : x[id] * 1.3;
    for (const auto& [id, c] : counts) x[id] -= 0.4 + 0.3 * c;
    x[11] += 2.0;
    x[13] = -INFINITY;
    const int64_t t = l.argmax().item<int64_t>();
    want.push_back(static_cast<TokenId>(t));
    ctx.push_back(t);
    counts[t] += 1;
  }
  EXPECT_EQ(r.rows[0].tokens, want);
  // And the penalties changed the result (the test is not vacuous).
  GenerateOptions plain = opt;
  plain.sampling = SamplingOptions{};
  plain.sampling.temperature = 0;
  EXPECT_NE(generate(*m.model, m.tokenizer, prompt, 1, plain).rows[0].tokens, want);
}

}  // namespace
