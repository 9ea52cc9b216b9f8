// `gpt2 verify MODEL` and `gpt2 info MODEL`: integrity check and summary of a
// model directory. The work is in gpt2/checkpoint.hpp; this file maps flags and
// prints.
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "cli/commands.hpp"
#include "gpt2/base/format.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/inspect.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/base/model_names.hpp"

namespace gpt2::cli {

namespace {

struct ModelArg {
  std::string model;
  std::string models_dir;  // empty: gpt2::default_models_dir()
  std::string format;      // empty: auto-detect

  std::filesystem::path dir() const {
    ModelSpec spec;
    spec.model = model;
    spec.models_dir = models_dir;
    return resolve_model_spec_dir(spec);
  }
  std::optional<CheckpointFormat> checkpoint_format() const {
    if (format.empty()) return std::nullopt;
    return parse_checkpoint_format(format);
  }
};

struct VerifyCliOptions {
  ModelArg arg;
};

struct InfoCliOptions {
  ModelArg arg;
  bool json = false;
};

void add_model_arg(CLI::App* sub, ModelArg& a) {
  sub->add_option("model", a.model, "Model name (124M, 355M, 774M, 1558M) or path to a model directory")->required();
  sub->add_option("--models-dir", a.models_dir, "Directory holding the models (default: $GPT2_MODELS_DIR or ./models)");
  sub->add_option("--format", a.format,
                  "Checkpoint to use when a directory holds both: tf-bundle or safetensors (default: auto)");
}

void run_verify(const VerifyCliOptions& o, CliIO& io) {
  const auto dir = o.arg.dir();
  const auto t0 = std::chrono::steady_clock::now();
  const VerifyReport r = verify_model_dir(dir, o.arg.checkpoint_format());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& p : r.problems)
    io.err << to_string(p) << "\n";
  if (!r.ok())
    throw FormatError(dir.string() + ": " + std::to_string(r.problems.size()) + " problem" +
                      (r.problems.size() == 1 ? "" : "s") + " found");
  char timing[32];
  std::snprintf(timing, sizeof timing, "%.2f s", secs);
  io.out << "OK " << dir.string() << ": " << to_string(r.format) << ", " << r.tensors_checked << " tensors";
  if (r.format == CheckpointFormat::kTFBundle)
    io.out << ", " << format_grouped(r.bytes_checked) << " bytes crc32c-verified";
  else
    io.out << " within bounds (safetensors files carry no checksums)";
  io.out << " (" << timing << ")\n";
}

void run_info(const InfoCliOptions& o, CliIO& io) {
  const auto dir = o.arg.dir();
  const ModelInfo m = inspect_model_dir(dir, o.arg.checkpoint_format());
  if (o.json) {
    nlohmann::json j = {
        {"model_dir", dir.string()},
        {"format", to_string(m.format)},
        {"checkpoint_file", m.checkpoint_file.string()},
        {"hparams", nlohmann::json::parse(m.hp.to_json())},
        {"dtype", m.dtype},
        {"tensor_count", m.tensor_count},
        {"parameter_count", m.parameter_count},
        {"bytes_on_disk", m.bytes_on_disk},
        {"vocabulary", has_own_vocabulary(dir) ? "directory" : "built-in"},
    };
    io.out << j.dump(2) << "\n";
    return;
  }
  io.out << "model:       " << dir.string() << "\n"
         << "format:      " << to_string(m.format) << " (" << m.checkpoint_file.filename().string() << ")\n"
         << "hparams:     n_vocab " << m.hp.n_vocab << ", n_ctx " << m.hp.n_ctx << ", n_embd " << m.hp.n_embd
         << ", n_head " << m.hp.n_head << ", n_layer " << m.hp.n_layer << "\n"
         << "tensors:     " << m.tensor_count << " (" << m.dtype << ")\n"
         << "parameters:  " << format_grouped(m.parameter_count) << "\n"
         << "on disk:     " << format_bytes(m.bytes_on_disk) << " (" << format_grouped(m.bytes_on_disk) << " bytes)\n"
         << "vocabulary:  " << (has_own_vocabulary(dir) ? "the directory's own files" : "built-in (the released GPT-2 vocabulary)")
         << "\n";
}

}  // namespace

void register_checkpoint_commands(CLI::App& app, CliIO& io) {
  {
    auto opt = std::make_shared<VerifyCliOptions>();
    CLI::App* sub = app.add_subcommand(
        "verify", "Check a model directory: file sizes, every tensor's crc32c, shapes against hparams");
    add_model_arg(sub, opt->arg);
    sub->callback([opt, &io] { run_verify(*opt, io); });
  }
  {
    auto opt = std::make_shared<InfoCliOptions>();
    CLI::App* sub = app.add_subcommand(
        "info", "Show a model's hparams, checkpoint format, tensor and parameter counts and size on disk");
    add_model_arg(sub, opt->arg);
    sub->add_flag("--json", opt->json, "Print the summary as JSON");
    sub->callback([opt, &io] { run_info(*opt, io); });
  }
}

}  // namespace gpt2::cli
