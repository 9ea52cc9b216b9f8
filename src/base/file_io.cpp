#include "gpt2/base/file_io.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>

#include "gpt2/base/errors.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

namespace {
std::string errno_text(int e) { return std::strerror(e); }
}  // namespace

std::string read_stream(std::istream& in, const std::string& what) {
  std::string data;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) data.append(buf, static_cast<std::size_t>(in.gcount()));
  if (in.bad()) throw IoError("cannot read " + what);
  return data;
}

std::string read_file(const fs::path& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw NotFoundError(what + " not found: " + path.string());
  if (fs::is_directory(path, ec)) throw UsageError(what + " " + path.string() + " is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open " + what + " " + path.string());
  return read_stream(f, what + " " + path.string());
}

AtomicFile::AtomicFile(fs::path target) : target_(std::move(target)) {
  temp_ = target_;
  temp_ += ".tmp-" + std::to_string(::getpid());
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot create " + temp_.string() + ": " + errno_text(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write " + target_.string() + ": " + errno_text(errno));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw IoError("cannot write " + target_.string() + ": fsync: " + errno_text(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw IoError("cannot write " + target_.string() + ": close: " + errno_text(errno));
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    throw IoError("cannot rename " + temp_.string() + " to " + target_.string() + ": " + errno_text(errno));
  committed_ = true;
  fsync_directory(target_.has_parent_path() ? target_.parent_path() : fs::path("."));
}

void write_file_atomic(const fs::path& target, std::string_view data) {
  AtomicFile f(target);
  f.write(data);
  f.commit();
}

void fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open directory " + dir.string() + ": " + errno_text(errno));
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0 && e != EINVAL) throw IoError("cannot fsync directory " + dir.string() + ": " + errno_text(e));
}

int64_t file_mtime_ns(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

}  // namespace gpt2
