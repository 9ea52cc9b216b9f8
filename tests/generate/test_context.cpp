// The one context rule (gpt2/context.hpp): a P-token prompt and L generated
// tokens compute P + L - 1 positions, which must be <= n_ctx. Checked at its
// boundary through the pure functions and through generate() on tiny-ref.
#include <gtest/gtest.h>

#include <string>

#include "gpt2/generate/context.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model_loader.hpp"
#include "support/model_test_util.hpp"

namespace {

using namespace gpt2;

std::string usage_error_of(int64_t p, int64_t l, int64_t n_ctx, bool can_truncate) {
  try {
    check_context(p, l, n_ctx, can_truncate);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(ContextRule, Boundary) {
  EXPECT_EQ(positions_needed(10, 1), 10);
  EXPECT_EQ(positions_needed(1, 64), 64);
  EXPECT_TRUE(fits_context(10, 64 - 10 + 1, 64));
  EXPECT_FALSE(fits_context(10, 64 - 10 + 2, 64));
  EXPECT_EQ(max_length_after(10, 64), 55);
  EXPECT_EQ(max_prompt_for(30, 64), 35);
  EXPECT_EQ(usage_error_of(10, 55, 64, false), "");
  const std::string e = usage_error_of(40, 30, 64, true);
  EXPECT_NE(e.find("need 69 positions"), std::string::npos) << e;
  EXPECT_NE(e.find("--length 25 or less"), std::string::npos) << e;
  EXPECT_NE(e.find("--truncate-prompt to keep the last 35 prompt tokens"), std::string::npos) << e;
  const std::string e2 = usage_error_of(1, 70, 64, true);
  EXPECT_NE(e2.find("--length 64 or less"), std::string::npos) << e2;
  EXPECT_NE(e2.find("alone exceeds"), std::string::npos) << e2;
}

// generate() follows the same rule: prompt P, length n_ctx - P + 1 fills the
// context exactly; one more is refused.
TEST(ContextRule, GenerateAcceptsTheLastFittingLengthAndRefusesOneMore) {
  ModelSpec spec;
  spec.model = test::fixture_dir("tiny-ref").string();
  spec.device = "cpu";
  LoadedModel m = load_model(spec);
  const int64_t n_ctx = m.hp.n_ctx;  // 64
  for (int64_t p : {1, 7, 64}) {
    const std::vector<TokenId> prompt(static_cast<size_t>(p), 464);
    GenerateOptions opt;
    opt.ignore_eot = true;
    opt.sampling.temperature = 0;
    opt.length = n_ctx - p + 1;
    const GenerateResult r = generate(*m.model, m.tokenizer, prompt, 1, opt);
    EXPECT_EQ(static_cast<int64_t>(r.rows[0].tokens.size()), opt.length) << "prompt " << p;
    opt.length += 1;
    EXPECT_THROW(generate(*m.model, m.tokenizer, prompt, 1, opt), UsageError) << "prompt " << p;
  }
}

}  // namespace
