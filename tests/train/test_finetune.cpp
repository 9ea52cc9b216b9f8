// finetune() end to end in-process on tests/data/tiny-ref: a resumed run
// (after a finished shorter run or an interrupt) equals an uninterrupted one
// bit for bit (1 thread); the run directory loads as a model with the same
// logits and a tied wte; interrupted saves are recovered; a failed save keeps
// the previous checkpoint; refusals of item 7.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <csignal>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"
#include "train/train_test_util.hpp"

namespace fs = std::filesystem;
using gpt2::test::read_file;
using gpt2::test::write_file;

namespace {

struct Fixture {
  gpt2::test::TempDir dir{"finetune"};
  fs::path base = gpt2::test::fixture_dir("tiny-ref");
  fs::path data = dir / "corpus.txt";
  Fixture() { write_file(data, gpt2::test::tiny_corpus()); }
  gpt2::FinetuneOptions opts(const std::string& run, int64_t steps) const {
    return gpt2::test::tiny_finetune(base, data, dir / "models" / run, steps);
  }
};

struct CountingObserver : gpt2::FinetuneObserver {
  std::vector<gpt2::LossPoint> points;
  std::vector<int64_t> saves;
  gpt2::FinetuneStart start;
  void started(const gpt2::FinetuneStart& s) override { start = s; }
  void step(const gpt2::LossPoint& p, int64_t) override { points.push_back(p); }
  void saved(int64_t step, const fs::path&) override { saves.push_back(step); }
};

}  // namespace

TEST(Finetune, ResumedRunEqualsUninterruptedRunBitwise) {
  Fixture f;
  auto constant = [&f](const std::string& run, int64_t steps) {
    auto o = f.opts(run, steps);
    o.schedule = gpt2::LrSchedule::kConstant;  // a cosine schedule is anchored to --steps: a longer run differs
    return o;
  };
  CountingObserver obs;
  auto whole = gpt2::finetune(constant("whole", 4), obs);
  EXPECT_EQ(whole.step, 4);
  EXPECT_FALSE(obs.start.resumed);
  ASSERT_EQ(obs.points.size(), 4u);
  EXPECT_GE(obs.points[1].val_loss, 0) << "evaluated every 2 steps";
  EXPECT_LT(obs.points[0].val_loss, 0);

  // 2 steps, then --steps 4 (gpt-2-simple's restore_from='latest' with more steps)
  CountingObserver o1, o2;
  gpt2::finetune(constant("split", 2), o1);
  auto r = gpt2::finetune(constant("split", 4), o2);
  EXPECT_TRUE(o2.start.resumed);
  EXPECT_TRUE(o2.start.tokens_from_cache);
  EXPECT_EQ(r.start_step, 2);
  EXPECT_EQ(r.step, 4);

  // interrupted after 3 steps (saved on the way out), then the same command again
  int polls = 0;
  gpt2::test::QuietObserver q;
  auto ir = gpt2::finetune(constant("interrupted", 4), q, [&polls] { return ++polls > 3; });
  EXPECT_TRUE(ir.interrupted);
  EXPECT_EQ(ir.step, 3);
  EXPECT_EQ(gpt2::read_run_state(f.dir / "models" / "interrupted").step, 3);
  gpt2::finetune(constant("interrupted", 4), q);

  // the same with the cosine schedule: interrupted + resumed == uninterrupted
  gpt2::finetune(f.opts("cosine-whole", 4), q);
  polls = 0;
  EXPECT_TRUE(gpt2::finetune(f.opts("cosine", 4), q, [&polls] { return ++polls > 1; }).interrupted);
  gpt2::finetune(f.opts("cosine", 4), q);

  auto same = [&f](const std::string& a, const std::string& b) {
    const fs::path da = f.dir / "models" / a, db = f.dir / "models" / b;
    EXPECT_EQ(read_file(da / "model.safetensors"), read_file(db / "model.safetensors")) << a << " vs " << b;
    EXPECT_EQ(read_file(da / gpt2::kOptimizerFile), read_file(db / gpt2::kOptimizerFile)) << a << " vs " << b;
    EXPECT_EQ(gpt2::read_run_state(da).history.size(), 4u) << a;
  };
  same("split", "whole");
  same("interrupted", "whole");
  same("cosine", "cosine-whole");
  EXPECT_NE(read_file(f.dir / "models" / "cosine" / "model.safetensors"),
            read_file(f.dir / "models" / "whole" / "model.safetensors"));
  // --steps not above the saved step
  try {
    gpt2::finetune(constant("whole", 4), q);
    FAIL() << "expected UsageError";
  } catch (const gpt2::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("already at step 4"), std::string::npos) << e.what();
  }
}

