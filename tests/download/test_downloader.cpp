// gpt2::download_model against the local fault-injection server: every fault of
// issue 5 is survived (byte-identical result) or reported with nothing lost.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

#include "download/fault_server.hpp"
#include "gpt2/download/downloader.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/hparams.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/download/progress.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace gpt2;
using namespace gpt2::test;

namespace {

const std::string kData = "model.ckpt.data-00000-of-00001";
const std::string kDataPath = "/124M/" + kData;

struct Event {
  std::string kind, file, text;
  double wait_s = 0;  // retries: the wait the downloader chose
};

class RecordingProgress : public DownloadProgress {
 public:
  void file_started(const std::string& f, int64_t offset, int64_t) override {
    events.push_back({"start", f, std::to_string(offset)});
  }
  void file_finished(const std::string& f, int64_t bytes, int64_t) override {
    events.push_back({"finish", f, std::to_string(bytes)});
  }
  void file_skipped(const std::string& f, int64_t) override { events.push_back({"skip", f, ""}); }
  void retrying(const std::string& f, int, int, double wait_s, const std::string& why) override {
    events.push_back({"retry", f, why, wait_s});
  }
  void message(const std::string& line) override { events.push_back({"message", "", line}); }
  int count(const std::string& kind, const std::string& file = "") const {
    int n = 0;
    for (const auto& e : events) n += (e.kind == kind && (file.empty() || e.file == file)) ? 1 : 0;
    return n;
  }
  bool any_message_contains(const std::string& s) const {
    for (const auto& e : events)
      if (e.text.find(s) != std::string::npos) return true;
    return false;
  }
  std::vector<Event> events;
};

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class DownloaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_ = build_fixture_tree(srv_root_.path());
    server_ = std::make_unique<FaultServer>(srv_root_.path());
  }

  DownloadOptions options() {
    DownloadOptions o;
    o.model = "124M";
    o.models_dir = models_.path();
    o.base_url = server_->url();
    o.max_attempts = 4;
    o.backoff_initial_s = 0.02;
    o.backoff_max_s = 0.2;
    o.connect_timeout_s = 5;
    o.low_speed_limit = 1000;
    o.low_speed_time_s = 2;
    o.progress = &progress_;
    return o;
  }

  fs::path model_dir() const { return models_.path() / "124M"; }

  // Every released file present, byte-identical, nothing else but the lock.
  void expect_complete_model() {
    for (const auto& [name, data] : files_) {
      ASSERT_TRUE(fs::exists(model_dir() / name)) << name;
      EXPECT_TRUE(read_file(model_dir() / name) == data) << name << " differs from the served file";
    }
    for (const auto& n : names_in(model_dir())) {
      EXPECT_EQ(n.find(".partial"), std::string::npos) << n;
      EXPECT_EQ(n.find(".verify-"), std::string::npos) << n;
    }
  }

  TempDir srv_root_{"dl-srv"};
  TempDir models_{"dl-models"};
  std::map<std::string, std::string> files_;
  std::unique_ptr<FaultServer> server_;
  RecordingProgress progress_;
};

}  // namespace

TEST(DownloadPlan, ReleasedFilesAndUrls) {
  DownloadOptions o;
  o.model = "117M";  // alias
  const auto plan = plan_download(o);
  ASSERT_EQ(plan.size(), 7u);
  std::vector<std::string> names;
  for (const auto& f : plan) names.push_back(f.name);
  EXPECT_EQ(names, released_files());
  EXPECT_EQ(plan[0].url, "https://openaipublic.blob.core.windows.net/gpt-2/models/124M/checkpoint");
  o.model = "345M";
  o.base_url = "http://mirror.example/gpt2/";  // trailing slash is dropped
  EXPECT_EQ(plan_download(o)[2].url, "http://mirror.example/gpt2/355M/hparams.json");
}

TEST(DownloadPlan, HuggingFaceRepos) {
  DownloadOptions o;
  o.source = DownloadSource::kHuggingFace;
  o.model = "1558M";
  const auto plan = plan_download(o);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[3].name, "model.safetensors");
  EXPECT_EQ(plan[3].url, "https://huggingface.co/openai-community/gpt2-xl/resolve/main/model.safetensors");
  EXPECT_EQ(hf_repo_for("124M"), "gpt2");
  EXPECT_EQ(hf_repo_for("345M"), "gpt2-medium");
  EXPECT_EQ(hf_repo_for("774M"), "gpt2-large");
  EXPECT_EQ(parse_download_source("hf"), DownloadSource::kHuggingFace);
  EXPECT_EQ(parse_download_source("openai"), DownloadSource::kOpenAI);
  EXPECT_THROW(parse_download_source("s3"), UsageError);
}

