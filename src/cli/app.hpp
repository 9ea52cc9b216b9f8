// The gpt2 command-line application: make_app() builds every subcommand and is
// shared by main() and the tests. Commands throw gpt2::Error; run_cli() maps
// errors to messages on stderr and exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <memory>

namespace gpt2::cli {

// Streams a command reads and writes. Data goes to `out`, messages to `err`.
struct CliIO {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  bool stdin_is_tty = false;
  bool stderr_is_tty = false;
};

std::unique_ptr<CLI::App> make_app(CliIO& io);

// Parses argv and runs the chosen subcommand. Returns the process exit code.
int run_cli(int argc, const char* const* argv, CliIO& io);

}  // namespace gpt2::cli