TEST(Finetune, RunDirectoryIsAModelWithTheTrainedLogitsAndTiedWte) {
  Fixture f;
  gpt2::test::QuietObserver q;
  auto r = gpt2::finetune(f.opts("m", 2), q);
  const fs::path d = r.run_dir;
  for (const char* file : {"model.safetensors", "config.json", "hparams.json", "encoder.json", "vocab.bpe",
                           gpt2::kOptimizerFile, gpt2::kTrainingStateFile, gpt2::kTokenCacheFile,
                           gpt2::kTokenCacheMeta, gpt2::kLossCurveFile})
    EXPECT_TRUE(fs::exists(d / file)) << file;
  EXPECT_TRUE(gpt2::verify_model_dir(d).ok());
  const auto header = gpt2::st::read_header(d / "model.safetensors");
  EXPECT_EQ(header.find("lm_head.weight"), nullptr) << "the head stays tied to wte";
  EXPECT_NE(header.find("transformer.wte.weight"), nullptr);

  // the trained weights differ from the base, and the saved ones give the trainable model's logits
  gpt2::TrainableGPT2 trained(gpt2::load_model_weights(d));
  gpt2::ModelSpec spec;
  spec.model = d.string();
  gpt2::LoadedModel loaded = gpt2::load_model(spec);
  const torch::Tensor ids = gpt2::test::ids_tensor({{464, 2068, 7586, 21831, 18045}});
  const torch::Tensor a = trained->forward(ids).detach(), b = loaded.model->forward(ids);
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
  gpt2::GPT2 base(gpt2::load_model_weights(f.base));
  EXPECT_GT((base->forward(ids) - b).abs().max().item<double>(), 1e-4) << "training changed the weights";
}

TEST(Finetune, RecoversFromACrashBetweenTheRenames) {
  Fixture f;
  gpt2::test::QuietObserver q;
  auto r = gpt2::finetune(f.opts("c", 2), q);
  const fs::path d = r.run_dir, newer = fs::path(d.string() + ".new"), older = fs::path(d.string() + ".old");
  // crash after <run> -> <run>.old, before <run>.new -> <run>
  fs::rename(d, older);
  gpt2::recover_run_dir(d);
  EXPECT_TRUE(gpt2::is_run_dir(d));
  EXPECT_FALSE(fs::exists(older));
  // a crash while writing <run>.new: the partial directory is dropped
  fs::create_directories(newer);
  write_file(newer / "encoder.json", "{");
  gpt2::recover_run_dir(d);
  EXPECT_FALSE(fs::exists(newer));
  EXPECT_EQ(gpt2::read_run_state(d).step, 2);
  // and finetune itself recovers before resuming
  fs::rename(d, older);
  EXPECT_EQ(gpt2::finetune(f.opts("c", 3), q).start_step, 2);
}

