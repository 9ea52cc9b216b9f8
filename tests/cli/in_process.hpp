// Runs the gpt2 application in this test process: the same make_app()/run_cli()
// that main() calls, with stdin, stdout and stderr as strings. For the many
// option and input errors the end-to-end tests check: each real `gpt2` process
// pays libtorch's start-up (~0.6 CPU-s, several times that under the sanitizers),
// which dominated the CLI suite. Every test file that uses it still runs the real
// binary for at least one of its cases.
#pragma once

#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace gpt2::test {

// `args` without the program name; `stdin_data` is what the command reads from stdin.
// Returns the exit code run_cli() gives main(), and what was written to out and err.
ProcResult run_in_process(const std::vector<std::string>& args, const std::string& stdin_data = "",
                          bool stdin_is_tty = false);

}  // namespace gpt2::test
