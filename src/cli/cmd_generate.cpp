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
#include "cli/model_options.hpp"
#include "cli/sample_writer.hpp"
#include "gpt2/context.hpp"
#include "gpt2/errors.hpp"
#include "gpt2/file_io.hpp"
#include "gpt2/generate.hpp"
#include "gpt2/interrupt.hpp"
#include "gpt2/model_loader.hpp"
#include "gpt2/tokenizer.hpp"

namespace gpt2::cli {

namespace {

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

enum class Mode { kConditional, kUnconditional };

struct SampleOptions {
  Mode mode = Mode::kConditional;
  ModelCliOptions model;
  int64_t length = 0;      // 0 with length_opt unset: the default (n_ctx/2 or n_ctx)
  int64_t nsamples = 1;
  int64_t batch_size = 1;
  double temperature = 1.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool ignore_eot = false;
  std::string format = "text";
  bool raw = false;
  bool verbose = false;
  // generate only
  std::string prompt;
  std::string prompt_file;
  bool echo = false;
  bool truncate_prompt = false;

  CLI::Option* length_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
  CLI::Option* prompt_opt = nullptr;
};

// Opens the model through the library's one loader.
LoadedModel load(const SampleOptions& o, std::ostream& err) {
  LoadedModel l = load_model(o.model.spec());
  if (o.verbose) err << "gpt2: " << l.describe() << "\n";
  return l;
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

Format validate(const SampleOptions& o) {
  if (o.format != "text" && o.format != "jsonl")
    throw UsageError("--format must be text or jsonl, got '" + o.format + "'");
  if (o.raw && o.format == "jsonl") throw UsageError("--raw and --format jsonl cannot be combined");
  if (o.mode == Mode::kConditional && o.nsamples < 1)
    throw UsageError("--nsamples must be at least 1, got " + std::to_string(o.nsamples));
  if (o.nsamples < 0)
    throw UsageError("--nsamples must be >= 0 (0 = until interrupted), got " + std::to_string(o.nsamples));
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1, got " + std::to_string(o.batch_size));
  if (o.nsamples > 0 && o.nsamples % o.batch_size != 0)
    throw UsageError("--batch-size " + std::to_string(o.batch_size) + " must divide --nsamples " +
                     std::to_string(o.nsamples));
  if (o.length_opt->count() > 0 && o.length < 1)
    throw UsageError("--length must be at least 1, got " + std::to_string(o.length));
  for (const auto& s : o.stop)
    if (s.empty()) throw UsageError("--stop must not be empty");
  SamplingOptions so{o.temperature, o.top_k, o.top_p};
  validate_sampling(so);
  o.model.spec();  // --dtype, --threads
  if (o.format == "jsonl") return Format::kJsonl;
  return o.raw ? Format::kRaw : Format::kReleased;
}

// --length or its default; checked against the context with a 1-token prompt
// (the prompt, once known, is checked by fit_prompt).
int64_t resolve_length(const SampleOptions& o, const HParams& hp) {
  const int64_t length = o.length_opt->count() > 0 ? o.length
                         : o.mode == Mode::kConditional ? hp.n_ctx / 2 : hp.n_ctx;
  check_context(1, length, hp.n_ctx);
  return length;
}

// The prompt tokens, made to fit the context rule (gpt2/context.hpp): with
// --truncate-prompt its last tokens are kept, else an error says what fits.
std::vector<TokenId> fit_prompt(std::vector<TokenId> ids, int64_t length, const SampleOptions& o,
                                const HParams& hp, std::ostream& err) {
  if (ids.empty()) throw UsageError("the prompt is empty (use `gpt2 sample-unconditional` for no prompt)");
  const int64_t n = static_cast<int64_t>(ids.size());
  if (fits_context(n, length, hp.n_ctx)) return ids;
  const int64_t room = max_prompt_for(length, hp.n_ctx);
  if (!o.truncate_prompt || room < 1) check_context(n, length, hp.n_ctx, /*can_truncate=*/true);  // throws
  err << "gpt2: prompt truncated from " << n << " to its last " << room << " tokens\n";
  return std::vector<TokenId>(ids.end() - room, ids.end());
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

nlohmann::json settings_json(const SampleOptions& o, int64_t length, const LoadedModel& l) {
  return {{"model", o.model.model},
          {"model_dir", l.dir.string()},
          {"length", length},
          {"batch_size", o.batch_size},
          {"temperature", o.temperature},
          {"top_k", o.top_k},
          {"top_p", o.top_p},
          {"ignore_eot", o.ignore_eot},
          {"stop", o.stop},
          {"dtype", o.model.dtype},
          {"device", l.model->device().str()}};
}

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
  GenerateOptions g;
  g.length = s.length;
  g.sampling = SamplingOptions{o.temperature, o.top_k, o.top_p};
  g.seed = s.seed;
  g.ignore_eot = o.ignore_eot;
  g.stop = o.stop;
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

std::string strip_one_newline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

uint64_t choose_seed(const SampleOptions& o, std::ostream& err) {
  if (o.seed_opt->count() > 0) return o.seed;
  std::random_device rd;
  const uint64_t seed = ((static_cast<uint64_t>(rd()) << 32) | rd()) & ((uint64_t{1} << 53) - 1);
  err << "gpt2: seed " << seed << " (pass --seed " << seed << " to reproduce)\n";
  return seed;
}

void finish_interrupted(const SampleOptions& o, CliIO& io) {
  io.out.flush();
  if (o.mode == Mode::kUnconditional && o.nsamples == 0) {
    io.err << "gpt2: interrupted\n";
    return;  // the normal way to end an endless run
  }
  throw InterruptedError("interrupted");
}

void run_generate(const SampleOptions& o, CliIO& io) {
  const Format format = validate(o);
  if (!o.prompt_file.empty() && o.prompt_opt->count() > 0)
    throw UsageError("give the prompt with --prompt or --prompt-file, not both");
  install_interrupt_handler();

  // Where the prompt comes from (read stdin before the slow model load).
  std::string prompt;
  bool interactive = false;
  if (o.prompt_opt->count() > 0) prompt = o.prompt;
  else if (!o.prompt_file.empty()) prompt = strip_one_newline(read_file(o.prompt_file, "--prompt-file"));
  else if (io.stdin_is_tty) interactive = true;
  else prompt = strip_one_newline(read_stream(io.in, "the prompt from stdin"));
  if (!interactive && prompt.empty())
    throw UsageError("the prompt is empty (use `gpt2 sample-unconditional` for no prompt)");

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
  o.length_opt = sub->add_option(
      "--length", o.length,
      o.mode == Mode::kConditional ? "Tokens to generate per sample (default: n_ctx/2, as released)"
                                   : "Tokens to generate per sample (default: n_ctx, as released)");
  sub->add_option("--nsamples", o.nsamples,
                  o.mode == Mode::kConditional ? "Samples per prompt" : "Samples to draw (0: until Ctrl-C)")
      ->capture_default_str();
  sub->add_option("--batch-size", o.batch_size, "Samples computed together (must divide --nsamples)")
      ->capture_default_str();
  sub->add_option("--temperature", o.temperature, "Softmax temperature; 0 = greedy")->capture_default_str();
  sub->add_option("--top-k", o.top_k, "Keep the k most likely tokens (ties included); 0 = off; 40 recommended")
      ->capture_default_str();
  sub->add_option("--top-p", o.top_p, "Nucleus sampling: smallest prefix of probability <= p; 1 = off")
      ->capture_default_str();
  o.seed_opt = sub->add_option("--seed", o.seed, "Random seed (default: random, printed to stderr)");
  sub->add_option("--stop", o.stop, "End a sample before this string (repeatable)");
  sub->add_flag("--ignore-eot", o.ignore_eot, "Keep going past <|endoftext|> (the released scripts did)");
  sub->add_option("--format", o.format, "Output format: text (the released one) or jsonl")->capture_default_str();
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