TEST(Finetune, FailedSaveKeepsThePreviousCheckpoint) {
  Fixture f;
  gpt2::test::QuietObserver q;
  auto r = gpt2::finetune(f.opts("full", 1), q);
  const std::string before = read_file(r.run_dir / "model.safetensors");
  // a disk that fills: files may grow to 1 MB only (model.safetensors is ~5 MB)
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit old_limit{};
  getrlimit(RLIMIT_FSIZE, &old_limit);
  rlimit small = old_limit;
  small.rlim_cur = 1 << 20;
  setrlimit(RLIMIT_FSIZE, &small);
  std::string message;
  try {
    gpt2::finetune(f.opts("full", 2), q);
  } catch (const gpt2::IoError& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("the previous checkpoint in"), std::string::npos) << message;
  EXPECT_NE(message.find("is intact"), std::string::npos) << message;
  EXPECT_EQ(gpt2::read_run_state(r.run_dir).step, 1);
  EXPECT_EQ(read_file(r.run_dir / "model.safetensors"), before);
  EXPECT_FALSE(fs::exists(r.run_dir.string() + ".new"));
}

TEST(Finetune, Refusals) {
  Fixture f;
  gpt2::test::QuietObserver q;
  auto expect = [&](gpt2::FinetuneOptions o, const std::string& fragment, int code) {
    try {
      gpt2::finetune(o, q);
      ADD_FAILURE() << "expected an error containing: " << fragment;
    } catch (const gpt2::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(e.exit_code(), code) << e.what();
    }
  };
  auto o = f.opts("r", 1);
  o.run = "124M";
  expect(o, "released model name", 2);
  o = f.opts("r", 1);
  o.run = f.base.string();
  expect(o, "base model itself", 2);
  fs::create_directories(f.dir / "models" / "other");
  write_file(f.dir / "models" / "other" / "notes.txt", "mine");
  expect(f.opts("other", 1), "not a run of gpt2 finetune", 2);
  o = f.opts("other", 1);
  o.overwrite = true;
  EXPECT_EQ(gpt2::finetune(o, q).step, 1);
  EXPECT_FALSE(fs::exists(f.dir / "models" / "other" / "notes.txt"));
  o = f.opts("r", 1);
  o.data = {};
  expect(o, "no training data", 2);
  o.data = {(f.dir / "nope.txt").string()};
  expect(o, "nope.txt not found", 3);
  write_file(f.dir / "empty.txt", "");
  o.data = {(f.dir / "empty.txt").string()};
  expect(o, "is empty", 4);
  o = f.opts("r", 1);
  o.memory_limit = 1 << 20;
  expect(o, "try a smaller --seq", 2);
  o = f.opts("r", 1);
  o.seq = 65;
  expect(o, "exceeds the model's context", 2);
  EXPECT_FALSE(fs::exists(f.dir / "models" / "r")) << "nothing written for refused runs";
}

// A new run writes its token cache as soon as it has tokenized: a first run
// stopped before its first checkpoint does not tokenize again, and its directory
// (only the cache in it) is not mistaken for someone else's data.
TEST(Finetune, AFirstRunStoppedBeforeItsFirstCheckpointKeepsItsTokens) {
  Fixture f;
  gpt2::test::QuietObserver q;
  const fs::path run = f.dir / "models" / "early";
  auto r = gpt2::finetune(f.opts("early", 2), q, [] { return true; });  // stopped before step 1
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.step, 0);
  EXPECT_FALSE(gpt2::is_run_dir(run));
  EXPECT_TRUE(fs::exists(run / gpt2::kTokenCacheFile));
  EXPECT_TRUE(fs::exists(run / gpt2::kTokenCacheMeta));
  CountingObserver again;
  auto done = gpt2::finetune(f.opts("early", 2), again);
  EXPECT_TRUE(again.start.tokens_from_cache);
  EXPECT_FALSE(again.start.resumed);
  EXPECT_EQ(done.step, 2);
  EXPECT_TRUE(gpt2::is_run_dir(run));
  // The same run from scratch in one go gives the same weights.
  gpt2::finetune(f.opts("whole", 2), q);
  EXPECT_EQ(read_file(run / "model.safetensors"), read_file(f.dir / "models" / "whole" / "model.safetensors"));
}
