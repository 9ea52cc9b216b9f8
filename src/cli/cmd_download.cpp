#include "cli/commands.hpp"
namespace gpt2::cli {
void register_download_command(CLI::App&, CliIO&) {}  // TODO(download): download
}
