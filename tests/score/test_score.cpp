// gpt2::Scorer / score_tokens / plan_windows against the independent float64
// reference of tests/tools/score_reference.py (tests/data/tiny-ref/score_expected.json):
// per-token log-probs, ranks, entropies and top-5 under several window/stride
// settings on a text longer than n_ctx, totals and buckets; batching equal to
// one document at a time; comparing a model with itself gives KL 0.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/score/score.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"

using gpt2::ScoreWindow;
using gpt2::test::fixture_dir;
using nlohmann::json;

namespace {

const json& reference() {
  static const json j = json::parse(gpt2::test::read_file(fixture_dir("tiny-ref") / "score_expected.json"));
  return j;
}

gpt2::GPT2 tiny_model(gpt2::ops::WeightType wt = gpt2::ops::WeightType::kFloat32) {
  gpt2::ModelOptions mo;
  mo.weight_type = wt;
  return gpt2::GPT2(gpt2::load_model_weights(fixture_dir("tiny-ref")), mo);
}

gpt2::ScoreOptions options_of(const json& c, const gpt2::HParams& hp) {
  gpt2::ScoreOptions o;
  o.window = c["window"].get<int64_t>();
  o.stride = c["stride"].get<int64_t>();
  o.eot_prefix = c["eot_prefix"].get<bool>();
  o.top = reference()["top"].get<int64_t>();
  return gpt2::resolve_score_options(o, hp);
}

struct Result {
  std::vector<gpt2::TokenScore> tokens;
  gpt2::ScoreTotals totals;
};

// Scores each text as its own document with one Scorer; results per document.
std::vector<Result> score_all(gpt2::GPT2Impl& model, const gpt2::ScoreOptions& o,
                              const std::vector<std::string>& texts, gpt2::GPT2Impl* ref = nullptr) {
  auto tok = gpt2::Tokenizer::builtin();
  std::vector<Result> out(texts.size());
  gpt2::Scorer s(model, o, ref);
  int64_t expected_doc = 0;
  s.on_token([&](int64_t doc, const gpt2::TokenScore& t) { out[static_cast<size_t>(doc)].tokens.push_back(t); });
  s.on_document([&](int64_t doc, const gpt2::ScoreTotals& t) {
    EXPECT_EQ(doc, expected_doc++);  // in input order
    out[static_cast<size_t>(doc)].totals = t;
  });
  for (const auto& t : texts) s.add(tok->encode_ordinary(t), static_cast<int64_t>(t.size()));
  s.flush();
  EXPECT_EQ(expected_doc, static_cast<int64_t>(texts.size()));
  return out;
}

void expect_matches_reference(const Result& r, const json& c) {
  SCOPED_TRACE(c["name"].get<std::string>());
  const double tol = 1e-4;
  const json& ref = c["tokens"];
  ASSERT_EQ(r.tokens.size(), ref.size());
  ASSERT_EQ(r.totals.tokens_scored, c["tokens_scored"].get<int64_t>());
  std::array<int64_t, gpt2::kBuckets> own{};
  bool buckets_ambiguous = false;
  for (size_t i = 0; i < ref.size(); ++i) {
    const gpt2::TokenScore& t = r.tokens[i];
    const json& e = ref[i];
    SCOPED_TRACE("token " + std::to_string(i));
    EXPECT_EQ(t.index, e["index"].get<int64_t>());
    EXPECT_EQ(t.id, e["id"].get<int>());
    EXPECT_NEAR(t.logprob, e["logprob"].get<double>(), tol);
    EXPECT_NEAR(t.entropy, e["entropy"].get<double>(), tol);
    // The rank the float64 logits give, within the ranks logits off by the
    // float32 error could give.
    EXPECT_GE(t.rank, e["rank_min"].get<int64_t>());
    EXPECT_LE(t.rank, e["rank_max"].get<int64_t>());
    const int lo = gpt2::rank_bucket(e["rank_min"].get<int64_t>()), hi = gpt2::rank_bucket(e["rank_max"].get<int64_t>());
    if (lo == hi) {
      EXPECT_EQ(gpt2::rank_bucket(t.rank), lo);
    } else {
      buckets_ambiguous = true;
    }
    ++own[static_cast<size_t>(gpt2::rank_bucket(t.rank))];
    const json& top = e["top"];
    ASSERT_EQ(t.top.size(), top.size());
    for (size_t k = 0; k < top.size(); ++k) {
      EXPECT_NEAR(t.top[k].logprob, top[k]["logprob"].get<double>(), tol);
      // ids must agree wherever the reference's neighbours are clearly apart
      const double v = top[k]["logprob"].get<double>();
      const bool apart = (k == 0 || top[k - 1]["logprob"].get<double>() - v > 2 * tol) &&
                         (k + 1 == top.size() || v - top[k + 1]["logprob"].get<double>() > 2 * tol);
      if (apart) {
        EXPECT_EQ(t.top[k].id, top[k]["id"].get<int>());
      }
    }
  }
  const double n = static_cast<double>(ref.size());
  EXPECT_NEAR(r.totals.nll, c["nll"].get<double>(), tol * n);
  EXPECT_NEAR(r.totals.mean_nll(), c["mean_nll"].get<double>(), tol);
  EXPECT_NEAR(r.totals.perplexity() / c["perplexity"].get<double>(), 1.0, 2 * tol);
  EXPECT_EQ(r.totals.text_bytes, c["bytes"].get<int64_t>());
  EXPECT_NEAR(r.totals.bits_per_byte(), c["bits_per_byte"].get<double>(), tol);
  EXPECT_EQ(r.totals.buckets, own);
  if (!buckets_ambiguous) {
    EXPECT_EQ(std::vector<int64_t>(own.begin(), own.end()), c["bucket_counts"].get<std::vector<int64_t>>());
  }
  for (int b = 0; b < gpt2::kBuckets; ++b)
    EXPECT_DOUBLE_EQ(r.totals.bucket_fraction(b), static_cast<double>(own[static_cast<size_t>(b)]) / n);
}

}  // namespace

