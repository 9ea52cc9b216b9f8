// Test helpers for the downloader: starts tests/download/fault_server.py on
// 127.0.0.1 (a port chosen by the OS), controls its faults, reads its request
// log; builds the fixture trees it serves from tests/data/tiny-ref.
// Header-only so both test_download and the e2e tests in test_cli can use it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gpt2/download/http_client.hpp"
#include "support/test_support.hpp"

namespace gpt2::test {

struct LoggedRequest {
  std::string method, path, range;
};

class FaultServer {
 public:
  // Serves `root`. Throws if the server does not report its port within 20 s.
  explicit FaultServer(const std::filesystem::path& root) {
    setenv("no_proxy", "127.0.0.1,localhost", 1);  // never send test traffic to a proxy
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const std::string script = (source_dir() / "tests" / "download" / "fault_server.py").string();
    const std::string root_s = root.string();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], 1);
      const char* argv[] = {GPT2_PYTHON3, script.c_str(), root_s.c_str(), nullptr};
      execv(GPT2_PYTHON3, const_cast<char* const*>(argv));
      _exit(127);
    }
    close(out[1]);
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out[0], POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      char buf[64];
      const ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    port_ = std::atoi(line.c_str());
    if (port_ <= 0) {
      stop();
      throw std::runtime_error("fault_server.py did not start (" GPT2_PYTHON3 " failed)");
    }
  }
  ~FaultServer() { stop(); }
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // mode and extra "k=v&k=v" parameters as documented in fault_server.py.
  void set_fault(const std::string& path, const std::string& mode, const std::string& params = "") {
    control("set?path=" + path + "&mode=" + mode + (params.empty() ? "" : "&" + params));
  }
  void clear_fault(const std::string& path) { control("clear?path=" + path); }
  void reset() { control("reset"); }

  std::vector<LoggedRequest> log() {
    const std::string text = control("log");
    std::vector<LoggedRequest> out;
    for (const auto& e : nlohmann::json::parse(text))
      out.push_back({e.at("method").get<std::string>(), e.at("path").get<std::string>(),
                     e.at("range").get<std::string>()});
    return out;
  }
  // Requests for `path` with `method` ("" = any).
  std::vector<LoggedRequest> requests(const std::string& path, const std::string& method = "") {
    std::vector<LoggedRequest> r;
    for (auto& e : log())
      if (e.path == path && (method.empty() || e.method == method)) r.push_back(e);
    return r;
  }

 private:
  std::string control(const std::string& what) {
    HttpClient client;
    std::string body;
    const HttpResult r = client.get_string(url() + "/_control/" + what, body);
    if (!r.transport_ok || r.head.status != 200)
      throw std::runtime_error("fault server control failed: " + what + " " + r.error);
    return body;
  }

  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int st = 0;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  pid_t pid_ = -1;
  int port_ = 0;
};

// The seven released file names.
inline const std::vector<std::string>& released_files() {
  static const std::vector<std::string> f = {"checkpoint",       "encoder.json",     "hparams.json",
                                             "model.ckpt.data-00000-of-00001", "model.ckpt.index",
                                             "model.ckpt.meta",  "vocab.bpe"};
  return f;
}


// Deterministic pseudo-random bytes (for files the downloader does not parse).
inline std::string pseudo_random_bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return s;
}

// Builds the tree the fault server serves:
//   <root>/124M/<seven released files>   (real tiny TF bundle: crc checks are real)
//   <root>/gpt2/resolve/main/{config.json, vocab.json, merges.txt, model.safetensors}
// Returns file name -> expected bytes for the OpenAI layout.
inline std::map<std::string, std::string> build_fixture_tree(const std::filesystem::path& root) {
  namespace fs = std::filesystem;
  const fs::path ref = tiny_ref_dir();
  std::map<std::string, std::string> files;
  files["checkpoint"] = read_file(ref / "checkpoint");
  files["hparams.json"] = read_file(ref / "hparams.json");
  files["model.ckpt.index"] = read_file(ref / "model.ckpt.index");
  files["model.ckpt.data-00000-of-00001"] = read_file(ref / "model.ckpt.data-00000-of-00001");
  files["model.ckpt.meta"] = pseudo_random_bytes(30000, 7);  // the graph; never parsed
  files["encoder.json"] = "{\"!\": 0, \"\\\"\": 1, \"hello\": 2, \"<|endoftext|>\": 3}";
  files["vocab.bpe"] = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n";
  for (const auto& [name, data] : files) write_file(root / "124M" / name, data);

  const fs::path hf = root / "gpt2" / "resolve" / "main";
  write_file(hf / "config.json",
             "{\"model_type\": \"gpt2\", \"vocab_size\": 50257, \"n_positions\": 64, \"n_ctx\": 64,"
             " \"n_embd\": 24, \"n_head\": 3, \"n_layer\": 3}\n");
  write_file(hf / "vocab.json", files["encoder.json"]);
  write_file(hf / "merges.txt", files["vocab.bpe"]);
  write_file(hf / "model.safetensors", read_file(ref / "model.safetensors"));
  return files;
}

// Polls until `p` exists with at least `min_size` bytes (or the timeout passes).
inline bool wait_for_file(const std::filesystem::path& p, int64_t min_size, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(p, ec);
    if (!ec && static_cast<int64_t>(size) >= min_size) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace gpt2::test
