// Dataset runs of `gpt2 generate` / `gpt2 sample-unconditional`: prompt files,
// gpt-2-output-dataset records, deterministic shards and resumable output.
// The work list, batching, shards and the output file live in the library
// (gpt2/sample_jobs.hpp, shard.hpp, prompt_file.hpp, dataset_output.hpp); this
// file maps options to them and writes records.
#include <memory>

#include "cli/sample_options.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/dataset/dataset_output.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/dataset/prompt_file.hpp"
#include "gpt2/dataset/sample_jobs.hpp"
#include "gpt2/dataset/shard.hpp"

namespace gpt2::cli {

namespace {

// One gpt-2-output-dataset record, formatted as Python's json.dumps writes it:
// {"id": 0, "ended": true, "length": 12, "text": "..."} (", " and ": "
// separators, non-ASCII escaped), plus "prompt_id" for prompt files.
std::string dataset_record(uint64_t id, const GeneratedRow& row, const nlohmann::json* prompt_id) {
  auto str = [](const std::string& s) {
    return nlohmann::json(s).dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::replace);
  };
  std::string r = "{\"id\": " + std::to_string(id) + ", \"ended\": " +
                  (row.finish == FinishReason::kEndOfText ? "true" : "false") +
                  ", \"length\": " + std::to_string(row.tokens.size()) + ", \"text\": " + str(row.text);
  if (prompt_id != nullptr) r += ", \"prompt_id\": " + prompt_id->dump(-1, ' ', true);
  return r + "}";
}

// The settings that determine the records (recorded in the output's sidecar).
nlohmann::json run_settings(const SampleOptions& o, int64_t length, const LoadedModel& l, uint64_t seed,
                            const Shard& shard, int64_t total, const std::string& prompts_crc) {
  nlohmann::json s = settings_json(o, length, l);
  s.erase("batch_size");  // samples do not depend on it
  s["command"] = o.mode == Mode::kConditional ? "generate" : "sample-unconditional";
  s["seed"] = seed;
  s["nsamples"] = o.nsamples;
  s["total_samples"] = total;
  s["shard"] = shard.to_string();
  s["format"] = o.format;
  s["echo"] = o.echo;
  if (!o.prompts.empty()) s["prompts"] = {{"file", o.prompts}, {"crc32c", prompts_crc}};
  return s;
}

struct PromptSet {
  std::vector<std::vector<TokenId>> ids;  // per prompt
  std::vector<std::shared_ptr<const RowSettings>> settings;  // per prompt: its record's own settings, or nullptr
  std::vector<PromptRecord> records;      // --prompts only
  std::string crc;                        // crc32c of the --prompts file
};

// The prompts' tokens. `records` and `bytes`: the --prompts file, read before the model loaded.
PromptSet prompt_set(const SampleOptions& o, const LoadedModel& l, int64_t length, const std::string& single,
                     std::vector<PromptRecord> records, const std::string& bytes, std::ostream& err) {
  PromptSet p;
  if (o.mode == Mode::kUnconditional) {
    p.ids.push_back({l.tokenizer->eot_id()});  // as released: <|endoftext|>
    p.settings.push_back(nullptr);
    return p;
  }
  if (o.prompts.empty()) {
    p.ids.push_back(fit_prompt(l.tokenizer->encode_ordinary(single), length, o, l.hp, err));
    p.settings.push_back(nullptr);
    return p;
  }
  p.records = std::move(records);
  p.crc = std::to_string(crc32c::value(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  const SamplingOptions base = sampling_options(o);
  for (const PromptRecord& r : p.records) {
    try {
      // A record's own settings (sampler keys, "seed", "length"/"max_tokens", "stop") override the flags.
      std::shared_ptr<const RowSettings> own = row_settings_from_json(r.fields, base, l.tokenizer->vocab_size());
      const int64_t own_length = own && own->length ? *own->length : length;
      p.ids.push_back(fit_prompt(l.tokenizer->encode_ordinary(r.text), own_length, o, l.hp, err));
      p.settings.push_back(std::move(own));
    } catch (const UsageError& e) {
      throw UsageError(o.prompts + " line " + std::to_string(r.line) + ": " + e.what());
    }
  }
  return p;
}

}  // namespace

void run_dataset(const SampleOptions& o, CliIO& io, const std::string& single_prompt) {
  const Format format = validate(o);
  const Shard shard = o.shard.empty() ? Shard{} : parse_shard(o.shard);
  std::string prompt_bytes;  // read once; a bad prompt file fails before the model loads
  std::vector<PromptRecord> records = o.prompts.empty() ? std::vector<PromptRecord>{}
                                                        : read_prompt_file(o.prompts, &prompt_bytes);
  LoadedModel loaded = load(o, io.err);
  const int64_t length = resolve_length(o, loaded.hp);
  const PromptSet prompts = prompt_set(o, loaded, length, single_prompt, std::move(records), prompt_bytes, io.err);
  const bool from_file = !o.prompts.empty();
  const int64_t n_prompts = static_cast<int64_t>(prompts.ids.size());
  const int64_t total = n_prompts * o.nsamples;

  // The seed: --seed, else the one an earlier run of this --output recorded, else a new one.
  uint64_t seed = 0;
  const auto recorded = o.output.empty() ? std::nullopt : read_output_settings(o.output);
  if (o.seed_opt->count() == 0 && recorded && recorded->contains("seed")) seed = recorded->at("seed").get<uint64_t>();
  else seed = choose_seed(o, io.err);
  const nlohmann::json settings = run_settings(o, length, loaded, seed, shard, total, prompts.crc);
  std::unique_ptr<ResumableOutput> out;
  if (!o.output.empty()) {
    out = std::make_unique<ResumableOutput>(o.output, settings);
    if (out->torn_bytes() > 0)
      io.err << "gpt2: " << o.output << ": cut a torn last record (" << out->torn_bytes() << " bytes)\n";
  }

  // The work list: this shard's samples not yet in the output.
  std::vector<SampleJob> jobs;
  int64_t owned = 0;
  for (int64_t p = 0; p < n_prompts; ++p)
    for (int64_t k = 0; k < o.nsamples; ++k) {
      const uint64_t id = static_cast<uint64_t>(p * o.nsamples + k);
      if (!shard.owns(from_file ? p : static_cast<int64_t>(id))) continue;
      ++owned;
      if (out && out->has(id)) continue;
      jobs.push_back({id, p, prompts.ids[static_cast<size_t>(p)], prompts.settings[static_cast<size_t>(p)],
                      static_cast<uint64_t>(k)});
    }
  if (!o.shard.empty() || out)
    io.err << "gpt2: shard " << shard.to_string() << ": " << owned << " of " << total << " samples, "
           << (owned - static_cast<int64_t>(jobs.size())) << " already done, " << jobs.size() << " to generate\n";

  const GenerateOptions g = generate_options(o, length, seed);
  SampleWriter writer(io.out, format, o.echo && o.mode == Mode::kConditional);
  auto on_batch = [&](const std::vector<const SampleJob*>& batch, const GenerateResult& r) {
    if (o.verbose) io.err << "gpt2: " << r.stats.describe() << "\n";
    std::vector<std::pair<uint64_t, std::string>> records;
    for (size_t i = 0; i < batch.size(); ++i) {
      const GeneratedRow& row = r.rows[i];
      if (row.finish == FinishReason::kInterrupted) continue;  // never a partial record: a rerun makes it
      const SampleJob& job = *batch[i];
      const nlohmann::json* pid = from_file ? &prompts.records[static_cast<size_t>(job.prompt_index)].id : nullptr;
      const std::string prompt_text =
          o.mode == Mode::kUnconditional ? "" : from_file ? prompts.records[static_cast<size_t>(job.prompt_index)].text
                                                          : single_prompt;
      if (o.format == "dataset") {
        records.push_back({job.id, dataset_record(job.id, row, pid)});
      } else if (o.format == "jsonl") {
        nlohmann::json row_settings = settings;  // the run's, with the prompt's own on top
        if (job.settings) row_settings.update(row_settings_json(*job.settings));
        const uint64_t row_seed = job.settings && job.settings->seed ? *job.settings->seed : seed;
        nlohmann::json j = {{"id", job.id}, {"sample", job.id % static_cast<uint64_t>(o.nsamples) + 1},
                            {"prompt", o.mode == Mode::kUnconditional ? nlohmann::json(nullptr) : nlohmann::json(prompt_text)},
                            {"prompt_tokens", job.prompt}, {"seed", row_seed}, {"settings", row_settings}};
        if (pid != nullptr) j["prompt_id"] = *pid;
        j["text"] = o.echo ? prompt_text + row.text : row.text;
        j["tokens"] = row.tokens;
        j["finish_reason"] = to_string(row.finish);
        records.push_back({job.id, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
      } else {
        writer.whole(static_cast<int64_t>(job.id) + 1, prompt_text, row, {});
      }
    }
    if (out) {
      out->append(records);
    } else {
      for (const auto& rec : records) io.out << rec.second << "\n";
      io.out.flush();
    }
  };
  const bool complete =
      run_sample_jobs(*loaded.model, loaded.tokenizer, jobs, o.batch_size, g, on_batch, [] { return interrupt_requested(); });
  io.out.flush();
  if (!complete)
    throw InterruptedError(out ? "interrupted; every finished record is in " + o.output +
                                     ": run the same command again to generate the rest"
                               : std::string("interrupted"));
}

}  // namespace gpt2::cli
