#include "cli/commands.hpp"
namespace gpt2::cli {
void register_bench_command(CLI::App&, CliIO&) {}  // TODO(perf): bench
}
