// Writing safetensors files (the reader is safetensors.cpp). Torch-free.
#include <nlohmann/json.hpp>
#include <set>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"

namespace gpt2::st {

std::string make_header(const std::vector<TensorData>& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const TensorData& t : tensors) {
    if (!names.insert(t.name).second) throw UsageError("safetensors: duplicate tensor name '" + t.name + "'");
    const int64_t elem = dtype_size(t.dtype);
    if (elem == 0) throw UsageError("safetensors: tensor '" + t.name + "': unknown dtype " + t.dtype);
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    if (static_cast<uint64_t>(n * elem) != t.nbytes)
      throw UsageError("safetensors: tensor '" + t.name + "': " + std::to_string(t.nbytes) + " bytes for " +
                       std::to_string(n) + " elements of " + t.dtype);
    j[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }
  std::string json = j.dump();
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xFF);  // little-endian
  return out + json;
}

void write_file(const std::filesystem::path& file, const std::vector<TensorData>& tensors,
                const std::map<std::string, std::string>& metadata) {
  const std::string header = make_header(tensors, metadata);
  AtomicFile out(file);
  out.write(header);
  for (const TensorData& t : tensors) out.write(t.data, t.nbytes);
  out.commit();
}

}  // namespace gpt2::st
