// Starts the real `gpt2 serve` on 127.0.0.1 with a free port (--port 0; the
// port is read from its "listening on" line), waits for /health to say ok,
// and stops it (SIGTERM) on destruction. Its stderr (the access log) is kept.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.hpp"

namespace gpt2::test {

class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
    std::vector<std::string> argv = {gpt2_binary().string(), "serve", "--model",
                                     (data_dir() / "tiny-ref").string(), "--host", "127.0.0.1", "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    reader_ = std::thread([this] {
      char buf[4096];
      for (;;) {
        const ssize_t n = read(fd_, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard<std::mutex> lock(mu_);
        err_.append(buf, static_cast<size_t>(n));
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    const std::regex ready("gpt2 serve: loaded");
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        std::smatch m;
        if (port_ == 0 && std::regex_search(err_, m, listening)) port_ = std::stoi(m[1]);
        if (port_ != 0 && std::regex_search(err_, ready)) return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        reader_.join();
        throw std::runtime_error("gpt2 serve exited early (" + std::to_string(exit_code_) + "): " + err());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("gpt2 serve did not become ready: " + err());
  }

  ~ServeProcess() {
    if (!exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (reader_.joinable()) reader_.join();
    close(fd_);
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The server's resident memory (VmRSS), KiB.
  int64_t rss_kib() const {
    const std::string status = read_file("/proc/" + std::to_string(pid_) + "/status");
    const auto at = status.find("VmRSS:");
    return at == std::string::npos ? -1 : std::stoll(status.substr(at + 6));
  }
  std::string err() {
    std::lock_guard<std::mutex> lock(mu_);
    return err_;
  }

  // Waits (up to timeout_s) for `needle` on the server's stderr: the access log
  // line of a request is written after its response, so it may come a moment later.
  bool wait_err(const std::string& needle, double timeout_s = 10) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (err().find(needle) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Sends `sig` and waits (up to timeout_s) for the exit; returns the exit code (-1: still running).
  int stop(int sig = SIGTERM, double timeout_s = 30) {
    if (exited_) return exit_code_;
    kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        reader_.join();
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  int port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::string err_;
};

}  // namespace gpt2::test
