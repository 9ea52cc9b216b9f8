// Format detection and zero-copy loading of a model directory into ModelWeights.
#include <cstring>
#include <set>

#include "checkpoint/checkpoint_files.hpp"
#include "checkpoint/weight_assignment.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace fs = std::filesystem;

std::string to_string(const VerifyProblem& p) {
  return p.file.string() + ": " + (p.tensor.empty() ? "" : "tensor '" + p.tensor + "': ") + p.message;
}

std::string to_string(CheckpointFormat f) {
  return f == CheckpointFormat::kTFBundle ? "tf-bundle" : "safetensors";
}

CheckpointFormat parse_checkpoint_format(const std::string& s) {
  if (s == "tf" || s == "tf-bundle" || s == "tensorflow") return CheckpointFormat::kTFBundle;
  if (s == "safetensors" || s == "st") return CheckpointFormat::kSafetensors;
  throw UsageError("unknown checkpoint format '" + s + "' (valid: tf-bundle, safetensors)");
}

CheckpointFormat detect_checkpoint_format(const fs::path& model_dir) {
  if (fs::exists(detail::tf_index_path(model_dir))) return CheckpointFormat::kTFBundle;
  if (fs::exists(detail::safetensors_path(model_dir))) return CheckpointFormat::kSafetensors;
  throw NotFoundError(model_dir.string() + ": no checkpoint (model.ckpt.index or model.safetensors)");
}

namespace {

// Wraps the tensor's bytes: float32 in place (the tensor keeps the mapping
// alive), float16/bfloat16 converted to a float32 copy.
torch::Tensor make_tensor(const detail::TensorRef& t, const std::vector<int64_t>& sizes) {
  const uint8_t* bytes = t.bytes();
  if (t.type == detail::ElemType::kF32) {
    if (reinterpret_cast<uintptr_t>(bytes) % alignof(float) == 0) {
      std::shared_ptr<const MappedFile> keep = t.file;
      // Read-only mapping: the model never writes its weights (a write would fault).
      return torch::from_blob(const_cast<uint8_t*>(bytes), sizes, [keep](void*) {},
                              torch::TensorOptions().dtype(torch::kFloat32));
    }
    // A misaligned float32 tensor (possible in a hand-made file): aligned copy.
    torch::Tensor out = torch::empty(sizes, torch::kFloat32);
    std::memcpy(out.data_ptr(), bytes, t.nbytes);
    return out;
  }
  torch::Tensor raw = torch::empty(sizes, t.type == detail::ElemType::kF16 ? torch::kHalf : torch::kBFloat16);
  std::memcpy(raw.data_ptr(), bytes, t.nbytes);
  return raw.to(torch::kFloat32);
}

}  // namespace

ModelWeights load_model_weights(const fs::path& model_dir, const LoadOptions& opt) {
  if (!fs::is_directory(model_dir)) throw NotFoundError(model_dir.string() + ": no such model directory");
  ModelWeights w;
  w.hp = HParams::load_dir(model_dir);
  w.format = opt.format ? *opt.format : detect_checkpoint_format(model_dir);
  const detail::CheckpointFiles ck = detail::open_checkpoint(model_dir, w.format, /*strict=*/true);
  const detail::Assignment a = detail::assign_tensors(ck, w.hp);
  if (!a.problems.empty()) {
    std::string msg = to_string(a.problems.front());
    if (a.problems.size() > 1)
      msg += " (and " + std::to_string(a.problems.size() - 1) + " more problems; run gpt2 verify to list them)";
    throw FormatError(msg);
  }
  w.blocks.resize(static_cast<size_t>(w.hp.n_layer));
  std::set<const MappedFile*> kept;
  for (size_t i = 0; i < a.slots.size(); ++i) {
    const detail::TensorRef& t = *a.slots[i];
    if (opt.verify_checksums && t.has_crc && crc32c::value(t.bytes(), t.nbytes) != t.crc)
      throw FormatError(t.file_path.string() + ": tensor '" + t.name + "': crc32c mismatch (corrupt data)");
    const WeightId id = weight_at(static_cast<int64_t>(i));
    // Canonical layout: TF's [1, in, out] projections drop the leading 1.
    w.at(id) = make_tensor(t, weight_shape(id, w.hp));
    if (kept.insert(t.file.get()).second) w.storage.push_back(t.file);
  }
  return w;
}

}  // namespace gpt2
