#include "gpt2/checkpoint/mapped_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {
std::string errno_text() { return std::strerror(errno); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& file) {
  Fd f;
  f.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) throw NotFoundError(file.string() + ": no such file");
    throw IoError(file.string() + ": cannot open: " + errno_text());
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw IoError(file.string() + ": cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw IoError(file.string() + ": not a regular file");
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = file;
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ > 0) {
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, f.fd, 0);
    if (p == MAP_FAILED) throw IoError(file.string() + ": cannot map: " + errno_text());
    m->data_ = static_cast<const uint8_t*>(p);
  }
  return m;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void MappedFile::advise_sequential(size_t offset, size_t len) const {
  if (data_ == nullptr || offset >= size_) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t start = offset - offset % static_cast<size_t>(page);
  const size_t end = std::min(size_, offset + len);
  ::madvise(const_cast<uint8_t*>(data_) + start, end - start, MADV_SEQUENTIAL);
}

}  // namespace gpt2
