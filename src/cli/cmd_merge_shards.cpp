// `gpt2 merge-shards OUT FILES...`: the shard files of a dataset run, merged
// into one file sorted by id, checking every id from 0 to N-1 is there once.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "gpt2/dataset/dataset_output.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2::cli {

namespace {

struct MergeCliOptions {
  std::string out;
  std::vector<std::string> inputs;
  int64_t count = -1;  // -1: from the shards' sidecars, else the largest id + 1
};

void run_merge(const MergeCliOptions& o, CliIO& io) {
  std::vector<std::filesystem::path> inputs(o.inputs.begin(), o.inputs.end());
  for (const auto& p : inputs) {
    std::error_code ec;  // an output that does not exist yet is no input
    if (std::filesystem::equivalent(p, o.out, ec)) throw UsageError("merge-shards: the output " + o.out + " is also an input");
  }
  std::optional<int64_t> expected;
  if (o.count >= 0) expected = o.count;
  const MergeReport r = merge_shards(o.out, inputs, expected);
  io.err << "gpt2: merged " << r.records << " records (ids 0.." << r.records - 1 << ", each exactly once) from "
         << r.files << " file(s) into " << o.out << "\n";
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
  sub->callback([opt, &io] { run_merge(*opt, io); });
}

}  // namespace gpt2::cli
