#include "checkpoint/checkpoint_files.hpp"

#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"
#include "gpt2/checkpoint/verify.hpp"

namespace gpt2::detail {

namespace fs = std::filesystem;

int64_t TensorRef::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

fs::path tf_prefix(const fs::path& dir) { return dir / "model.ckpt"; }
fs::path tf_index_path(const fs::path& dir) { return dir / "model.ckpt.index"; }
fs::path safetensors_path(const fs::path& dir) { return dir / "model.safetensors"; }

namespace {

void report(bool strict, std::vector<VerifyProblem>* problems, const fs::path& file, const std::string& tensor,
            const std::string& message, bool not_found = false) {
  if (strict || problems == nullptr) {
    const std::string line = file.string() + ": " + (tensor.empty() ? "" : "tensor '" + tensor + "': ") + message;
    if (not_found) throw NotFoundError(line);
    throw FormatError(line);
  }
  problems->push_back({file, tensor, message});
}

ElemType tf_elem_type(int dtype) {
  switch (dtype) {
    case tf::DT_FLOAT: return ElemType::kF32;
    case tf::DT_HALF: return ElemType::kF16;
    case tf::DT_BFLOAT16: return ElemType::kBF16;
    default: return ElemType::kOther;
  }
}

ElemType st_elem_type(const std::string& dtype) {
  if (dtype == "F32") return ElemType::kF32;
  if (dtype == "F16") return ElemType::kF16;
  if (dtype == "BF16") return ElemType::kBF16;
  return ElemType::kOther;
}

std::string st_dtype_name(const std::string& dtype) {
  if (dtype == "F32") return "float32";
  if (dtype == "F16") return "float16";
  if (dtype == "BF16") return "bfloat16";
  return dtype;
}

CheckpointFiles open_tf(const fs::path& dir, bool strict, std::vector<VerifyProblem>* problems) {
  CheckpointFiles ck;
  ck.format = CheckpointFormat::kTFBundle;
  ck.index_file = tf_index_path(dir);
  const tf::BundleIndex idx = tf::read_bundle_index(ck.index_file);
  if (idx.header.endianness != tf::Endianness::kLittle)
    throw FormatError(ck.index_file.string() + ": big-endian bundles are not supported");
  std::vector<std::shared_ptr<const MappedFile>> shards(static_cast<size_t>(idx.header.num_shards));
  for (int32_t s = 0; s < idx.header.num_shards; ++s) {
    const fs::path p = tf::data_file_path(tf_prefix(dir), s, idx.header.num_shards);
    ck.data_files.push_back(p);
    const int64_t want = idx.shard_bytes(s);
    if (!fs::exists(p)) {
      report(strict, problems, p, "", "data file is missing (expected " + std::to_string(want) + " bytes)", true);
      continue;
    }
    shards[static_cast<size_t>(s)] = MappedFile::open(p);
    const auto have = static_cast<int64_t>(shards[static_cast<size_t>(s)]->size());
    if (have < want)
      report(strict, problems, p, "", "truncated: " + std::to_string(have) + " bytes, the index needs " +
                                          std::to_string(want));
    else if (have > want && !strict)
      report(strict, problems, p, "", "has " + std::to_string(have - want) + " bytes beyond the last tensor (" +
                                          std::to_string(have) + " bytes, the index needs " + std::to_string(want) + ")");
  }
  for (const auto& e : idx.entries) {
    TensorRef t;
    t.name = e.name;
    t.dtype = tf::dtype_name(e.dtype);
    t.type = tf_elem_type(e.dtype);
    t.shape = e.shape;
    t.file = shards[static_cast<size_t>(e.shard_id)];
    t.file_path = ck.data_files[static_cast<size_t>(e.shard_id)];
    t.offset = static_cast<uint64_t>(e.offset);
    t.nbytes = static_cast<uint64_t>(e.size);
    t.in_bounds = t.file != nullptr && !e.sliced && t.offset <= t.file->size() && t.nbytes <= t.file->size() - t.offset;
    // String tensors store a crc over lengths and bytes; only fixed-size data is checked.
    t.has_crc = e.has_crc && tf::dtype_size(e.dtype) > 0;
    t.crc = e.crc32c;
    if (e.sliced) report(strict, problems, ck.index_file, e.name, "partitioned (sliced) variables are not supported");
    ck.tensors.push_back(std::move(t));
  }
  return ck;
}

CheckpointFiles open_st(const fs::path& dir) {
  CheckpointFiles ck;
  ck.format = CheckpointFormat::kSafetensors;
  ck.index_file = safetensors_path(dir);
  ck.data_files.push_back(ck.index_file);
  auto file = MappedFile::open(ck.index_file);
  const st::Header h = st::parse_header(file->data(), file->size(), ck.index_file.string());
  for (const auto& ti : h.tensors) {
    TensorRef t;
    t.name = ti.name;
    t.dtype = st_dtype_name(ti.dtype);
    t.type = st_elem_type(ti.dtype);
    t.shape = ti.shape;
    t.file = file;
    t.file_path = ck.index_file;
    t.offset = ti.begin;
    t.nbytes = ti.nbytes();
    t.in_bounds = true;  // parse_header checked every range against the file size
    ck.tensors.push_back(std::move(t));
  }
  return ck;
}

}  // namespace

CheckpointFiles open_checkpoint(const fs::path& dir, CheckpointFormat format, bool strict,
                                std::vector<VerifyProblem>* problems) {
  return format == CheckpointFormat::kTFBundle ? open_tf(dir, strict, problems) : open_st(dir);
}

}  // namespace gpt2::detail