TEST(ScoreWindows, HuggingFaceRule) {
  using V = std::vector<ScoreWindow>;
  EXPECT_EQ(gpt2::plan_windows(10, 4, 2), (V{{0, 4, 1}, {2, 6, 4}, {4, 8, 6}, {6, 10, 8}}));
  EXPECT_EQ(gpt2::plan_windows(10, 4, 4), (V{{0, 4, 1}, {4, 8, 5}, {8, 10, 9}}));
  EXPECT_EQ(gpt2::plan_windows(11, 4, 3), (V{{0, 4, 1}, {3, 7, 4}, {6, 10, 7}, {9, 11, 10}}));
  EXPECT_EQ(gpt2::plan_windows(3, 8, 4), (V{{0, 3, 1}}));
  EXPECT_EQ(gpt2::plan_windows(8, 8, 4), (V{{0, 8, 1}}));
  EXPECT_EQ(gpt2::plan_windows(9, 8, 1), (V{{0, 8, 1}, {1, 9, 8}}));
  EXPECT_TRUE(gpt2::plan_windows(0, 8, 4).empty());
  EXPECT_THROW(gpt2::plan_windows(10, 4, 0), gpt2::UsageError);
  EXPECT_THROW(gpt2::plan_windows(10, 4, 5), gpt2::UsageError);
}

TEST(ScoreWindows, EveryIndexScoredOnceWithContextInItsWindow) {
  for (int64_t len : {1, 2, 5, 63, 64, 65, 200})
    for (int64_t window : {2, 7, 64})
      for (int64_t stride = 1; stride <= window; stride += (window > 8 ? 13 : 1)) {
        std::set<int64_t> seen;
        const auto ws = gpt2::plan_windows(len, window, stride);
        ASSERT_FALSE(ws.empty());
        EXPECT_EQ(ws.back().end, len);
        for (const auto& w : ws) {
          EXPECT_LE(w.end - w.begin, window);
          EXPECT_GT(w.score_from, w.begin);  // never a window's first index
          for (int64_t i = w.score_from; i < w.end; ++i) EXPECT_TRUE(seen.insert(i).second) << i;
        }
        EXPECT_EQ(seen.count(0), 0u);
        // with overlap (stride < window) every index but 0 gets a score
        if (stride < window) {
          EXPECT_EQ(static_cast<int64_t>(seen.size()), len - 1);
        }
      }
}

