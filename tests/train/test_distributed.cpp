// Data-parallel training (gpt2/train/distributed.hpp): the launcher's
// environment; two ranks as two threads of this process on 127.0.0.1 —
// gradients averaged in buckets (against the mean computed here), sums, rank 0's
// solo work, a rank that goes away named in the other's error; and finetune()
// on 2 ranks x --batch b equal to 1 rank x --batch 2b, with rank 0 alone writing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/types.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/train/distributed.hpp"
#include "gpt2/train/run_dir.hpp"
#include "support/model_test_util.hpp"
#include "support/test_support.hpp"
#include "train/train_test_util.hpp"

namespace fs = std::filesystem;
using gpt2::DataParallel;
using gpt2::DistributedEnv;
using gpt2::DistributedError;

namespace {

DistributedEnv env_of(const std::map<std::string, std::string>& m) {
  return gpt2::distributed_env([&](const char* name) -> const char* {
    auto it = m.find(name);
    return it == m.end() ? nullptr : it->second.c_str();
  });
}

// A TCP port nobody listens on now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

DistributedEnv local_env(int rank, int world, int port) {
  DistributedEnv e;
  e.rank = rank;
  e.world_size = world;
  e.master_addr = "127.0.0.1";
  e.master_port = port;
  e.launcher = "test";
  return e;
}

// Runs rank 1's body on a thread and rank 0's here; what each threw (empty: nothing).
std::vector<std::string> run_two_ranks(const std::function<void(int)>& body) {
  std::vector<std::string> errors(2);
  auto rank_main = [&](int r) {
    try {
      body(r);
    } catch (const std::exception& e) {
      errors[static_cast<size_t>(r)] = e.what();
    }
  };
  std::thread t1(rank_main, 1);
  rank_main(0);
  t1.join();
  return errors;
}

}  // namespace

TEST(DistributedEnv, AloneWithoutLauncherVariables) {
  const DistributedEnv e = env_of({});
  EXPECT_FALSE(e.active());
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.launcher, "");
}

TEST(DistributedEnv, TorchrunVariables) {
  const DistributedEnv e = env_of({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node0"},
                                   {"MASTER_PORT", "29500"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                   {"TORCHELASTIC_RESTART_COUNT", "2"}});
  EXPECT_TRUE(e.active());
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 29500);
  EXPECT_TRUE(e.agent_store);
  EXPECT_EQ(e.restart_count, 2);
  EXPECT_EQ(e.launcher, "torchrun");
}

TEST(DistributedEnv, SlurmVariablesWithAddressFromTheBatchScript) {
  const DistributedEnv e = env_of({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "0"},
                                   {"MASTER_ADDR", "10.0.0.5"}, {"MASTER_PORT", "12345"}});
  EXPECT_EQ(e.launcher, "slurm");
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 2);
  EXPECT_FALSE(e.agent_store);
  // torchrun's variables win over an enclosing Slurm allocation's
  const DistributedEnv t = env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}, {"RANK", "1"}, {"WORLD_SIZE", "2"},
                                   {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_EQ(t.launcher, "torchrun");
  EXPECT_EQ(t.rank, 1);
  // one Slurm task alone (srun -n1, salloc) needs no address
  EXPECT_FALSE(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}).active());
}

