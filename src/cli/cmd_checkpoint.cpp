#include "cli/commands.hpp"
namespace gpt2::cli {
void register_checkpoint_commands(CLI::App&, CliIO&) {}  // TODO(checkpoint): verify, info
}
