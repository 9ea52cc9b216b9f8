// End-to-end tests of data-parallel `gpt2 finetune` (the real binary, two
// processes on 127.0.0.1 with the launcher's variables set by hand as torchrun
// sets them): 2 ranks x --batch 1 train like 1 process x --batch 2 (and resume
// alike), rank 1 writes nothing, and a rank that is killed or stopped ends the
// other with an error naming it within --dist-timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/test_support.hpp"

namespace fs = std::filesystem;
using gpt2::test::read_file;
using nlohmann::json;

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One rank: the gpt2 binary with torchrun's variables, stdout and stderr to files.
struct Rank {
  pid_t pid = -1;
  fs::path out, err;
  int status = -1;  // exit code, 128+signal, or -1 while running

  Rank(const std::vector<std::string>& args, int rank, int world, int port, const fs::path& dir) {
    out = dir / ("rank" + std::to_string(rank) + ".out");
    err = dir / ("rank" + std::to_string(rank) + ".err");
    std::vector<std::string> argv = {gpt2::test::gpt2_binary().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    pid = fork();
    if (pid == 0) {
      const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      for (const char* v : {"SLURM_PROCID", "SLURM_NTASKS", "TORCHELASTIC_USE_AGENT_STORE"}) unsetenv(v);
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      execv(a[0], a.data());
      _exit(127);
    }
  }
  ~Rank() {
    if (status < 0 && pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  // Waits up to `seconds`; false if still running then.
  bool wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      if (::waitpid(pid, &st, WNOHANG) == pid) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  size_t out_lines() const {
    const std::string s = fs::exists(out) ? read_file(out) : "";
    return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
  }
};

struct DpRun {
  gpt2::test::TempDir dir{"ft-dp-e2e"};
  std::string models = (dir / "models").string();
  std::string data = (dir / "corpus.txt").string();
  DpRun() {
    std::string s;
    for (int i = 0; i < 12; ++i) s += "Entry " + std::to_string(i) + ": a small corpus for a quick test.<|endoftext|>";
    gpt2::test::write_file(data, s);
  }
  std::vector<std::string> args(const std::string& run, int steps, int batch,
                                std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"finetune", "--model", (gpt2::test::data_dir() / "tiny-ref").string(),
                                  "--models-dir", models, "--data", data, "--run", run, "--steps",
                                  std::to_string(steps), "--seq", "16", "--batch", std::to_string(batch),
                                  "--threads", "1", "--device", "cpu", "--seed", "3", "--eval-every", "2",
                                  "--sample-every", "0", "--format", "jsonl"};
    for (size_t i = 0; i + 1 < extra.size(); i += 2) {  // option, value: replaces a default, else added
      auto it = std::find(a.begin(), a.end(), extra[i]);
      if (it != a.end()) {
        *(it + 1) = extra[i + 1];
      } else {
        a.push_back(extra[i]);
        a.push_back(extra[i + 1]);
      }
    }
    return a;
  }
};

std::vector<json> records(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
  return v;
}

// Both ranks to the end; rank 0's JSONL records.
std::vector<json> run_two(const DpRun& r, const std::string& run, int steps) {
  const int port = free_port();
  Rank r1(r.args(run, steps, 1), 1, 2, port, r.dir.path());
  Rank r0(r.args(run, steps, 1), 0, 2, port, r.dir.path());
  EXPECT_TRUE(r0.wait(120));
  EXPECT_TRUE(r1.wait(120));
  EXPECT_EQ(r0.status, 0) << read_file(r0.err);
  EXPECT_EQ(r1.status, 0) << read_file(r1.err);
  EXPECT_EQ(read_file(r1.out), "");  // rank 1 prints nothing
  EXPECT_NE(read_file(r0.err).find("data-parallel: 2 processes"), std::string::npos) << read_file(r0.err);
  return records(read_file(r0.out));
}

}  // namespace

TEST(FinetuneDpE2E, TwoRanksOfBatchOneTrainAndResumeLikeOneProcessOfBatchTwo) {
  DpRun r;
  auto single = gpt2::test::run_gpt2(r.args("one", 4, 2));
  ASSERT_EQ(single.exit_code, 0) << single.err;
  const auto want = records(single.out);
  ASSERT_EQ(want.size(), 4u);

  auto first = run_two(r, "two", 2);  // then resumed from its checkpoint by both ranks
  auto rest = run_two(r, "two", 4);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(rest.size(), 2u);
  first.insert(first.end(), rest.begin(), rest.end());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(first[i]["step"], want[i]["step"]);
    const double a = want[i]["loss"], b = first[i]["loss"];
    EXPECT_NEAR(b, a, 1e-5 * std::abs(a)) << "step " << i + 1;
    if (!want[i]["val_loss"].is_null()) {
      const double va = want[i]["val_loss"], vb = first[i]["val_loss"];
      EXPECT_NEAR(vb, va, 1e-4) << "step " << i + 1;
    }
  }
  const json state = json::parse(read_file(fs::path(r.models) / "two" / "training_state.json"));
  EXPECT_EQ(state["settings"]["world_size"], 2);
  EXPECT_EQ(state["step"], 4);
}

TEST(FinetuneDpE2E, AKilledRankEndsTheOtherWithAnErrorNamingIt) {
  DpRun r;
  const int port = free_port();
  const auto args = r.args("k", 100000, 1, {"--eval-every", "0", "--dist-timeout", "10"});
  Rank r0(args, 0, 2, port, r.dir.path());
  Rank r1(args, 1, 2, port, r.dir.path());
  for (int i = 0; i < 6000 && r0.out_lines() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(r0.out_lines(), 2u) << read_file(r0.err);
  ::kill(r1.pid, SIGKILL);
  ASSERT_TRUE(r1.wait(10));
  ASSERT_TRUE(r0.wait(10)) << "rank 0 still running 10 s after rank 1 was killed";
  const std::string err = read_file(r0.err);
  EXPECT_EQ(r0.status, 1) << err;
  EXPECT_NE(err.find("rank 1 died or stopped responding"), std::string::npos) << err;
}

TEST(FinetuneDpE2E, AStoppedRankEndsTheOtherWithinTheTimeout) {
  DpRun r;
  const int port = free_port();
  const auto args = r.args("s", 100000, 1, {"--eval-every", "0", "--dist-timeout", "4"});
  Rank r0(args, 0, 2, port, r.dir.path());
  Rank r1(args, 1, 2, port, r.dir.path());
  for (int i = 0; i < 6000 && r0.out_lines() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(r0.out_lines(), 2u) << read_file(r0.err);
  ::kill(r1.pid, SIGSTOP);  // hangs: alive, but answers nothing
  ASSERT_TRUE(r0.wait(4 + 6)) << "rank 0 still running well past --dist-timeout 4";
  const std::string err = read_file(r0.err);
  EXPECT_EQ(r0.status, 1) << err;
  EXPECT_NE(err.find("rank 1 died or stopped responding"), std::string::npos) << err;
  ::kill(r1.pid, SIGKILL);
  r1.wait(10);
}

TEST(FinetuneDpE2E, ABadLauncherVariableIsAUsageError) {
  DpRun r;
  gpt2::test::ProcOptions po;
  po.env = {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "notaport"}};
  auto t = gpt2::test::run_gpt2(r.args("bad", 2, 1), po);
  EXPECT_EQ(t.exit_code, 2) << t.err;
  EXPECT_NE(t.err.find("MASTER_PORT='notaport'"), std::string::npos) << t.err;
}
