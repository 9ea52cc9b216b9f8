// `gpt2 finetune`: options -> gpt2::finetune (gpt2/finetune.hpp), with a
// progress bar on a terminal, plain lines otherwise, or JSONL log records.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/model_options.hpp"
#include "gpt2/base/format.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/train/finetune.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/download/progress.hpp"

namespace gpt2::cli {

namespace {

// The library's options, bound straight to the flags, plus what only the CLI has.
struct FinetuneCliOptions {
  FinetuneOptions lib;
  ModelCliOptions model;            // -> lib.base
  std::string schedule = "constant";  // -> lib.schedule
  double max_memory_gib = 0;          // -> lib.memory_limit
  std::string format = "text";
  CLI::Option* seed_opt = nullptr;    // -> lib.seed_given
};

FinetuneOptions to_library(const FinetuneCliOptions& c) {
  if (c.format != "text" && c.format != "jsonl")
    throw UsageError("--format must be text or jsonl, got '" + c.format + "'");
  if (c.max_memory_gib < 0) throw UsageError("--max-memory must be >= 0 GiB");
  FinetuneOptions o = c.lib;
  o.base = c.model.spec();
  o.schedule = parse_lr_schedule(c.schedule);
  o.seed_given = c.seed_opt->count() > 0;
  o.memory_limit = static_cast<int64_t>(c.max_memory_gib * 1024.0 * 1024.0 * 1024.0);
  o.dist = distributed_env();  // torchrun's or Slurm's variables, if any
  return o;
}

// Progress and log output: a live bar on a terminal, plain lines otherwise,
// JSON records on stdout with --format jsonl. Messages go to stderr.
class ConsoleObserver : public FinetuneObserver {
 public:
  ConsoleObserver(CliIO& io, bool jsonl) : io_(io), jsonl_(jsonl), bar_(io.stderr_is_tty && !jsonl) {}

  void started(const FinetuneStart& s) override {
    start_step_ = s.start_step;
    t0_ = std::chrono::steady_clock::now();
    io_.err << "gpt2: " << (s.resumed ? "resuming " : "starting ") << s.run_dir.string() << " from "
            << s.base_dir.string() << (s.resumed ? " at step " + std::to_string(s.start_step) : std::string())
            << " (" << s.total_steps << " steps, seed " << s.seed << ", " << s.device << ")\n"
            << "gpt2: data: " << format_grouped(s.train_tokens) << " training tokens (" << s.train_documents
            << " documents), " << format_grouped(s.val_tokens) << " validation tokens (" << s.val_documents
            << " documents)" << (s.tokens_from_cache ? ", token cache reused" : "") << "; windows of " << s.window
            << " tokens\n"
            << "gpt2: memory: about " << s.memory << (s.world_size > 1 ? " per process" : "") << "\n";
    if (s.world_size > 1)
      io_.err << "gpt2: data-parallel: " << s.world_size << " processes (" << s.dist
              << "); global batch = processes x --batch\n";
  }
  void message(const std::string& line) override { end_bar() << "gpt2: " << line << "\n"; }

  void step(const LossPoint& p, int64_t total) override {
    if (p.val_loss >= 0) last_val_ = p.val_loss;
    if (jsonl_) {
      nlohmann::json j = {{"step", p.step}, {"loss", p.loss}, {"lr", p.lr}, {"tokens_per_s", p.tokens_per_s},
                          {"elapsed_s", p.elapsed_s}};
      j["val_loss"] = p.val_loss >= 0 ? nlohmann::json(p.val_loss) : nlohmann::json(nullptr);
      if (p.val_loss >= 0) j["val_perplexity"] = std::exp(p.val_loss);
      io_.out << j.dump() << "\n" << std::flush;
      return;
    }
    const double spent = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const double eta = spent / static_cast<double>(p.step - start_step_) * static_cast<double>(total - p.step);
    std::string line = "step " + std::to_string(p.step) + "/" + std::to_string(total) + " loss " + strprintf("%.4f", p.loss);
    if (last_val_ >= 0) line += " val " + strprintf("%.4f", last_val_) + " (ppl " + strprintf("%.2f", std::exp(last_val_)) + ")";
    line += " lr " + strprintf("%.3f", p.lr * 1e4) + "e-4 " + strprintf("%.0f", p.tokens_per_s) + " tok/s ETA " + format_duration(eta);
    if (bar_) {
      const int width = 24;
      const int filled = static_cast<int>(width * p.step / std::max<int64_t>(1, total));
      io_.err << "\r[" << std::string(filled, '#') << std::string(width - filled, '.') << "] " << line << "\033[K"
              << std::flush;
      bar_open_ = true;
    } else {
      io_.err << "gpt2: " << line << (p.val_loss >= 0 ? " (evaluated)" : "") << "\n";
    }
  }

  void sample(int64_t step, const std::string& text) override {
    if (jsonl_) {
      io_.out << nlohmann::json{{"step", step}, {"sample", text}}.dump() << "\n" << std::flush;
      return;
    }
    end_bar();
    io_.out << "======== SAMPLE at step " << step << " ========\n" << text << "\n" << std::flush;
  }

