// The generation loop on tiny-ref: reproducible seeds independent of batching,
// <|endoftext|> handling, stop strings, streaming text, interruption, errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/generate/text_stream.hpp"
#include "support/model_test_util.hpp"

using gpt2::FinishReason;
using gpt2::GenerateOptions;
using gpt2::TokenId;

namespace {

std::shared_ptr<const gpt2::Tokenizer> tok() { return gpt2::Tokenizer::builtin(); }

gpt2::GPT2 tiny_ref() { return gpt2::GPT2(gpt2::load_model_weights(gpt2::test::fixture_dir("tiny-ref"))); }

// tiny-ref changed so that <|endoftext|> dominates every next-token distribution.
gpt2::GPT2 eot_loving_model() {
  auto w = gpt2::load_model_weights(gpt2::test::fixture_dir("tiny-ref"));
  const int64_t C = w.hp.n_embd;
  torch::Tensor v = torch::ones({C}) / std::sqrt(static_cast<double>(C));  // unit vector
  w.wte = w.wte.clone();
  w.wte[50256] = v * 10;
  w.ln_f_g = torch::zeros({C});  // final LayerNorm output = its bias, whatever the input
  w.ln_f_b = v.clone();
  return gpt2::GPT2(std::move(w));
}

const std::vector<TokenId> kPrompt = {15496, 11, 616, 3290, 318, 13779};  // "Hello, my dog is cute"

bool valid_utf8(const std::string& s) {
  // small independent checker (no overlong/surrogate checks needed for this purpose)
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST(Generate, SameSeedSameOutputAndBatchingDoesNotMatter) {
  auto model = tiny_ref();
  GenerateOptions opt;
  opt.length = 12;
  opt.seed = 1234;
  opt.ignore_eot = true;
  opt.sampling.top_k = 40;
  auto a = gpt2::generate(*model, tok(), kPrompt, 3, opt);
  auto b = gpt2::generate(*model, tok(), kPrompt, 3, opt);
  ASSERT_EQ(a.rows.size(), 3u);
  for (size_t r = 0; r < 3; ++r) {
    EXPECT_EQ(a.rows[r].tokens, b.rows[r].tokens);
    EXPECT_EQ(a.rows[r].tokens.size(), 12u);
    EXPECT_EQ(a.rows[r].text, tok()->decode(a.rows[r].tokens)) << "row " << r;
  }
  EXPECT_NE(a.rows[0].tokens, a.rows[1].tokens);  // rows have their own streams
  // sample i drawn alone (batch 1, first_sample i) is the batch's row i
  for (uint64_t r = 0; r < 3; ++r) {
    GenerateOptions one = opt;
    one.first_sample = r;
    auto s = gpt2::generate(*model, tok(), kPrompt, 1, one);
    EXPECT_EQ(s.rows[0].tokens, a.rows[r].tokens) << "sample " << r;
  }
  opt.seed = 1235;
  auto c = gpt2::generate(*model, tok(), kPrompt, 1, opt);
  EXPECT_NE(c.rows[0].tokens, a.rows[0].tokens);
  EXPECT_EQ(a.stats.prompt_tokens, 3 * 6);
  EXPECT_EQ(a.stats.generated_tokens, 3 * 12);
  EXPECT_GT(a.stats.generated_tokens_per_s(), 0);
}

TEST(Generate, StopsAtEndOfTextUnlessIgnored) {
  auto model = eot_loving_model();
  GenerateOptions opt;
  opt.length = 5;
  opt.sampling.temperature = 0;
  auto r = gpt2::generate(*model, tok(), kPrompt, 2, opt);
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.finish, FinishReason::kEndOfText);
    EXPECT_TRUE(row.tokens.empty());
    EXPECT_EQ(row.text, "");
  }
  opt.ignore_eot = true;
  r = gpt2::generate(*model, tok(), kPrompt, 1, opt);
  EXPECT_EQ(r.rows[0].finish, FinishReason::kLength);
  EXPECT_EQ(r.rows[0].tokens, std::vector<TokenId>(5, 50256));
  EXPECT_EQ(r.rows[0].text, "<|endoftext|><|endoftext|><|endoftext|><|endoftext|><|endoftext|>");
}

