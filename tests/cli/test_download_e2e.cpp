// `gpt2 download` end to end: the real binary against the local fault server,
// including a SIGKILL mid-transfer and two concurrent runs.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "download/fault_server.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace gpt2::test;

namespace {

const std::string kData = "model.ckpt.data-00000-of-00001";
const std::string kDataPath = "/124M/" + kData;

// Starts the gpt2 binary in the background (output discarded); returns its pid.
pid_t spawn_gpt2(const std::vector<std::string>& args) {
  std::vector<std::string> argv{gpt2_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    dup2(null_fd, 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    execv(a[0], a.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` (after sending `sig` if non-zero); returns the exit code or 128+signal.
int reap(pid_t pid, int sig = 0) {
  if (sig != 0) kill(pid, sig);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

class DownloadE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = build_fixture_tree(srv_root_.path());
    server_ = std::make_unique<FaultServer>(srv_root_.path());
  }

  // The download command with fast test settings; `extra` flags replace defaults.
  std::vector<std::string> args(const std::vector<std::string>& extra = {}) {
    std::vector<std::pair<std::string, std::string>> flags = {
        {"--models-dir", models_.path().string()}, {"--base-url", server_->url()}, {"--retries", "3"},
        {"--backoff", "0.02"}, {"--backoff-max", "0.2"}, {"--timeout", "5"}, {"--low-speed-time", "2"}};
    std::vector<std::string> a = {"download", "124M"};
    for (const auto& [flag, value] : flags)
      if (std::find(extra.begin(), extra.end(), flag) == extra.end()) a.insert(a.end(), {flag, value});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  fs::path model_dir() const { return models_.path() / "124M"; }

  void expect_complete_model() {
    for (const auto& [name, data] : files_) {
      ASSERT_TRUE(fs::exists(model_dir() / name)) << name;
      EXPECT_TRUE(read_file(model_dir() / name) == data) << name << " differs from the served file";
    }
    for (const auto& e : fs::directory_iterator(model_dir()))
      EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
  }

  // No file may carry a final name unless it is complete and right.
  void expect_no_incomplete_final_files() {
    for (const auto& [name, data] : files_) {
      if (fs::exists(model_dir() / name)) {
        EXPECT_TRUE(read_file(model_dir() / name) == data) << name << " looks complete but is not";
      }
    }
  }

  TempDir srv_root_{"dle2e-srv"};
  TempDir models_{"dle2e-models"};
  std::map<std::string, std::string> files_;
  std::unique_ptr<FaultServer> server_;
};

}  // namespace

TEST_F(DownloadE2E, UnknownNameListsValidNamesWithoutANetworkRequest) {
  ProcOptions po;
  po.env = {{"GPT2_BASE_URL", server_->url()}};
  const auto r = run_gpt2({"download", "999M", "--models-dir", models_.path().string()}, po);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("gpt2: error: unknown model '999M'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("124M, 355M, 774M, 1558M"), std::string::npos) << r.err;
  EXPECT_TRUE(server_->log().empty());
  EXPECT_TRUE(fs::is_empty(models_.path()));
}

TEST_F(DownloadE2E, NamesCannotEscapeTheModelsDirectory) {
  for (const std::string name : {"../escape", "124M/../../escape"}) {
    const auto r = run_gpt2({"download", name, "--models-dir", models_.path().string(), "--base-url", server_->url()});
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(models_.path().parent_path() / "escape"));
  EXPECT_TRUE(fs::is_empty(models_.path()));
  EXPECT_TRUE(server_->log().empty());
}

TEST_F(DownloadE2E, DownloadsVerifiesAndThenKeepsTheModel) {
  const auto r = run_gpt2(args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no live bar when stderr is not a terminal";
  EXPECT_NE(r.err.find(kData + ": 4.7 MiB"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("complete and verified"), std::string::npos) << r.err;
  expect_complete_model();

  server_->reset();
  const auto again = run_gpt2(args());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("already present"), std::string::npos) << again.err;
  EXPECT_TRUE(server_->log().empty());
}

TEST_F(DownloadE2E, QuietPrintsNothingAndBaseUrlComesFromTheEnvironment) {
  ProcOptions po;
  po.env = {{"GPT2_BASE_URL", server_->url()}};
  const auto r = run_gpt2({"download", "117M", "--models-dir", models_.path().string(), "--quiet"}, po);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "");
  expect_complete_model();  // 117M is stored as 124M
}

TEST_F(DownloadE2E, NotFoundIsANetworkErrorWithNothingSaved) {
  server_->set_fault("/124M/encoder.json", "status", "code=404&times=-1&methods=GET,HEAD");
  const auto r = run_gpt2(args());
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("gpt2: error: HTTP 404 Not Found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("encoder.json"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(model_dir() / "encoder.json"));
  EXPECT_FALSE(fs::exists(model_dir() / "encoder.json.partial"));
}

TEST_F(DownloadE2E, KilledMidDownloadThenRunAgain) {
  server_->set_fault(kDataPath, "slow", "rate=400000&times=-1");  // ~12 s for the 4.7 MiB file
  const fs::path partial = model_dir() / (kData + ".partial");
  const pid_t pid = spawn_gpt2(args());
  const bool transferring = wait_for_file(partial, 100000, 60);
  EXPECT_EQ(reap(pid, SIGKILL), 128 + SIGKILL);  // killed while the data file is transferring
  ASSERT_TRUE(transferring);
  const auto got = fs::file_size(partial);
  EXPECT_GE(got, 100000u);
  EXPECT_LT(got, files_.at(kData).size());
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  expect_no_incomplete_final_files();

  server_->clear_fault(kDataPath);
  const auto r = run_gpt2(args());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("resuming at"), std::string::npos) << r.err;
  expect_complete_model();
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_NE(gets[1].range, "");  // the rerun resumed rather than starting over
}

TEST_F(DownloadE2E, TwoConcurrentDownloadsIntoTheSameDirectory) {
  // The first run stalls on the data file (holding the lock) until we kill it.
  server_->set_fault(kDataPath, "stall", "after=100000&times=1&seconds=60");
  const pid_t first = spawn_gpt2(args({"--low-speed-time", "60"}));
  const bool transferring = wait_for_file(model_dir() / (kData + ".partial"), 100000, 60);
  const auto second = run_gpt2(args());
  EXPECT_EQ(reap(first, SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(transferring);
  EXPECT_EQ(second.exit_code, 1) << second.err;
  EXPECT_NE(second.err.find("another gpt2 download is already writing"), std::string::npos) << second.err;
  expect_no_incomplete_final_files();
  // The lock dies with its holder: the next run completes the download.
  const auto third = run_gpt2(args());
  ASSERT_EQ(third.exit_code, 0) << third.err;
  expect_complete_model();
}

TEST_F(DownloadE2E, StalledServerTimesOutThenARerunCompletes) {
  server_->set_fault(kDataPath, "stall", "after=2000&times=-1&seconds=30");
  const auto r = run_gpt2(args({"--low-speed-time", "1", "--retries", "2"}));
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("giving up on " + kData), std::string::npos) << r.err;
  expect_no_incomplete_final_files();
  server_->clear_fault(kDataPath);
  const auto again = run_gpt2(args());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  expect_complete_model();
}

TEST_F(DownloadE2E, WrongBytesFailVerificationThenARerunFetchesAgain) {
  server_->set_fault(kDataPath, "corrupt", "times=1");
  const auto r = run_gpt2(args());
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("failed verification"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  const auto again = run_gpt2(args());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  expect_complete_model();
}

TEST_F(DownloadE2E, HuggingFaceSource) {
  const auto r = run_gpt2(args({"--source", "hf"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* f : {"model.safetensors", "config.json", "hparams.json", "encoder.json", "vocab.bpe"})
    EXPECT_TRUE(fs::exists(model_dir() / f)) << f;
  const auto bad = run_gpt2(args({"--source", "s3"}));
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
}
