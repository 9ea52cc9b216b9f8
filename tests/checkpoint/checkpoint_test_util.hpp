// Helpers for the checkpoint tests: fixture paths and corrupt copies.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "support/test_support.hpp"

namespace gpt2::test {

inline std::filesystem::path hf_tiny_dir() { return data_dir() / "hf-tiny-gpt2"; }
inline std::filesystem::path tf_index_124m_dir() { return data_dir() / "tf-index" / "124M"; }
inline std::filesystem::path tf_small_dir(const std::string& name) { return data_dir() / "tf-small" / name; }

// Copies the regular files of `from` named in `files` (all if empty) into `to`.
inline void copy_files(const std::filesystem::path& from, const std::filesystem::path& to,
                       const std::vector<std::string>& files = {}) {
  namespace fs = std::filesystem;
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(from)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    bool wanted = files.empty();
    for (const auto& f : files) wanted |= f == name;
    if (wanted) {
      fs::copy_file(e.path(), to / name, fs::copy_options::overwrite_existing);
      fs::permissions(to / name, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
    }
  }
}

// A TF-only copy of tiny-ref (hparams.json + bundle).
inline void copy_tiny_tf(const std::filesystem::path& to) {
  copy_files(tiny_ref_dir(), to, {"hparams.json", "checkpoint", "model.ckpt.index", "model.ckpt.data-00000-of-00001"});
}
// A safetensors-only copy of tiny-ref.
inline void copy_tiny_st(const std::filesystem::path& to) {
  copy_files(tiny_ref_dir(), to, {"hparams.json", "model.safetensors"});
}

inline void flip_byte(const std::filesystem::path& file, size_t offset, uint8_t mask = 0x01) {
  std::string d = read_file(file);
  d.at(offset) = static_cast<char>(static_cast<uint8_t>(d.at(offset)) ^ mask);
  write_file(file, d);
}

inline void truncate_file(const std::filesystem::path& file, size_t size) {
  std::string d = read_file(file);
  d.resize(size);
  write_file(file, d);
}

inline float load_f32(const std::string& bytes, size_t offset) {
  float f;
  std::memcpy(&f, bytes.data() + offset, 4);
  return f;
}

// Any substring test for messages.
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace gpt2::test

#include <nlohmann/json.hpp>

namespace gpt2::test {

// A safetensors file split into its JSON header and data section.
struct SafetensorsParts {
  nlohmann::json header;
  std::string data;
};

inline SafetensorsParts read_safetensors(const std::filesystem::path& file) {
  const std::string src = read_file(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(src.at(static_cast<size_t>(i)));
  return {nlohmann::json::parse(src.substr(8, n)), src.substr(8 + n)};
}

inline void write_safetensors(const std::filesystem::path& file, const SafetensorsParts& parts) {
  const std::string h = parts.header.dump();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  write_file(file, out + h + parts.data);
}

// Appends a tensor with the given dtype/shape and raw bytes.
inline void add_tensor(SafetensorsParts& p, const std::string& name, const std::string& dtype,
                       const std::vector<int64_t>& shape, const std::string& bytes) {
  const uint64_t begin = p.data.size();
  p.data += bytes;
  p.header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, p.data.size()}}};
}

}  // namespace gpt2::test