TEST(ScoreOptions, DefaultsAndErrors) {
  gpt2::HParams hp;
  hp.n_ctx = 64;
  const auto o = gpt2::resolve_score_options({}, hp);
  EXPECT_EQ(o.window, 64);
  EXPECT_EQ(o.stride, 32);
  gpt2::ScoreOptions bad;
  bad.window = 65;
  EXPECT_THROW(gpt2::resolve_score_options(bad, hp), gpt2::UsageError);
  bad.window = 16;
  bad.stride = 17;
  EXPECT_THROW(gpt2::resolve_score_options(bad, hp), gpt2::UsageError);
  bad.stride = -1;
  EXPECT_THROW(gpt2::resolve_score_options(bad, hp), gpt2::UsageError);
  bad.stride = 16;
  bad.top = -1;
  EXPECT_THROW(gpt2::resolve_score_options(bad, hp), gpt2::UsageError);
}

TEST(ScoreTotals, BucketsAndDerivedFigures) {
  EXPECT_EQ(gpt2::rank_bucket(1), 0);
  EXPECT_EQ(gpt2::rank_bucket(10), 0);
  EXPECT_EQ(gpt2::rank_bucket(11), 1);
  EXPECT_EQ(gpt2::rank_bucket(100), 1);
  EXPECT_EQ(gpt2::rank_bucket(101), 2);
  EXPECT_EQ(gpt2::rank_bucket(1000), 2);
  EXPECT_EQ(gpt2::rank_bucket(1001), 3);
  gpt2::ScoreTotals t;
  t.text_bytes = 10;
  for (auto [lp, rank] : std::vector<std::pair<double, int64_t>>{{-1.0, 1}, {-2.0, 50}, {-3.0, 5000}, {-6.0, 2}}) {
    gpt2::TokenScore s;
    s.logprob = lp;
    s.rank = rank;
    t.add(s);
  }
  EXPECT_EQ(t.tokens_scored, 4);
  EXPECT_DOUBLE_EQ(t.nll, 12.0);
  EXPECT_DOUBLE_EQ(t.mean_nll(), 3.0);
  EXPECT_DOUBLE_EQ(t.perplexity(), std::exp(3.0));
  EXPECT_DOUBLE_EQ(t.bits_per_byte(), 12.0 / std::log(2.0) / 10.0);
  EXPECT_DOUBLE_EQ(t.bucket_fraction(0), 0.5);
  EXPECT_DOUBLE_EQ(t.bucket_fraction(1), 0.25);
  EXPECT_DOUBLE_EQ(t.bucket_fraction(2), 0.0);
  EXPECT_DOUBLE_EQ(t.bucket_fraction(3), 0.25);
}

TEST(Score, MatchesFloat64ReferenceEveryCase) {
  auto model = tiny_model();
  auto tok = gpt2::Tokenizer::builtin();
  for (const json& c : reference()["cases"]) {
    const std::string text = c["text"].get<std::string>();
    ASSERT_EQ(tok->encode_ordinary(text), c["ids"].get<std::vector<gpt2::TokenId>>());
    const auto r = score_all(*model, options_of(c, model->hparams()), {text});
    expect_matches_reference(r[0], c);
  }
}

TEST(Score, LongTextSpansSeveralWindows) {
  auto model = tiny_model();
  const json& c = reference()["cases"][0];
  const int64_t n_ctx = model->hparams().n_ctx;
  EXPECT_GT(static_cast<int64_t>(c["ids"].size()), n_ctx);
  const auto o = options_of(c, model->hparams());
  EXPECT_GE(gpt2::plan_windows(static_cast<int64_t>(c["ids"].size()) + 1, o.window, o.stride).size(), 3u);
}

