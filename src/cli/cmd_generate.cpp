// `gpt2 generate` and `gpt2 sample-unconditional`: text from a prompt and
// unconditional samples, with the released scripts' options, output format
// and sampling semantics (openai/gpt-2 src/interactive_conditional_samples.py
// and src/generate_unconditional_samples.py).
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/sample_options.hpp"
#include "gpt2/generate/context.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::cli {

namespace {

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

struct Session {
  const SampleOptions& opt;
  CliIO& io;
  Format format;
  LoadedModel& loaded;
  uint64_t seed = 0;
  int64_t length = 0;
};

// Generates `nsamples` (0: until interrupted) samples of `prompt`, numbered from 1.
// Returns false when interrupted.
bool run_samples(Session& s, const std::vector<TokenId>& prompt_ids, const std::string& prompt_text,
                 bool has_prompt) {
  const SampleOptions& o = s.opt;
  SampleWriter writer(s.io.out, s.format, o.echo && has_prompt);
  const bool stream = writer.streams(o.batch_size);
  GenerateOptions g = generate_options(o, s.length, s.seed);
  nlohmann::json base;
  if (s.format == Format::kJsonl) {
    base["prompt"] = has_prompt ? nlohmann::json(prompt_text) : nlohmann::json(nullptr);
    base["prompt_tokens"] = prompt_ids;
    base["seed"] = s.seed;
    base["settings"] = settings_json(o, s.length, s.loaded);
  }
  const std::string echo_text = has_prompt ? prompt_text : std::string();
  int64_t generated = 0;
  while (o.nsamples == 0 || generated < o.nsamples) {
    if (interrupt_requested()) return false;
    g.first_sample = static_cast<uint64_t>(generated);
    GenerateCallbacks cb;
    cb.should_stop = [] { return interrupt_requested(); };
    if (stream) {
      writer.begin(generated + 1, echo_text);
      cb.on_text = [&writer](int64_t, const std::string& t) { writer.text(t); };
    }
    GenerateResult r = generate(*s.loaded.model, s.loaded.tokenizer, prompt_ids, o.batch_size, g, cb);
    if (o.verbose) s.io.err << "gpt2: " << r.stats.describe() << "\n";
    nlohmann::json extra = base;
    if (s.format == Format::kJsonl)
      extra["timings"] = {{"load_ms", s.loaded.load_ms},
                          {"prompt_ms", r.stats.prompt_ms},
                          {"prompt_tokens_per_s", r.stats.prompt_tokens_per_s()},
                          {"generate_ms", r.stats.generate_ms},
                          {"generated_tokens_per_s", r.stats.generated_tokens_per_s()}};
    bool interrupted = false;
    for (const GeneratedRow& row : r.rows) {
      if (row.finish == FinishReason::kInterrupted) {
        interrupted = true;
        if (s.format == Format::kJsonl) continue;  // no partial objects
      }
      ++generated;
      if (stream) writer.end();
      else writer.whole(generated, echo_text, row, extra);
    }
    if (interrupted) return false;
  }
  return true;
}

void run_generate(const SampleOptions& o, CliIO& io) {
  const Format format = validate(o);
  const int sources = (o.prompt_opt->count() > 0) + !o.prompt_file.empty() + !o.prompts.empty();
  if (sources > 1) throw UsageError("give the prompt with one of --prompt, --prompt-file or --prompts");
  install_interrupt_handler();

  // Where the prompt comes from (read stdin before the slow model load).
  std::string prompt;
  bool interactive = false;
  if (!o.prompts.empty()) return run_dataset(o, io, "");
  if (o.prompt_opt->count() > 0) prompt = o.prompt;
  else if (!o.prompt_file.empty()) prompt = strip_one_newline(read_file(o.prompt_file, "--prompt-file"));
  else if (io.stdin_is_tty) interactive = true;
  else prompt = strip_one_newline(read_stream(io.in, "the prompt from stdin"));
  if (!interactive && prompt.empty())
    throw UsageError("the prompt is empty (use `gpt2 sample-unconditional` for no prompt)");
  if (o.dataset_run()) {
    if (interactive) throw UsageError("--format dataset, --shard and --output need a prompt (--prompt, --prompt-file, "
                                      "--prompts or stdin), not a terminal");
    return run_dataset(o, io, prompt);
  }

  LoadedModel loaded = load(o, io.err);
  const HParams& hp = loaded.hp;
  Session s{o, io, format, loaded, 0, resolve_length(o, hp)};
  std::vector<TokenId> ids;
  if (!interactive) ids = fit_prompt(loaded.tokenizer->encode_ordinary(prompt), s.length, o, hp, io.err);
  s.seed = choose_seed(o, io.err);

  if (!interactive) {
    if (!run_samples(s, ids, prompt, true)) finish_interrupted(o, io);
    s.io.out.flush();
    if (format == Format::kReleased) SampleWriter(io.out, format, false).end_of_prompt();
    return;
  }
  // Interactive loop, as the released interactive_conditional_samples.py.
  for (;;) {
    io.err << "Model prompt >>> " << std::flush;
    std::string line;
    if (!std::getline(io.in, line)) {  // EOF, Ctrl-D (or Ctrl-C while waiting)
      io.err << '\n';
      return;
    }
    line = strip_one_newline(line);
    if (line.empty()) {
      io.err << "Prompt should not be empty!\n";
      continue;
    }
    try {
      auto ids = fit_prompt(loaded.tokenizer->encode_ordinary(line), s.length, o, hp, io.err);
      const bool complete = run_samples(s, ids, line, true);
      if (format == Format::kReleased) SampleWriter(io.out, format, false).end_of_prompt();
      if (!complete) io.err << "gpt2: interrupted\n";
    } catch (const UsageError& e) {
      io.err << "gpt2: error: " << e.what() << '\n';  // ask again
    }
    clear_interrupt();
    install_interrupt_handler();  // the first Ctrl-C restored the default action
  }
}

void run_unconditional(const SampleOptions& o, CliIO& io) {
  const Format format = validate(o);
  install_interrupt_handler();
  if (o.dataset_run()) return run_dataset(o, io, "");
  LoadedModel loaded = load(o, io.err);
  Session s{o, io, format, loaded, choose_seed(o, io.err), resolve_length(o, loaded.hp)};
  const std::vector<TokenId> start = {loaded.tokenizer->eot_id()};  // as released: <|endoftext|>
  if (!run_samples(s, start, std::string(), false)) finish_interrupted(o, io);
}

// ---------------------------------------------------------------------------
// Registration
// ---------------------------------------------------------------------------

void add_common_options(CLI::App* sub, SampleOptions& o) {
  o.model.add_to(sub);
  o.model.add_kv_cache_to(sub);
  o.length_opt = sub->add_option(
      "--length", o.length,
      o.mode == Mode::kConditional ? "Tokens to generate per sample (default: n_ctx/2, as released)"
                                   : "Tokens to generate per sample (default: n_ctx, as released)");
  sub->add_option("--nsamples", o.nsamples,
                  o.mode == Mode::kConditional ? "Samples per prompt" : "Samples to draw (0: until Ctrl-C)")
      ->capture_default_str();
  sub->add_option("--batch-size", o.batch_size,
                  "Samples computed together (must divide --nsamples, except in dataset runs)")
      ->capture_default_str();
  o.sampling.add_to(sub);
  sub->add_flag("--context-shift", o.context_shift,
                "Generate past n_ctx: when the context is full, keep its last n_ctx/2 tokens and go on");
  sub->add_option("--shard", o.shard,
                  "i/n: only the samples (prompts, with --prompts) whose index is i mod n; auto: from Slurm "
                  "(SLURM_ARRAY_TASK_ID/_MIN/_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, GPT2_SHARD_COUNT)");
  sub->add_option("--output", o.output,
                  "Append records to this file (fsync per batch); a rerun resumes, skipping the ids it holds");
  o.seed_opt = sub->add_option("--seed", o.seed, "Random seed (default: random, printed to stderr)");
  sub->add_option("--stop", o.stop, "End a sample before this string (repeatable)");
  sub->add_flag("--ignore-eot", o.ignore_eot, "Keep going past <|endoftext|> (the released scripts did)");
  sub->add_option("--format", o.format,
                  "Output format: text (the released one), jsonl, or dataset (gpt-2-output-dataset records "
                  "{id, ended, length, text})")
      ->capture_default_str();
  sub->add_flag("--raw", o.raw, "Print only the text of each sample, no SAMPLE headers");
  sub->add_flag("-v,--verbose", o.verbose, "Print load time and prompt/generation speed to stderr");
}

}  // namespace

