#include "cli/app.hpp"

#include <exception>
#include <iostream>

#include "cli/commands.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2::cli {

std::unique_ptr<CLI::App> make_app(CliIO& io) {
  auto app = std::make_unique<CLI::App>(
      "gpt2: download OpenAI's GPT-2 checkpoints, tokenize text and sample from the models", "gpt2");
  app->require_subcommand(1);
  app->set_version_flag("--version", std::string("gpt2 ") + GPT2_VERSION_STRING);
  register_tokenizer_commands(*app, io);
  register_checkpoint_commands(*app, io);
  register_generate_commands(*app, io);
  register_merge_command(*app, io);
  register_download_command(*app, io);
  register_bench_command(*app, io);
  register_score_command(*app, io);
  register_finetune_command(*app, io);
  register_serve_command(*app, io);
  return app;
}

int run_cli(int argc, const char* const* argv, CliIO& io) {
  std::unique_ptr<CLI::App> app;
  try {
    app = make_app(io);
    app->parse(argc, argv);
    io.out.flush();
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    io.out.flush();
    const int code = app ? app->exit(e, io.out, io.err) : 1;
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const Error& e) {
    io.out.flush();
    io.err << "gpt2: error: " << e.what() << std::endl;
    return e.exit_code();
  } catch (const std::exception& e) {
    io.out.flush();
    io.err << "gpt2: error: " << e.what() << std::endl;
    return kExitError;
  }
}

}  // namespace gpt2::cli
