// A whole file memory-mapped read-only. Shared ownership: tensors that point into
// the mapping hold a shared_ptr to it, so it lives as long as any of them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace gpt2 {

class MappedFile {
 public:
  // Maps `file` (PROT_READ, MAP_PRIVATE). Throws NotFoundError if it does not
  // exist, IoError if it cannot be opened or mapped. An empty file maps to
  // data() == nullptr, size() == 0.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& file);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  bool contains(const void* p) const {
    auto* b = static_cast<const uint8_t*>(p);
    return data_ != nullptr && b >= data_ && b < data_ + size_;
  }

  // Hints that [offset, offset+len) will be read once, front to back (verification).
  void advise_sequential(size_t offset, size_t len) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::filesystem::path path_;
};

}  // namespace gpt2
