// The steps `gpt2 generate` and `gpt2 sample-unconditional` share (sample_options.hpp).
#include <random>

#include "cli/sample_options.hpp"
#include "gpt2/base/format.hpp"
#include "gpt2/generate/context.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler.hpp"
#include "gpt2/generate/sampler_table.hpp"

namespace gpt2::cli {

LoadedModel load(const SampleOptions& o, std::ostream& err) {
  ModelSpec spec = o.model.spec();
  spec.on_progress = [&err](const std::string& line) { err << "gpt2: " << line << std::endl; };
  LoadedModel l = load_model(spec);
  if (o.verbose) err << "gpt2: " << l.describe() << "\n";
  return l;
}

Format validate(const SampleOptions& o) {
  if (o.format != "text" && o.format != "jsonl" && o.format != "dataset")
    throw UsageError("--format must be text, jsonl or dataset, got '" + o.format + "'");
  if (o.raw && o.format != "text") throw UsageError("--raw goes with the text format only");
  if ((o.mode == Mode::kConditional || o.dataset_run()) && o.nsamples < 1)
    throw UsageError("--nsamples must be at least 1" +
                     std::string(o.dataset_run() && o.mode == Mode::kUnconditional
                                     ? " with --format dataset, --shard or --output (0, until Ctrl-C, is for plain runs)"
                                     : "") +
                     ", got " + std::to_string(o.nsamples));
  if (o.nsamples < 0)
    throw UsageError("--nsamples must be >= 0 (0 = until interrupted), got " + std::to_string(o.nsamples));
  if (o.batch_size < 1) throw UsageError("--batch-size must be at least 1, got " + std::to_string(o.batch_size));
  if (!o.dataset_run() && o.nsamples > 0 && o.nsamples % o.batch_size != 0)
    throw UsageError("--batch-size " + std::to_string(o.batch_size) + " must divide --nsamples " +
                     std::to_string(o.nsamples));
  if (o.length_opt->count() > 0 && o.length < 1)
    throw UsageError("--length must be at least 1, got " + std::to_string(o.length));
  for (const auto& s : o.stop)
    if (s.empty()) throw UsageError("--stop must not be empty");
  if (!o.output.empty() && o.format == "text")
    throw UsageError("--output writes --format dataset or jsonl records (one per line, resumable), not text");
  validate_sampling(sampling_options(o));
  o.model.spec();  // --dtype, --threads
  if (o.format == "jsonl" || o.format == "dataset") return Format::kJsonl;
  return o.raw ? Format::kRaw : Format::kReleased;
}

SamplingOptions sampling_options(const SampleOptions& o) { return o.sampling.resolve(); }

GenerateOptions generate_options(const SampleOptions& o, int64_t length, uint64_t seed) {
  GenerateOptions g;
  g.length = length;
  g.sampling = sampling_options(o);
  g.seed = seed;
  g.ignore_eot = o.ignore_eot;
  g.stop = o.stop;
  g.context_shift = o.context_shift;
  return g;
}

int64_t resolve_length(const SampleOptions& o, const HParams& hp) {
  const int64_t length = o.length_opt->count() > 0 ? o.length
                         : o.mode == Mode::kConditional ? hp.n_ctx / 2 : hp.n_ctx;
  if (!o.context_shift) check_context(1, length, hp.n_ctx, false, true);
  return length;
}

std::vector<TokenId> fit_prompt(std::vector<TokenId> ids, int64_t length, const SampleOptions& o, const HParams& hp,
                                std::ostream& err) {
  if (ids.empty()) throw UsageError("the prompt is empty (use `gpt2 sample-unconditional` for no prompt)");
  const int64_t n = static_cast<int64_t>(ids.size());
  // With --context-shift only the prompt itself must fit; the rest shifts.
  const int64_t room = o.context_shift ? hp.n_ctx : max_prompt_for(length, hp.n_ctx);
  if (n <= room) return ids;
  if (!o.truncate_prompt || room < 1) {
    if (o.context_shift)
      throw UsageError("the prompt is " + std::to_string(n) + " tokens, more than the model's context of " +
                       std::to_string(hp.n_ctx) + " tokens; use --truncate-prompt to keep its last " +
                       std::to_string(hp.n_ctx));
    check_context(n, length, hp.n_ctx, /*can_truncate=*/true, /*can_shift=*/true);  // throws
  }
  err << "gpt2: prompt truncated from " << n << " to its last " << room << " tokens\n";
  return std::vector<TokenId>(ids.end() - room, ids.end());
}

nlohmann::json settings_json(const SampleOptions& o, int64_t length, const LoadedModel& l) {
  nlohmann::json s = sampling_json(sampling_options(o));  // one key per sampler
  s.update(nlohmann::json{{"model", o.model.model},
          {"model_dir", l.dir.string()},
          {"length", length},
          {"batch_size", o.batch_size},
          {"ignore_eot", o.ignore_eot},
          {"context_shift", o.context_shift},
          {"stop", o.stop},
          {"dtype", o.model.dtype},
          {"device", l.model->device().str()}});
  return s;
}

uint64_t choose_seed(const SampleOptions& o, std::ostream& err) {
  if (o.seed_opt->count() > 0) return o.seed;
  const uint64_t seed = random_seed53();
  err << "gpt2: seed " << seed << " (pass --seed " << seed << " to reproduce)\n";
  return seed;
}

std::string strip_one_newline(std::string s) {
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (!s.empty() && s.back() == '\r') s.pop_back();
  return s;
}

void finish_interrupted(const SampleOptions& o, CliIO& io) {
  io.out.flush();
  if (o.mode == Mode::kUnconditional && o.nsamples == 0) {
    io.err << "gpt2: interrupted\n";
    return;  // the normal way to end an endless run
  }
  throw InterruptedError("interrupted");
}

}  // namespace gpt2::cli
