#include "cli/commands.hpp"
namespace gpt2::cli {
void register_generate_commands(CLI::App&, CliIO&) {}  // TODO(model): generate, sample-unconditional
}