TEST(DownloadPlan, RejectsUnknownNamesAndBadUrls) {
  DownloadOptions o;
  for (const std::string bad : {"", "125M", "../124M", "124M/../..", "/etc", "."}) {
    o.model = bad;
    try {
      plan_download(o);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("124M, 355M, 774M, 1558M"), std::string::npos) << e.what();
    }
  }
  o.model = "124M";
  for (const std::string url : {"ftp://x/y", "file:///etc", "http://", "http://a b", "example.com"}) {
    o.base_url = url;
    EXPECT_THROW(plan_download(o), UsageError) << url;
  }
}

TEST_F(DownloaderTest, UnknownNameMakesNoRequestAndNoDirectory) {
  auto o = options();
  o.model = "../../evil";
  EXPECT_THROW(download_model(o), UsageError);
  EXPECT_TRUE(server_->log().empty());
  EXPECT_TRUE(names_in(models_.path()).empty());
}

TEST_F(DownloaderTest, FetchesVerifiesAndKeepsCompleteFiles) {
  const auto res = download_model(options());
  expect_complete_model();
  EXPECT_EQ(res.fetched.size(), 7u);
  EXPECT_GT(res.tensors_verified, 0);
  EXPECT_EQ(res.bytes_received, static_cast<int64_t>(files_.at(kData).size() + files_.at("model.ckpt.meta").size() +
                                                     files_.at("model.ckpt.index").size() +
                                                     files_.at("checkpoint").size() + files_.at("hparams.json").size() +
                                                     files_.at("encoder.json").size() + files_.at("vocab.bpe").size()));

  // A second run verifies what is there and makes no request at all.
  server_->reset();
  RecordingProgress second;
  auto o = options();
  o.progress = &second;
  const auto again = download_model(o);
  EXPECT_TRUE(again.fetched.empty());
  EXPECT_EQ(again.kept.size(), 7u);
  EXPECT_EQ(second.count("skip"), 7);
  EXPECT_TRUE(server_->log().empty());
  expect_complete_model();
}

TEST_F(DownloaderTest, DroppedConnectionResumesByteIdentical) {
  server_->set_fault(kDataPath, "drop", "after=1000000");
  download_model(options());
  expect_complete_model();
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(gets[0].range, "");
  EXPECT_EQ(gets[1].range.rfind("bytes=", 0), 0u);  // resumed, not restarted
  EXPECT_NE(gets[1].range, "bytes=0-");
  EXPECT_EQ(progress_.count("retry", kData), 1);
}

TEST_F(DownloaderTest, ServerErrorTwiceThenSuccess) {
  server_->set_fault("/124M/hparams.json", "status", "code=500&times=2");
  server_->set_fault(kDataPath, "status", "code=503&times=2");
  download_model(options());
  expect_complete_model();
  EXPECT_EQ(server_->requests("/124M/hparams.json", "GET").size(), 3u);
  EXPECT_EQ(server_->requests(kDataPath, "GET").size(), 3u);
  EXPECT_EQ(progress_.count("retry", "hparams.json"), 2);
}

TEST_F(DownloaderTest, RetryAfterIsHonoured) {
  server_->set_fault("/124M/checkpoint", "status", "code=429&times=1&retry_after=1");
  auto o = options();
  o.backoff_initial_s = 0;
  o.backoff_max_s = 5;
  download_model(o);
  // The one retry waits what the server's Retry-After said, not the (zero) backoff.
  ASSERT_EQ(progress_.count("retry", "checkpoint"), 1);
  for (const auto& e : progress_.events)
    if (e.kind == "retry") EXPECT_EQ(e.wait_s, 1.0) << e.text;
  expect_complete_model();
}