void register_generate_commands(CLI::App& app, CliIO& io) {
  auto gen = std::make_shared<SampleOptions>();
  gen->mode = Mode::kConditional;
  CLI::App* g = app.add_subcommand(
      "generate", "Continue a prompt (--prompt, --prompt-file, stdin, or an interactive loop on a terminal)");
  gen->prompt_opt = g->add_option("-p,--prompt", gen->prompt, "The prompt text");
  g->add_option("--prompt-file", gen->prompt_file, "Read the prompt from this file (one trailing newline dropped)");
  g->add_option("--prompts", gen->prompts,
                "Many prompts: a text file (one per line) or JSONL ({\"id\": ..., \"prompt\": ...} per line); "
                "--nsamples per prompt, batched across prompts");
  add_common_options(g, *gen);
  g->add_flag("--echo", gen->echo, "Print the prompt before each sample's text");
  g->add_flag("--truncate-prompt", gen->truncate_prompt,
              "If prompt + --length exceed the context, keep only the prompt's last tokens");
  g->callback([gen, &io] { run_generate(*gen, io); });

  auto unc = std::make_shared<SampleOptions>();
  unc->mode = Mode::kUnconditional;
  unc->nsamples = 0;
  CLI::App* u = app.add_subcommand("sample-unconditional",
                                   "Samples starting from <|endoftext|> (until Ctrl-C unless --nsamples is given)");
  add_common_options(u, *unc);
  u->callback([unc, &io] { run_unconditional(*unc, io); });
}

}  // namespace gpt2::cli
