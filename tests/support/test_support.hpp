// Helpers shared by every test executable: fixture paths, temp dirs, files,
// and running the real gpt2 binary as a subprocess.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace gpt2::test {

// tests/data (fixtures copied from ../shared/gpt2, see tests/data/SOURCES.md).
std::filesystem::path data_dir();
// tests/data/tiny-ref: the random GPT-2 with float64 reference logits; as a path, and
// as the string a command line takes.
std::filesystem::path tiny_ref_dir();
std::string tiny_ref();
// The built gpt2 executable.
std::filesystem::path gpt2_binary();
// The repository root.
std::filesystem::path source_dir();

std::string read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::string& data);

// A fresh empty directory removed (recursively) on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "t");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct ProcResult {
  int exit_code = -1;    // exit status, or 128+signal if killed by a signal
  bool timed_out = false;
  std::string out;       // captured stdout
  std::string err;       // captured stderr
};

struct ProcOptions {
  std::string stdin_data;                                  // written to the child's stdin, then closed
  std::vector<std::pair<std::string, std::string>> env;    // added/overridden variables
  std::filesystem::path cwd;                               // empty: inherit
  double timeout_s = 120;                                  // SIGKILL after this
  // If signal != 0: send it to the child once its stdout holds at least
  // `signal_after_lines` newlines (e.g. SIGINT to test Ctrl-C handling).
  int signal = 0;
  size_t signal_after_lines = 1;
};

// Runs argv[0] (a path) with the given arguments, capturing stdout and stderr.
ProcResult run_process(const std::vector<std::string>& argv, const ProcOptions& opt = {});

// Runs the gpt2 binary with `args`.
ProcResult run_gpt2(const std::vector<std::string>& args, const ProcOptions& opt = {});

// Starts the gpt2 binary with `args` (stdout and stderr to /dev/null) and
// SIGKILLs it once `file` holds at least `lines` lines: a crash or preemption
// in the middle of a run. False if it ended first (or after timeout_s).
bool kill_gpt2_after_lines(const std::vector<std::string>& args, const std::filesystem::path& file, size_t lines,
                           double timeout_s = 120);

}  // namespace gpt2::test
