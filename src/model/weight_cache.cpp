#include "gpt2/model/weight_cache.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

namespace {

constexpr const char* kFormat = "gpt2-weight-cache/1";

std::string st_dtype(torch::ScalarType t) {
  switch (t) {
    case torch::kBFloat16: return "BF16";
    case torch::kInt8: return "I8";
    case torch::kUInt8: return "U8";
    case torch::kFloat32: return "F32";
    default: throw UsageError("weight cache: unsupported dtype " + std::string(c10::toString(t)));
  }
}

torch::ScalarType torch_dtype(const std::string& d) {
  if (d == "BF16") return torch::kBFloat16;
  if (d == "I8") return torch::kInt8;
  if (d == "U8") return torch::kUInt8;
  if (d == "F32") return torch::kFloat32;
  throw FormatError("weight cache: unexpected dtype " + d);
}

// Size and mtime (ns) of a file, as JSON; null when missing.
nlohmann::json file_stamp(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return nullptr;
  return {{"size", static_cast<int64_t>(st.st_size)},
          {"mtime_ns", static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec}};
}

uint32_t crc_of_prefix(const fs::path& p, size_t max_bytes) {
  auto m = MappedFile::open(p);
  return crc32c::value(m->data(), std::min(m->size(), max_bytes));
}

}  // namespace

fs::path weight_cache_path(const fs::path& model_dir, ops::WeightType type) {
  const std::string name = "model." + ops::to_string(type) + ".gpt2cache";
  if (::access(model_dir.c_str(), W_OK) == 0) return model_dir / name;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path base = xdg && *xdg ? fs::path(xdg) : fs::path(home && *home ? home : "/tmp") / ".cache";
  const std::string abs = fs::absolute(model_dir).lexically_normal().string();
  const uint32_t tag = crc32c::value(abs.data(), abs.size());
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", tag);
  return base / "gpt2" / (model_dir.filename().string() + "-" + hex + "." + name);
}

std::string checkpoint_identity(const fs::path& model_dir, CheckpointFormat format, ops::WeightType type) {
  nlohmann::json id = {{"format", kFormat}, {"dtype", ops::to_string(type)}, {"checkpoint", to_string(format)}};
  if (format == CheckpointFormat::kTFBundle) {
    id["index"] = file_stamp(model_dir / "model.ckpt.index");
    id["data"] = file_stamp(model_dir / "model.ckpt.data-00000-of-00001");
    id["index_crc32c"] = crc_of_prefix(model_dir / "model.ckpt.index", SIZE_MAX);
  } else {
    id["safetensors"] = file_stamp(model_dir / "model.safetensors");
    id["header_crc32c"] = crc_of_prefix(model_dir / "model.safetensors", 1 << 20);  // the header and some data
  }
  id["hparams"] = file_stamp(model_dir / "hparams.json");
  id["config"] = file_stamp(model_dir / "config.json");
  return id.dump();
}

std::optional<CachedWeights> read_weight_cache(const fs::path& file, const std::string& identity, std::string* why) {
  auto fail = [&](const std::string& reason) -> std::optional<CachedWeights> {
    if (why != nullptr) *why = reason;
    return std::nullopt;
  };
  std::error_code ec;
  if (!fs::exists(file, ec)) return fail("missing");
  try {
    const st::Header h = st::read_header(file);
    auto f = h.metadata.find("gpt2_weight_cache");
    if (f == h.metadata.end() || f->second != kFormat) return fail("corrupt: not a " + std::string(kFormat) + " file");
    auto id = h.metadata.find("identity");
    if (id == h.metadata.end() || id->second != identity) return fail("stale: the checkpoint changed");
    auto crc = h.metadata.find("data_crc32c");
    std::shared_ptr<const MappedFile> map = MappedFile::open(file);
    const uint32_t got = crc32c::value(map->data() + h.data_start, map->size() - h.data_start);
    if (crc == h.metadata.end() || crc->second != std::to_string(got)) return fail("corrupt: data crc32c mismatch");
    CachedWeights c;
    for (const st::TensorInfo& t : h.tensors) {
      const size_t dot = t.name.rfind('.');
      if (dot == std::string::npos) return fail("corrupt: unexpected tensor " + t.name);
      const std::string proj = t.name.substr(0, dot), part = t.name.substr(dot + 1);
      std::shared_ptr<const MappedFile> keep = map;
      torch::Tensor x = torch::from_blob(const_cast<uint8_t*>(map->data() + t.begin), t.shape, [keep](void*) {},
                                         torch::TensorOptions().dtype(torch_dtype(t.dtype)));
      if (part == "w") c.packed[proj].w = x;
      else if (part == "scales") c.packed[proj].scales = x;
      else return fail("corrupt: unexpected tensor " + t.name);
    }
    c.storage = map;
    return c;
  } catch (const Error& e) {
    return fail(std::string("corrupt: ") + e.what());
  }
}

void write_weight_cache(const fs::path& file, const std::string& identity, const PackedWeights& packed) {
  std::vector<torch::Tensor> keep;
  std::vector<st::TensorData> tensors;
  for (const auto& [name, p] : packed) {
    for (const auto& [part, t] : {std::pair<const char*, torch::Tensor>{"w", p.w}, {"scales", p.scales}}) {
      if (!t.defined()) continue;
      torch::Tensor c = t.contiguous().cpu();
      keep.push_back(c);
      tensors.push_back({name + "." + part, st_dtype(c.scalar_type()), c.sizes().vec(), c.data_ptr(),
                         static_cast<uint64_t>(c.nbytes())});
    }
  }
  uint32_t crc = 0;
  for (const auto& t : tensors) crc = crc32c::extend(crc, t.data, t.nbytes);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  st::write_file(file, tensors,
                 {{"gpt2_weight_cache", kFormat}, {"identity", identity}, {"data_crc32c", std::to_string(crc)}});
}

}  // namespace gpt2
