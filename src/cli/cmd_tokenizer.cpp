#include "cli/commands.hpp"
namespace gpt2::cli {
void register_tokenizer_commands(CLI::App&, CliIO&) {}  // TODO(tokenizer): encode, decode
}