  void saved(int64_t step, const std::filesystem::path& dir) override {
    end_bar() << "gpt2: saved step " << step << " to " << dir.string() << "\n";
  }

 private:
  std::ostream& end_bar() {
    if (bar_open_) io_.err << "\n";
    bar_open_ = false;
    return io_.err;
  }

  CliIO& io_;
  bool jsonl_, bar_, bar_open_ = false;
  int64_t start_step_ = 0;
  double last_val_ = -1;
  std::chrono::steady_clock::time_point t0_;
};

void run_finetune(const FinetuneCliOptions& c, CliIO& io) {
  const FinetuneOptions o = to_library(c);
  install_interrupt_handler();
  ConsoleObserver obs(io, c.format == "jsonl");
  const FinetuneResult r = finetune(o, obs, [] { return interrupt_requested(); });
  io.out.flush();
  if (r.interrupted)
    throw InterruptedError("interrupted at step " + std::to_string(r.step) + "; " + r.run_dir.string() +
                           " holds it (rerun the same command to continue)");
  if (r.rank != 0) return;  // data-parallel: rank 0 reports
  io.err << "gpt2: done: " << r.run_dir.string() << " at step " << r.step << ", loss " << strprintf("%.4f", r.loss);
  if (r.val_loss >= 0) io.err << ", validation loss " << strprintf("%.4f", r.val_loss);
  if (o.dist.active()) io.err << "; all-reduce " << strprintf("%.2f", r.allreduce_s) << " s in all";
  io.err << "\n";
}

}  // namespace

void register_finetune_command(CLI::App& app, CliIO& io) {
  auto o = std::make_shared<FinetuneCliOptions>();
  CLI::App* f = app.add_subcommand(
      "finetune", "Train a model on your text (resumable): writes <models-dir>/<run>/, a model directory");
  o->model.add_to(f);
  f->add_option("--data", o->lib.data, "Training text: a file (documents separated by <|endoftext|>), a .jsonl file "
                                   "({\"text\": ...} per line) or a directory of .txt files (repeatable)");
  f->add_option("--run", o->lib.run, "Name of the run directory under --models-dir (or a path with a '/')");
  f->add_flag("--overwrite", o->lib.overwrite, "Replace an existing directory that is not a run of gpt2 finetune");
  f->add_option("--steps", o->lib.steps, "Total optimizer steps of the run (rerun with more to continue)")
      ->capture_default_str();
  f->add_option("--seq", o->lib.seq, "Tokens per training window (default: min(n_ctx, 1024))");
  f->add_option("--batch", o->lib.batch, "Windows per micro-batch (per process when data-parallel)")->capture_default_str();
  f->add_option("--accumulate", o->lib.accumulate, "Micro-batches per optimizer step")->capture_default_str();
  f->add_option("--lr", o->lib.lr, "Peak learning rate (AdamW)")->capture_default_str();
  f->add_option("--warmup", o->lib.warmup, "Steps of linear learning-rate warm-up")->capture_default_str();
  f->add_option("--schedule", o->schedule, "After warm-up: constant or cosine (to 0 at --steps)")
      ->capture_default_str();
  f->add_option("--weight-decay", o->lib.weight_decay, "AdamW decoupled weight decay (matrices only)")
      ->capture_default_str();
  f->add_option("--clip", o->lib.clip, "Clip the gradient norm to this (0: off)")->capture_default_str();
  o->seed_opt = f->add_option("--seed", o->lib.seed, "Seed of the window sampler (default: random; a run keeps its own)");
  f->add_option("--val-fraction", o->lib.val_fraction,
                "Held-out validation share: whole last documents, or the stream's tail (0: none)")
      ->capture_default_str();
  f->add_option("--eval-every", o->lib.eval_every, "Validation loss every N steps (and at the end; 0: end only)")
      ->capture_default_str();
  f->add_option("--sample-every", o->lib.sample_every, "Print a sample every N steps (0: never)")->capture_default_str();
  f->add_option("--sample-length", o->lib.sample_length, "Tokens per sample")->capture_default_str();
  f->add_option("--save-every", o->lib.save_every, "Checkpoint every N steps (always at the end and on Ctrl-C; 0: only then)")
      ->capture_default_str();
  f->add_option("--max-memory", o->max_memory_gib, "Refuse to start above this many GiB (default: MemAvailable)");
  f->add_option("--dist-timeout", o->lib.dist_timeout_s,
                "Data-parallel (under torchrun, Slurm or RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT): seconds "
                "before a dead or stuck rank ends the run with an error naming it")
      ->capture_default_str();
  f->add_option("--format", o->format, "Log: text (progress bar on a terminal) or jsonl records on stdout")
      ->capture_default_str();
  f->callback([o, &io] { run_finetune(*o, io); });
}

}  // namespace gpt2::cli
