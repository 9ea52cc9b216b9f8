#include "gpt2/checkpoint/safetensors.hpp"

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>

#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"

namespace gpt2::st {
namespace {

constexpr int64_t kMaxElements = int64_t{1} << 40;
constexpr size_t kMaxRank = 32;

uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

TensorInfo parse_tensor(const std::string& name, const nlohmann::json& j, uint64_t data_start,
                        uint64_t data_bytes, const std::string& source) {
  const std::string what = source + ": tensor '" + name + "'";
  if (!j.is_object()) throw FormatError(what + ": entry is not a JSON object");
  TensorInfo t;
  t.name = name;
  auto dt = j.find("dtype");
  if (dt == j.end() || !dt->is_string()) throw FormatError(what + ": missing or non-string 'dtype'");
  t.dtype = dt->get<std::string>();
  const int64_t elt = dtype_size(t.dtype);
  if (elt == 0) throw FormatError(what + ": unknown dtype '" + t.dtype + "'");
  auto sh = j.find("shape");
  if (sh == j.end() || !sh->is_array()) throw FormatError(what + ": missing or non-array 'shape'");
  if (sh->size() > kMaxRank) throw FormatError(what + ": rank above " + std::to_string(kMaxRank));
  int64_t n = 1;
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
      throw FormatError(what + ": shape has a non-integer or negative dimension");
    const uint64_t u = d.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxElements) || (u != 0 && n > kMaxElements / static_cast<int64_t>(u)))
      throw FormatError(what + ": shape has too many elements");
    n *= static_cast<int64_t>(u);
    t.shape.push_back(static_cast<int64_t>(u));
  }
  auto off = j.find("data_offsets");
  if (off == j.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    throw FormatError(what + ": 'data_offsets' must be two non-negative integers");
  const uint64_t b = (*off)[0].get<uint64_t>(), e = (*off)[1].get<uint64_t>();
  if (b > e) throw FormatError(what + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] are reversed");
  if (e > data_bytes)
    throw FormatError(what + ": data_offsets end " + std::to_string(e) + " beyond the " +
                      std::to_string(data_bytes) + " data bytes in the file (truncated?)");
  if (e - b != static_cast<uint64_t>(n * elt))
    throw FormatError(what + ": " + std::to_string(e - b) + " bytes for " + std::to_string(n) + " " + t.dtype +
                      " elements (expected " + std::to_string(n * elt) + ")");
  t.begin = data_start + b;
  t.end = data_start + e;
  return t;
}

// Bounds the memory a hostile header can make the JSON parser use (a 100 MB
// header of tiny values would otherwise become gigabytes of json nodes). A real
// header is {name: {dtype, shape: [dims], data_offsets: [b, e]}, __metadata__: {k: v}}:
// nothing nests deeper than 3, every top-level entry is an object, and nothing
// below the top level has many items. Called by nlohmann's parser for each event;
// throws FormatError to abort.
class HeaderShapeLimits {
 public:
  explicit HeaderShapeLimits(const std::string& source) : source_(&source) {}
  bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::key && depth == 1 && parsed.is_string()) key_ = parsed.get<std::string>();
    const bool starts = event == E::object_start || event == E::array_start;
    if (!starts && event != E::value) return true;
    if (depth > kMaxDepth) fail("nests deeper than a safetensors header can");
    if (depth == 1 && event != E::object_start)
      throw FormatError(*source_ + ": tensor '" + key_ + "': entry is not a JSON object");
    if (++values_ > kMaxValues) fail("has more than " + std::to_string(kMaxValues) + " JSON values");
    const auto d = static_cast<size_t>(depth);
    if (depth >= 1) {
      const size_t limit = depth == 1 ? kMaxTensors : kMaxItems;
      if (++counts_[d] > limit)
        fail("has an object or array with more than " + std::to_string(limit) + " items");
    }
    if (starts && d + 1 < counts_.size()) counts_[d + 1] = 0;
    return true;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw FormatError(*source_ + ": header " + why); }
  static constexpr int kMaxDepth = 4;
  static constexpr size_t kMaxTensors = 200000;
  static constexpr size_t kMaxItems = 4096;  // __metadata__ entries; shapes are far smaller
  static constexpr size_t kMaxValues = 2000000;
  const std::string* source_;
  size_t values_ = 0;
  std::string key_;  // the top-level key being parsed
  std::array<size_t, kMaxDepth + 2> counts_{};
};

}  // namespace

int64_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorInfo* Header::find(const std::string& name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo& t, const std::string& n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

Header parse_header(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 8) throw FormatError(source + ": file is " + std::to_string(size) + " bytes, too short for a safetensors header");
  Header h;
  h.header_bytes = load_le64(data);
  if (h.header_bytes > kMaxHeaderBytes)
    throw FormatError(source + ": header length " + std::to_string(h.header_bytes) + " exceeds the " +
                      std::to_string(kMaxHeaderBytes) + "-byte limit (not a safetensors file?)");
  if (h.header_bytes > size - 8)
    throw FormatError(source + ": header length " + std::to_string(h.header_bytes) + " runs past the end of the " +
                      std::to_string(size) + "-byte file");
  h.data_start = 8 + h.header_bytes;
  const uint64_t data_bytes = size - h.data_start;
  const char* text = reinterpret_cast<const char*>(data + 8);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text, text + h.header_bytes, HeaderShapeLimits(source));
  } catch (const nlohmann::json::exception&) {
    throw FormatError(source + ": header is not valid JSON");
  }
  if (!j.is_object()) throw FormatError(source + ": header is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) throw FormatError(source + ": __metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m)
        if (m->is_string()) h.metadata[m.key()] = m->get<std::string>();
      continue;
    }
    h.tensors.push_back(parse_tensor(it.key(), *it, h.data_start, data_bytes, source));
  }
  std::sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : h.tensors) if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      throw FormatError(source + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                        "' overlap");
  return h;
}

Header read_header(const std::filesystem::path& file) {
  const auto f = MappedFile::open(file);
  return parse_header(f->data(), f->size(), file.string());
}

}  // namespace gpt2::st