TEST(Score, BatchedEqualsOneDocumentAtATime) {
  auto model = tiny_model();
  std::vector<std::string> texts;
  std::vector<const json*> cases;
  for (const json& c : reference()["cases"])
    if (c["eot_prefix"].get<bool>() && c["window"] == 64 && c["stride"] == 32) {
      texts.push_back(c["text"].get<std::string>());
      cases.push_back(&c);
    }
  ASSERT_GE(texts.size(), 3u);
  auto o = options_of(*cases[0], model->hparams());
  o.batch_tokens = 4096;  // every window of every document in one forward pass
  const auto batched = score_all(*model, o, texts);
  o.batch_tokens = 1;     // one window per pass
  const auto single = score_all(*model, o, texts);
  for (size_t d = 0; d < texts.size(); ++d) {
    expect_matches_reference(batched[d], *cases[d]);
    ASSERT_EQ(batched[d].tokens.size(), single[d].tokens.size());
    // Other matrix shapes round differently: float32 noise (entropy sums 50,257 terms).
    for (size_t i = 0; i < single[d].tokens.size(); ++i) {
      EXPECT_NEAR(batched[d].tokens[i].logprob, single[d].tokens[i].logprob, 2e-5);
      EXPECT_NEAR(batched[d].tokens[i].entropy, single[d].tokens[i].entropy, 5e-5);
    }
  }
}

// One document fed in pieces of any size scores exactly the windows of the whole:
// every reference case matches the float64 reference piece by piece.
TEST(Score, StreamedDocumentMatchesTheReference) {
  auto model = tiny_model();
  auto tok = gpt2::Tokenizer::builtin();
  for (const json& c : reference()["cases"]) {
    const auto o = options_of(c, model->hparams());
    const std::string text = c["text"].get<std::string>();
    const std::vector<gpt2::TokenId> ids = tok->encode_ordinary(text);
    for (size_t piece : {size_t{1}, size_t{3}, size_t{17}, size_t{100}}) {
      SCOPED_TRACE("pieces of " + std::to_string(piece));
      Result r;
      int64_t docs = 0;
      gpt2::Scorer s(*model, o);
      s.on_token([&](int64_t, const gpt2::TokenScore& t) { r.tokens.push_back(t); });
      s.on_document([&](int64_t, const gpt2::ScoreTotals& t) {
        r.totals = t;
        ++docs;
      });
      EXPECT_EQ(s.begin_document(), 0);
      for (size_t i = 0; i < ids.size(); i += piece)
        s.feed(ids.data() + i, std::min(piece, ids.size() - i));
      s.end_document(static_cast<int64_t>(text.size()));
      s.flush();
      ASSERT_EQ(docs, 1);
      expect_matches_reference(r, c);
    }
  }
}

// A long document fed in pieces holds about a window plus a piece of its ids,
// and scores like the same ids added whole.
TEST(Score, StreamedDocumentHoldsAboutOneWindow) {
  auto model = tiny_model();
  auto o = gpt2::resolve_score_options({}, model->hparams());  // window 64, stride 32
  o.batch_tokens = 256;
  std::mt19937 rng(5);
  std::vector<gpt2::TokenId> ids(3000);
  for (auto& id : ids) id = static_cast<gpt2::TokenId>(rng() % 50257);
  std::vector<gpt2::TokenScore> whole, streamed;
  gpt2::Scorer a(*model, o);
  a.on_token([&](int64_t, const gpt2::TokenScore& t) { whole.push_back(t); });
  a.add(ids, 0);
  a.flush();
  gpt2::Scorer b(*model, o);
  b.on_token([&](int64_t, const gpt2::TokenScore& t) { streamed.push_back(t); });
  b.begin_document();
  const size_t piece = 50;
  int64_t most = 0;
  for (size_t i = 0; i < ids.size(); i += piece) {
    b.feed(ids.data() + i, std::min(piece, ids.size() - i));
    most = std::max(most, b.tokens_held());
  }
  b.end_document(0);
  b.flush();
  // Kept: from the next window's start (a window + the batch's unbatched
  // windows) to the end of the last piece, and up to as much again before
  // trimming (it drops the dead prefix once that is half of what is held).
  EXPECT_LE(most, 2 * (o.window + o.batch_tokens + static_cast<int64_t>(piece)));
  EXPECT_EQ(b.tokens_held(), 0);
  ASSERT_EQ(streamed.size(), whole.size());
  ASSERT_EQ(static_cast<int64_t>(whole.size()), static_cast<int64_t>(ids.size()));  // with the prefix, all
  for (size_t i = 0; i < whole.size(); ++i) {
    ASSERT_EQ(streamed[i].index, whole[i].index);
    ASSERT_EQ(streamed[i].id, whole[i].id);
    EXPECT_NEAR(streamed[i].logprob, whole[i].logprob, 2e-5);
  }
}

