// `gpt2 merge-shards OUT FILES...`: the shard files of a dataset run or of a
// `gpt2 score --jsonl` corpus run, merged into one file sorted by index ("id",
// or "record" for score shards), checking every index from 0 to N-1 is there
// once; for score shards optionally the corpus summary (--summary).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/score_html.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/dataset/dataset_output.hpp"
#include "gpt2/score/score_summary.hpp"

namespace gpt2::cli {

namespace {

struct MergeCliOptions {
  std::string out;
  std::vector<std::string> inputs;
  int64_t count = -1;  // -1: from the shards' sidecars, else the largest id + 1
  std::string summary;  // score shards: the corpus summary
};

void run_merge(const MergeCliOptions& o, CliIO& io) {
  std::vector<std::filesystem::path> inputs(o.inputs.begin(), o.inputs.end());
  for (const auto& p : inputs) {
    std::error_code ec;  // an output that does not exist yet is no input
    if (std::filesystem::equivalent(p, o.out, ec)) throw UsageError("merge-shards: the output " + o.out + " is also an input");
  }
  if (!o.summary.empty() && read_output_key(inputs.front()) != "record")
    throw UsageError("merge-shards --summary: " + o.inputs.front() +
                     " is not a gpt2 score shard (no \"record\" key in its .meta.json)");
  std::optional<int64_t> expected;
  if (o.count >= 0) expected = o.count;
  const MergeReport r = merge_shards(o.out, inputs, expected);
  io.err << "gpt2: merged " << r.records << " records (" << r.key << " 0.." << r.expected - 1 << ", each exactly once";
  if (r.skipped > 0) io.err << "; " << r.skipped << " skipped bad line(s)";
  io.err << ") from " << r.files << " file(s) into " << o.out << "\n";
  if (!o.summary.empty()) {
    write_corpus_summary(o.summary, summarize_score_files({o.out}), std::filesystem::path(o.out).filename().string());
    io.err << "gpt2: corpus summary in " << o.summary << "\n";
  }
}

}  // namespace

void register_merge_command(CLI::App& app, CliIO& io) {
  auto opt = std::make_shared<MergeCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "merge-shards", "Merge the shard files of a dataset run into one file sorted by id; every id 0..N-1 exactly once");
  sub->add_option("out", opt->out, "The merged file (written atomically)")->required();
  sub->add_option("files", opt->inputs, "The shard files (--output of each shard)")->required();
  sub->add_option("--count", opt->count,
                  "N, the number of samples expected (default: total_samples from the shards' .meta.json, "
                  "else the largest id + 1)");
  sub->add_option("--summary", opt->summary,
                  "Score shards: also write the corpus summary (HTML page, or JSON when the name ends in .json)");
  sub->callback([opt, &io] { run_merge(*opt, io); });
}

}  // namespace gpt2::cli