TEST(DistributedEnv, BadValuesNameTheVariable) {
  auto msg = [](const std::map<std::string, std::string>& m) {
    try {
      env_of(m);
    } catch (const gpt2::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::map<std::string, std::string> ok = {
      {"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = ok;
    if (v.empty()) m.erase(k);
    else m[k] = v;
    return m;
  };
  EXPECT_NE(msg(with("RANK", "x")).find("RANK='x'"), std::string::npos);
  EXPECT_NE(msg(with("RANK", "2")).find("RANK='2' must be an integer in [0, 1]"), std::string::npos);
  EXPECT_NE(msg(with("WORLD_SIZE", "0")).find("WORLD_SIZE"), std::string::npos);
  EXPECT_NE(msg(with("MASTER_ADDR", "")).find("MASTER_ADDR"), std::string::npos);
  EXPECT_NE(msg(with("MASTER_PORT", "70000")).find("MASTER_PORT='70000'"), std::string::npos);
  EXPECT_NE(msg({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("batch script"), std::string::npos);
  EXPECT_EQ(msg(ok), "no error");
}

TEST(DataParallel, AveragesGradientsInBucketsSumsAndWaitsForRankZero) {
  const int port = free_port();
  // rank r's gradients: seeded per rank; the expected mean is computed here in float64
  auto grads_of = [](int rank) {
    torch::manual_seed(100 + rank);
    std::vector<torch::Tensor> ps;
    for (auto shape : std::vector<std::vector<int64_t>>{{300, 7}, {5}, {2000}, {3, 4, 5}}) {
      auto p = torch::zeros(shape, torch::kFloat32).requires_grad_(true);
      p.mutable_grad() = torch::randn(shape, torch::kFloat32);
      ps.push_back(p);
    }
    return ps;
  };
  std::vector<std::vector<torch::Tensor>> params = {grads_of(0), grads_of(1)};
  std::vector<torch::Tensor> expected;
  for (size_t i = 0; i < params[0].size(); ++i)
    expected.push_back((params[0][i].grad().to(torch::kFloat64) + params[1][i].grad().to(torch::kFloat64)) / 2);
  std::vector<std::vector<double>> sums(2);
  std::vector<std::string> shared(2);
  std::vector<int> solo_ran(2, 0);
  const auto errors = run_two_ranks([&](int r) {
    DataParallel dp(local_env(r, 2, port), std::chrono::seconds(30), /*bucket_bytes=*/4096);  // several buckets
    dp.average_gradients(params[r], 0);
    sums[r] = dp.sum({1.5 * (r + 1), static_cast<double>(r)}, 0);
    dp.root_only("a slow job", [&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));  // longer than a heartbeat
      solo_ran[r] = 1;
    });
    shared[r] = dp.share_from_root("k", r == 0 ? "from-0" : "from-1");
    dp.finish();
  });
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int r = 0; r < 2; ++r) {
    for (size_t i = 0; i < expected.size(); ++i)
      EXPECT_TRUE(torch::allclose(params[r][i].grad().to(torch::kFloat64), expected[i], 1e-6, 1e-6))
          << "rank " << r << " tensor " << i;
    EXPECT_EQ(sums[r], (std::vector<double>{4.5, 1.0}));
    EXPECT_EQ(shared[r], "from-0");
  }
  EXPECT_EQ(solo_ran, (std::vector<int>{1, 0}));
}

TEST(DataParallel, ARankThatGoesAwayIsNamedInTheOthersError) {
  const int port = free_port();
  std::string error0;
  std::thread t1([&] {
    DataParallel dp(local_env(1, 2, port), std::chrono::seconds(20));
    dp.sum({1.0}, 0);
    // leaves: its connections close and its heartbeat stops
  });
  {
    DataParallel dp(local_env(0, 2, port), std::chrono::seconds(20));
    dp.sum({1.0}, 0);
    t1.join();
    const auto t0 = std::chrono::steady_clock::now();
    try {
      dp.sum({1.0}, 1);
    } catch (const DistributedError& e) {
      error0 = e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  }
  EXPECT_NE(error0.find("rank 0 of 2"), std::string::npos) << error0;
  EXPECT_NE(error0.find("rank 1 died or stopped responding"), std::string::npos) << error0;
}

TEST(DataParallel, RanksThatNeverAppearFailWithinTheTimeout) {
  const int port = free_port();
  std::string error;
  try {
    DataParallel dp(local_env(0, 2, port), std::chrono::seconds(2));
  } catch (const DistributedError& e) {
    error = e.what();
  }
  EXPECT_NE(error.find("did not all join within 2 s"), std::string::npos) << error;
}

// finetune() on two ranks (threads) with --batch 1 equals one rank with --batch 2:
// the same windows, the mean of the two ranks' gradients = the gradient of the
// mean loss; losses and weights equal up to float32 reduction order.
TEST(DataParallelFinetune, TwoRanksOfBatchOneEqualOneRankOfBatchTwo) {
  gpt2::test::TempDir dir("dp-finetune");
  const fs::path base = gpt2::test::fixture_dir("tiny-ref");
  const fs::path data = dir / "corpus.txt";
  gpt2::test::write_file(data, gpt2::test::tiny_corpus());
  const int64_t steps = 4;

  auto one = gpt2::test::tiny_finetune(base, data, dir / "one", steps);
  one.batch = 2;
  gpt2::test::QuietObserver quiet;
  gpt2::finetune(one, quiet);

  const int port = free_port();
  std::vector<gpt2::FinetuneResult> res(2);
  const auto errors = run_two_ranks([&](int r) {
    auto o = gpt2::test::tiny_finetune(base, data, dir / "two", steps);
    o.batch = 1;
    o.dist = local_env(r, 2, port);
    o.dist_timeout_s = 60;
    gpt2::test::QuietObserver q;
    res[r] = gpt2::finetune(o, q);
  });
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  EXPECT_EQ(res[0].rank, 0);
  EXPECT_EQ(res[1].rank, 1);
  EXPECT_NEAR(res[0].loss, res[1].loss, 1e-12);  // every rank reports the world's loss

  const gpt2::RunState a = gpt2::read_run_state(dir / "one"), b = gpt2::read_run_state(dir / "two");
  ASSERT_EQ(a.history.size(), static_cast<size_t>(steps));
  ASSERT_EQ(b.history.size(), a.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_NEAR(b.history[i].loss, a.history[i].loss, 1e-5 * std::abs(a.history[i].loss)) << "step " << i + 1;
    if (a.history[i].val_loss >= 0) {
      EXPECT_NEAR(b.history[i].val_loss, a.history[i].val_loss, 1e-4);
    }
  }
  EXPECT_EQ(nlohmann::json::parse(b.settings_json).at("world_size"), 2);
  EXPECT_EQ(nlohmann::json::parse(a.settings_json).at("world_size"), 1);
  const gpt2::ModelWeights wa = gpt2::load_model_weights(dir / "one"), wb = gpt2::load_model_weights(dir / "two");
  gpt2::for_each_weight(wa.hp, [&](const gpt2::WeightId& id) {
    const std::string name = gpt2::weight_hf_name(id);
    torch::Tensor x = wa.at(id), y = wb.at(id);
    if (name.find("attn.c_attn.bias") != std::string::npos) {
      // The key bias's gradient is zero in exact arithmetic (softmax ignores a shift
      // shared by all keys): float32 leaves rounding noise that AdamW normalises to
      // full-size steps of either sign. Compare the query and value biases.
      const int64_t C = wa.hp.n_embd;
      x = torch::cat({x.narrow(0, 0, C), x.narrow(0, 2 * C, C)});
      y = torch::cat({y.narrow(0, 0, C), y.narrow(0, 2 * C, C)});
    }
    EXPECT_TRUE(torch::allclose(y, x, 1e-4, 1e-5)) << name << " max diff " << (y - x).abs().max().item<double>();
  });
}
