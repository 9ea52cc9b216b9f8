#include "cli/in_process.hpp"

#include <csignal>
#include <sstream>

#include "cli/app.hpp"
#include "gpt2/base/interrupt.hpp"

namespace gpt2::test {

ProcResult run_in_process(const std::vector<std::string>& args, const std::string& stdin_data, bool stdin_is_tty) {
  std::istringstream in(stdin_data);
  std::ostringstream out, err;
  gpt2::cli::CliIO io{in, out, err, stdin_is_tty, false};
  std::vector<std::string> full = {"gpt2"};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& a : full) argv.push_back(a.c_str());
  ProcResult r;
  r.exit_code = gpt2::cli::run_cli(static_cast<int>(argv.size()), argv.data(), io);
  // A command may have installed its Ctrl-C handler: leave the process as it was.
  std::signal(SIGINT, SIG_DFL);
  gpt2::clear_interrupt();
  r.out = out.str();
  r.err = err.str();
  return r;
}

}  // namespace gpt2::test
