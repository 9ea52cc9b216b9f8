// Summary of a model directory for `gpt2 info` (reads headers only).
#include <set>

#include "checkpoint/checkpoint_files.hpp"
#include "checkpoint/weight_names.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/inspect.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace fs = std::filesystem;

ModelInfo inspect_model_dir(const fs::path& model_dir, std::optional<CheckpointFormat> format) {
  if (!fs::is_directory(model_dir)) throw NotFoundError(model_dir.string() + ": no such model directory");
  ModelInfo info;
  info.hp = HParams::load_dir(model_dir);
  info.format = format ? *format : detect_checkpoint_format(model_dir);
  std::vector<VerifyProblem> ignored;  // size problems are verify's business
  const detail::CheckpointFiles ck = detail::open_checkpoint(model_dir, info.format, /*strict=*/false, &ignored);
  info.checkpoint_file = ck.index_file;
  info.tensor_count = static_cast<int64_t>(ck.tensors.size());
  std::set<std::string> dtypes;
  for (const auto& t : ck.tensors) {
    if (detail::match_name(t.name, info.format).kind != detail::NameKind::kWeight) continue;
    info.parameter_count += t.num_elements();
    dtypes.insert(t.dtype);
  }
  info.dtype = dtypes.size() == 1 ? *dtypes.begin() : dtypes.empty() ? "none" : "mixed";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(model_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::error_code ec2;
    if (it->is_regular_file(ec2)) info.bytes_on_disk += static_cast<int64_t>(it->file_size(ec2));
  }
  return info;
}

}  // namespace gpt2