TEST_F(DownloaderTest, RetriesAreBounded) {
  server_->set_fault("/124M/vocab.bpe", "status", "code=500&times=-1");
  auto o = options();
  o.max_attempts = 3;
  try {
    download_model(o);
    FAIL() << "expected NetworkError";
  } catch (const NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.bpe"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("500"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server_->requests("/124M/vocab.bpe", "GET").size(), 3u);
  EXPECT_FALSE(fs::exists(model_dir() / "vocab.bpe"));
  EXPECT_FALSE(fs::exists(model_dir() / "vocab.bpe.partial"));  // an error page is never stored
}

TEST_F(DownloaderTest, NotFoundOnProbeIsClearAndSavesNothing) {
  server_->set_fault("/124M/hparams.json", "status", "code=404&times=-1&methods=GET,HEAD");
  try {
    download_model(options());
    FAIL() << "expected NetworkError";
  } catch (const NetworkError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("404"), std::string::npos) << m;
    EXPECT_NE(m.find("hparams.json"), std::string::npos) << m;
  }
  EXPECT_TRUE(server_->requests(kDataPath, "GET").empty());  // failed before any transfer
  for (const auto& n : names_in(model_dir())) EXPECT_EQ(n, ".lock");
}

TEST_F(DownloaderTest, NotFoundOnGetSavesNothingForThatFile) {
  server_->set_fault("/124M/vocab.bpe", "status", "code=403&times=-1");  // HEAD says 200
  try {
    download_model(options());
    FAIL() << "expected NetworkError";
  } catch (const NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("403"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server_->requests("/124M/vocab.bpe", "GET").size(), 1u);  // 4xx is not retried
  EXPECT_FALSE(fs::exists(model_dir() / "vocab.bpe.partial"));
  EXPECT_FALSE(fs::exists(model_dir() / "vocab.bpe"));
  // Nothing got a final name: files are renamed only after verification.
  EXPECT_FALSE(fs::exists(model_dir() / kData));
}

TEST_F(DownloaderTest, ServerIgnoringRangeRestartsFromZero) {
  // A leftover partial with wrong bytes: appending to it would corrupt the file.
  fs::create_directories(model_dir());
  write_file(model_dir() / (kData + ".partial"), std::string(5000, 'x'));
  server_->set_fault(kDataPath, "ignore_range", "times=-1");
  download_model(options());
  expect_complete_model();
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].range, "bytes=5000-");
  EXPECT_TRUE(progress_.any_message_contains("ignored the resume request"));
}

TEST_F(DownloaderTest, CompletePartialFromAKilledRunIsNotFetchedAgain) {
  fs::create_directories(model_dir());
  write_file(model_dir() / (kData + ".partial"), files_.at(kData));
  download_model(options());
  expect_complete_model();
  EXPECT_TRUE(server_->requests(kDataPath, "GET").empty());
}

TEST_F(DownloaderTest, CompletePartialWithoutSizeProbeUses416) {
  fs::create_directories(model_dir());
  write_file(model_dir() / (kData + ".partial"), files_.at(kData));
  server_->set_fault(kDataPath, "status", "code=503&times=-1&methods=HEAD");  // no size up front
  download_model(options());
  expect_complete_model();
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0].range, "bytes=" + std::to_string(files_.at(kData).size()) + "-");
}

TEST_F(DownloaderTest, StalledServerTimesOutThenRerunCompletes) {
  server_->set_fault(kDataPath, "stall", "after=2000&times=-1&seconds=30");
  auto o = options();
  o.low_speed_time_s = 1;
  o.max_attempts = 2;
  EXPECT_THROW(download_model(o), NetworkError);  // (the server would stall for 30 s per attempt)
  EXPECT_EQ(progress_.count("retry", kData), 1);  // two attempts, each ended by the low-speed limit
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  ASSERT_TRUE(fs::exists(model_dir() / (kData + ".partial")));
  EXPECT_EQ(fs::file_size(model_dir() / (kData + ".partial")), 2000u);
  // The first attempt got 2000 bytes, the second resumed there and got none.
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_GE(gets.size(), 2u);
  EXPECT_EQ(gets[1].range, "bytes=2000-");

  server_->clear_fault(kDataPath);
  download_model(options());
  expect_complete_model();
}

