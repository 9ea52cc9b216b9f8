#include "support/test_support.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;

namespace gpt2::test {

fs::path data_dir() { return fs::path(GPT2_TEST_DATA_DIR); }
fs::path tiny_ref_dir() { return data_dir() / "tiny-ref"; }
std::string tiny_ref() { return tiny_ref_dir().string(); }
fs::path gpt2_binary() { return fs::path(GPT2_BINARY); }
fs::path source_dir() { return fs::path(GPT2_SOURCE_DIR); }

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& data) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + p.string());
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

TempDir::TempDir(const std::string& tag) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  const fs::path base = fs::path(GPT2_TEST_TMP_DIR);
  fs::create_directories(base);
  for (;;) {
    path_ = base / (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + "-" +
                    std::to_string(rd() % 100000));
    if (fs::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ProcResult run_process(const std::vector<std::string>& argv, const ProcOptions& opt) {
  if (argv.empty()) throw std::invalid_argument("run_process: empty argv");
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC))
    throw std::runtime_error("pipe failed");

  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!opt.cwd.empty() && chdir(opt.cwd.c_str()) != 0) _exit(126);
    for (const auto& [k, v] : opt.env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);

  ProcResult r;
  size_t written = 0;
  int in_fd = in_pipe[1];
  if (opt.stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  } else {
    fcntl(in_fd, F_SETFL, O_NONBLOCK);
  }
  signal(SIGPIPE, SIG_IGN);
  int out_fd = out_pipe[0], err_fd = err_pipe[0];
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<long>(opt.timeout_s * 1000));
  char buf[65536];
  bool signalled = false;
  size_t newlines = 0;
  while (out_fd >= 0 || err_fd >= 0) {
    if (opt.signal != 0 && !signalled && newlines >= opt.signal_after_lines) {
      kill(pid, opt.signal);
      signalled = true;
    }
    pollfd fds[3];
    int n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      kill(pid, SIGKILL);
      r.timed_out = true;
      break;
    }
    int pr = poll(fds, n, static_cast<int>(std::min<long>(left, 1000)));
    if (pr < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == in_fd) {
        ssize_t w = write(in_fd, opt.stdin_data.data() + written, opt.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN) written = opt.stdin_data.size();
        if (written >= opt.stdin_data.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (fds[i].fd == out_fd ? r.out : r.err).append(buf, static_cast<size_t>(got));
        if (fds[i].fd == out_fd)
          newlines += static_cast<size_t>(std::count(buf, buf + got, '\n'));
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        if (fds[i].fd == out_fd) {
          close(out_fd);
          out_fd = -1;
        } else {
          close(err_fd);
          err_fd = -1;
        }
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  return r;
}

ProcResult run_gpt2(const std::vector<std::string>& args, const ProcOptions& opt) {
  std::vector<std::string> argv{gpt2_binary().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, opt);
}

bool kill_gpt2_after_lines(const std::vector<std::string>& args, const std::filesystem::path& file, size_t lines,
                           double timeout_s) {
  std::vector<std::string> full = {gpt2_binary().string()};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  bool killed = false;
  for (;;) {
    std::string text;
    std::error_code ec;
    if (std::filesystem::exists(file, ec)) text = read_file(file);
    if (static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) >= lines) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (waitpid(pid, &status, WNOHANG) == pid) return false;  // it ended before
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  waitpid(pid, &status, 0);
  return killed;
}

}  // namespace gpt2::test