TEST(Score, StreamingMisuseAndEmptyDocuments) {
  auto model = tiny_model();
  auto o = gpt2::resolve_score_options({}, model->hparams());
  gpt2::Scorer s(*model, o);
  const gpt2::TokenId id = 464;
  EXPECT_THROW(s.feed(&id, 1), std::logic_error);
  EXPECT_THROW(s.end_document(0), std::logic_error);
  EXPECT_EQ(s.begin_document(), 0);
  EXPECT_THROW(s.begin_document(), std::logic_error);
  EXPECT_THROW(s.end_document(0), gpt2::UsageError);  // nothing fed: nothing to score
  EXPECT_EQ(s.begin_document(), 0);                    // the empty one was forgotten
  s.feed(&id, 1);
  s.end_document(3);
  s.flush();
  EXPECT_EQ(s.tokens_scored(), 1);
}

TEST(Score, ScoreTokensIsTheSequenceLoss) {
  auto model = tiny_model();
  const json& c = reference()["cases"][3];  // no <|endoftext|> prefix, window 64, stride 32
  ASSERT_FALSE(c["eot_prefix"].get<bool>());
  const auto r = gpt2::score_tokens(*model, c["ids"].get<std::vector<gpt2::TokenId>>(), 64, 32, 5);
  ASSERT_EQ(r.tokens.size(), c["tokens"].size());
  EXPECT_NEAR(r.totals.mean_nll(), c["mean_nll"].get<double>(), 1e-4);
  EXPECT_THROW(gpt2::score_tokens(*model, {464}), gpt2::UsageError);
}

TEST(Score, NothingToScore) {
  auto model = tiny_model();
  auto o = gpt2::resolve_score_options({}, model->hparams());
  gpt2::Scorer s(*model, o);
  EXPECT_THROW(s.add({}, 0), gpt2::UsageError);
  o.eot_prefix = false;
  gpt2::Scorer s2(*model, o);
  EXPECT_THROW(s2.add({464}, 3), gpt2::UsageError);
  EXPECT_EQ(s2.scored_count(2), 1);
}

TEST(Score, CompareWithItselfGivesZeroKL) {
  auto model = tiny_model();
  auto same = tiny_model();
  const json& c = reference()["cases"][1];
  const auto r = score_all(*model, options_of(c, model->hparams()), {c["text"].get<std::string>()}, same.get());
  const auto& t = r[0].totals;
  EXPECT_TRUE(t.compared);
  EXPECT_EQ(t.kl_divergence(), 0.0);
  EXPECT_EQ(t.top1_agreement(), 1.0);
  EXPECT_EQ(t.perplexity_delta(), 0.0);
  expect_matches_reference(r[0], c);
}

TEST(Score, CompareBfloat16AgainstFloat32) {
  auto bf16 = tiny_model(gpt2::ops::WeightType::kBFloat16);
  auto f32 = tiny_model();
  const json& c = reference()["cases"][0];
  const auto r = score_all(*bf16, options_of(c, bf16->hparams()), {c["text"].get<std::string>()}, f32.get());
  const auto& t = r[0].totals;
  EXPECT_GT(t.kl_divergence(), 0.0);
  EXPECT_LT(t.kl_divergence(), 1e-2);
  EXPECT_NEAR(t.reference_perplexity() / c["perplexity"].get<double>(), 1.0, 1e-3);  // the float32 side
  double kl = 0;
  for (const auto& s : r[0].tokens) {
    EXPECT_GE(s.kl, -1e-6);
    kl += s.kl;
  }
  EXPECT_NEAR(t.kl_divergence(), kl / static_cast<double>(r[0].tokens.size()), 1e-12);
}
