// `gpt2 download MODEL`: fetch a released checkpoint (resumable, retried,
// verified). All the work is in gpt2::download_model; this file maps flags to
// DownloadOptions and plugs the console progress renderer in.
#include <memory>
#include <ostream>
#include <string>

#include "cli/commands.hpp"
#include "gpt2/download/downloader.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/base/model_names.hpp"
#include "gpt2/download/progress.hpp"

namespace gpt2::cli {

namespace {

struct DownloadCliOptions {
  std::string model;
  std::string models_dir;  // empty: gpt2::default_models_dir()
  std::string base_url;    // empty: the source's default (or $GPT2_BASE_URL)
  std::string source = "openai";
  bool quiet = false;
  int retries = 6;
  double backoff_s = 1.0;
  double backoff_max_s = 30.0;
  long connect_timeout_s = 30;
  long low_speed_time_s = 30;
  long low_speed_limit = 1024;
  bool no_space_check = false;
};

void run_download(const DownloadCliOptions& o, CliIO& io) {
  DownloadOptions opt;
  opt.model = o.model;
  opt.models_dir = models_dir_or_default(o.models_dir);
  opt.source = parse_download_source(o.source);
  opt.base_url = o.base_url;
  opt.max_attempts = o.retries;
  opt.backoff_initial_s = o.backoff_s;
  opt.backoff_max_s = o.backoff_max_s;
  opt.connect_timeout_s = o.connect_timeout_s;
  opt.low_speed_time_s = o.low_speed_time_s;
  opt.low_speed_limit = o.low_speed_limit;
  opt.check_free_space = !o.no_space_check;
  plan_download(opt);  // unknown name / bad URL: a usage error before anything else

  std::unique_ptr<DownloadProgress> progress;
  if (!o.quiet) {
    progress = make_console_progress(io.err, io.stderr_is_tty);
    opt.progress = progress.get();
  }
  install_interrupt_handler();
  download_model(opt);
}

}  // namespace

void register_download_command(CLI::App& app, CliIO& io) {
  auto opt = std::make_shared<DownloadCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "download", "Download a released GPT-2 checkpoint into <models-dir>/<name> (resumable, verified)");
  sub->add_option("model", opt->model, "Model size: 124M, 355M, 774M or 1558M (aliases 117M, 345M)")
      ->required();
  sub->add_option("--models-dir", opt->models_dir,
                  "Directory holding the models (default: $GPT2_MODELS_DIR or ./models)");
  sub->add_option("--base-url", opt->base_url,
                  "Mirror to download from (default: OpenAI's bucket, or huggingface.co/openai-community "
                  "with --source hf)")
      ->envname("GPT2_BASE_URL");
  sub->add_option("--source", opt->source, "Where to download from: openai (TF checkpoint) or hf (safetensors)")
      ->check(CLI::IsMember({"openai", "hf"}));
  sub->add_flag("-q,--quiet", opt->quiet, "Print nothing but errors");
  sub->add_option("--retries", opt->retries, "Attempts per file without progress before giving up")
      ->check(CLI::Range(1, 100));
  sub->add_option("--backoff", opt->backoff_s, "Seconds to wait before the first retry (doubles each time)")
      ->check(CLI::Range(0.0, 3600.0));
  sub->add_option("--backoff-max", opt->backoff_max_s, "Longest wait between retries, in seconds")
      ->check(CLI::Range(0.0, 3600.0));
  sub->add_option("--timeout", opt->connect_timeout_s, "Connection timeout in seconds")
      ->check(CLI::Range(1L, 3600L));
  sub->add_option("--low-speed-time", opt->low_speed_time_s,
                  "Abort an attempt slower than --low-speed-limit for this many seconds (0: never)")
      ->check(CLI::Range(0L, 3600L));
  sub->add_option("--low-speed-limit", opt->low_speed_limit, "Bytes per second below which a transfer is stalled")
      ->check(CLI::Range(1L, 1L << 30));
  sub->add_flag("--no-space-check", opt->no_space_check, "Skip the free disk space check");
  sub->callback([opt, &io] { run_download(*opt, io); });
}

}  // namespace gpt2::cli