TEST_F(DownloaderTest, WrongBytesAreCaughtMovedAsideAndRefetched) {
  server_->set_fault(kDataPath, "corrupt", "times=1");
  try {
    download_model(options());
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(kData), std::string::npos) << m;
    EXPECT_NE(m.find("moved aside"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  EXPECT_FALSE(fs::exists(model_dir() / (kData + ".partial")));
  int corrupt = 0;
  for (const auto& n : names_in(model_dir())) corrupt += n.rfind(kData + ".corrupt-", 0) == 0 ? 1 : 0;
  EXPECT_EQ(corrupt, 1);
  // The files that verified fine got their final names.
  EXPECT_TRUE(read_file(model_dir() / "model.ckpt.index") == files_.at("model.ckpt.index"));

  download_model(options());  // fault used up: a clean copy
  expect_complete_model();
  EXPECT_EQ(server_->requests(kDataPath, "GET").size(), 2u);
}

TEST_F(DownloaderTest, CorruptedFileOnDiskIsMovedAsideAndFetchedNextRun) {
  download_model(options());
  {
    std::string data = files_.at(kData);
    data[data.size() / 3] ^= 0x55;
    write_file(model_dir() / kData, data);
  }
  server_->reset();
  EXPECT_THROW(download_model(options()), FormatError);
  EXPECT_TRUE(server_->log().empty());  // verification alone, no network
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  download_model(options());
  expect_complete_model();
}

TEST_F(DownloaderTest, TruncatedFileOnDiskIsCaught) {
  download_model(options());
  const std::string& data = files_.at(kData);
  write_file(model_dir() / kData, data.substr(0, data.size() - 100));
  EXPECT_THROW(download_model(options()), FormatError);
  download_model(options());
  expect_complete_model();
}

TEST_F(DownloaderTest, ConcurrentDownloadIntoSameDirectoryIsRefused) {
  server_->set_fault(kDataPath, "slow", "rate=2000000&times=1");
  std::exception_ptr first_error;
  std::thread first([&] {
    try {
      auto o = options();
      o.progress = nullptr;
      download_model(o);
    } catch (...) {
      first_error = std::current_exception();
    }
  });
  ASSERT_TRUE(wait_for_file(model_dir() / (kData + ".partial"), 1, 20));
  try {
    download_model(options());
    ADD_FAILURE() << "second download was not refused";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("another gpt2 download"), std::string::npos) << e.what();
  }
  first.join();
  EXPECT_FALSE(first_error) << "first download failed";
  expect_complete_model();
}

TEST_F(DownloaderTest, NotEnoughFreeSpaceIsCheckedUpFront) {
  server_->set_fault(kDataPath, "length", "value=1000000000000000&times=-1&methods=HEAD");
  try {
    download_model(options());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("free space"), std::string::npos) << e.what();
  }
  for (const auto& r : server_->log()) EXPECT_EQ(r.method, "HEAD") << r.path;
}

TEST_F(DownloaderTest, HuggingFaceSourceMakesAUniformDirectory) {
  auto o = options();
  o.source = DownloadSource::kHuggingFace;
  const auto res = download_model(o);
  EXPECT_EQ(res.fetched.size(), 4u);
  const fs::path d = model_dir();
  const fs::path served = srv_root_.path() / "gpt2" / "resolve" / "main";
  EXPECT_TRUE(read_file(d / "model.safetensors") == read_file(served / "model.safetensors"));
  EXPECT_EQ(read_file(d / "encoder.json"), read_file(served / "vocab.json"));
  EXPECT_EQ(read_file(d / "vocab.bpe"), read_file(served / "merges.txt"));
  EXPECT_EQ(HParams::load(d / "hparams.json"), HParams::load(tiny_ref_dir() / "hparams.json"));
  for (const auto& n : names_in(d)) EXPECT_EQ(n.find(".partial"), std::string::npos) << n;
}

TEST_F(DownloaderTest, HuggingFaceBadConfigIsReported) {
  write_file(srv_root_.path() / "gpt2" / "resolve" / "main" / "config.json", "{\"vocab_size\": 50257}");
  auto o = options();
  o.source = DownloadSource::kHuggingFace;
  try {
    download_model(o);
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("config.json"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(model_dir() / "config.json"));
  EXPECT_FALSE(fs::exists(model_dir() / "hparams.json"));
}

TEST_F(DownloaderTest, CtrlCStopsCleanlyAndKeepsThePartialFile) {
  server_->set_fault(kDataPath, "slow", "rate=1000000&times=1");
  install_interrupt_handler();
  std::thread ctrl_c([&] {
    if (wait_for_file(model_dir() / (kData + ".partial"), 100000, 20)) std::raise(SIGINT);
  });
  EXPECT_THROW(download_model(options()), InterruptedError);
  ctrl_c.join();
  clear_interrupt();
  std::signal(SIGINT, SIG_DFL);
  EXPECT_FALSE(fs::exists(model_dir() / kData));
  ASSERT_TRUE(fs::exists(model_dir() / (kData + ".partial")));
  download_model(options());  // resumes
  expect_complete_model();
  const auto gets = server_->requests(kDataPath, "GET");
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_NE(gets[1].range, "");
}
