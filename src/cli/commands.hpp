// Registration of each group of subcommands (one file per group).
// Each register_* adds its subcommand(s) with an options struct owned by the
// callback, and runs the command from the subcommand's callback.
#pragma once

#include "cli/app.hpp"

namespace gpt2::cli {

void register_tokenizer_commands(CLI::App& app, CliIO& io);   // encode, decode       (cmd_tokenizer.cpp)
void register_checkpoint_commands(CLI::App& app, CliIO& io);  // verify, info         (cmd_checkpoint.cpp)
void register_generate_commands(CLI::App& app, CliIO& io);    // generate, sample-unconditional (cmd_generate.cpp)
void register_download_command(CLI::App& app, CliIO& io);     // download             (cmd_download.cpp)
void register_bench_command(CLI::App& app, CliIO& io);        // bench                (cmd_bench.cpp)
void register_merge_command(CLI::App& app, CliIO& io);        // merge-shards         (cmd_merge_shards.cpp)
void register_score_command(CLI::App& app, CliIO& io);        // score                (cmd_score.cpp)
void register_finetune_command(CLI::App& app, CliIO& io);     // finetune             (cmd_finetune.cpp)
void register_serve_command(CLI::App& app, CliIO& io);        // serve                (cmd_serve.cpp)

}  // namespace gpt2::cli