TEST(Generate, StopStringsCutTheTextAndEndTheRow) {
  auto model = tiny_ref();
  GenerateOptions opt;
  opt.length = 20;
  opt.sampling.temperature = 0;
  opt.ignore_eot = true;
  const std::string full = gpt2::generate(*model, tok(), kPrompt, 1, opt).rows[0].text;
  ASSERT_GT(full.size(), 20u);
  // a stop string taken from the middle of the greedy text, spanning tokens
  const std::string stop = full.substr(full.size() / 2, 7);
  const size_t at = full.find(stop);
  opt.stop = {"never appears \x01", stop};
  std::string streamed;
  gpt2::GenerateCallbacks cb;
  cb.on_text = [&](int64_t row, const std::string& s) {
    EXPECT_EQ(row, 0);
    streamed += s;
  };
  auto r = gpt2::generate(*model, tok(), kPrompt, 1, opt, cb);
  EXPECT_EQ(r.rows[0].finish, FinishReason::kStop);
  EXPECT_EQ(r.rows[0].text, full.substr(0, at));
  EXPECT_EQ(streamed, r.rows[0].text);  // nothing of the stop string was streamed
  EXPECT_LT(r.rows[0].tokens.size(), 20u);
}

TEST(Generate, StreamedTextIsTheRowTextInCompleteCharacters) {
  auto model = tiny_ref();
  GenerateOptions opt;
  opt.length = 40;
  opt.seed = 7;
  opt.ignore_eot = true;
  opt.sampling.temperature = 1.5;  // wander through the vocabulary, byte tokens included
  std::vector<std::string> pieces;
  gpt2::GenerateCallbacks cb;
  cb.on_text = [&](int64_t, const std::string& s) { pieces.push_back(s); };
  auto r = gpt2::generate(*model, tok(), {50256}, 1, opt, cb);
  std::string joined;
  for (const auto& p : pieces) {
    EXPECT_TRUE(valid_utf8(p));
    joined += p;
  }
  EXPECT_EQ(joined, r.rows[0].text);
  EXPECT_TRUE(valid_utf8(r.rows[0].text));
}

TEST(TextStream, HoldsSplitCharactersAndRepairsInvalidBytes) {
  // " 😀" is tokens 30325 (" \xF0\x9F\x98") + 222 ("\x80")
  gpt2::TextStream s(tok(), {});
  EXPECT_EQ(s.push(30325), " ");
  EXPECT_EQ(s.push(222), "\xF0\x9F\x98\x80");
  // a lone continuation byte can never become valid: U+FFFD, as the released decoder
  EXPECT_EQ(s.push(222), "\xEF\xBF\xBD");
  // an incomplete character at the end of the stream is repaired too
  EXPECT_EQ(s.push(30325), " ");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(s.text(), " \xF0\x9F\x98\x80\xEF\xBF\xBD \xEF\xBF\xBD");
}

TEST(TextStream, HoldsBackPossibleStopStringStarts) {
  auto t = tok();
  gpt2::TextStream s(t, {"cute dog"});
  std::string out;
  for (TokenId id : t->encode_ordinary("my dog is cute and my cute dog barks")) out += s.push(id);
  out += s.finish();
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(out, "my dog is cute and my ");
  EXPECT_EQ(s.text(), out);
  EXPECT_EQ(s.push(t->encode_ordinary("x")[0]), "");  // ignored after the stop
}

TEST(Generate, ShouldStopInterruptsEveryRow) {
  auto model = tiny_ref();
  GenerateOptions opt;
  opt.length = 20;
  opt.ignore_eot = true;
  int polls = 0;
  gpt2::GenerateCallbacks cb;
  cb.should_stop = [&] { return ++polls > 4; };  // allow the prompt and 3 more steps
  auto r = gpt2::generate(*model, tok(), kPrompt, 2, opt, cb);
  for (const auto& row : r.rows) {
    EXPECT_EQ(row.finish, FinishReason::kInterrupted);
    EXPECT_EQ(row.tokens.size(), 4u);
  }
}

TEST(Generate, RejectsBadRequests) {
  auto model = tiny_ref();  // n_ctx 64
  GenerateOptions opt;
  opt.length = 60;
  EXPECT_THROW(gpt2::generate(*model, tok(), kPrompt, 1, opt), gpt2::UsageError);  // 6 + 60 - 1 > 64
  opt.length = 59;
  opt.ignore_eot = true;
  auto full = gpt2::generate(*model, tok(), kPrompt, 1, opt);  // 64 positions computed
  EXPECT_EQ(full.rows[0].tokens.size(), 59u);
  opt.ignore_eot = false;
  EXPECT_THROW(gpt2::generate(*model, tok(), {}, 1, opt), gpt2::UsageError);
  EXPECT_THROW(gpt2::generate(*model, tok(), kPrompt, 0, opt), gpt2::UsageError);
  opt.length = 0;
  EXPECT_THROW(gpt2::generate(*model, tok(), kPrompt, 1, opt), gpt2::UsageError);
  opt.length = 3;
  opt.sampling.top_p = 0;
  EXPECT_THROW(gpt2::generate(*model, tok(), kPrompt, 1, opt), gpt2::UsageError);
  opt.sampling.top_p = 1;
  EXPECT_THROW(gpt2::generate(*model, tok(), {50257}, 1, opt), gpt2::UsageError);
}
