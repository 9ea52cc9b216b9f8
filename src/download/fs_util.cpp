#include "download/fs_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "gpt2/base/errors.hpp"

namespace fs = std::filesystem;

namespace gpt2::download_detail {

std::string errno_text() { return std::strerror(errno); }

int64_t file_size_or_missing(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return -1;
  if (!S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

int64_t free_space_bytes(const fs::path& dir) {
  struct statvfs sv {};
  if (::statvfs(dir.c_str(), &sv) != 0) return -1;
  return static_cast<int64_t>(sv.f_bavail) * static_cast<int64_t>(sv.f_frsize);
}

void truncate_file(const fs::path& p, int64_t size) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot open " + p.string() + ": " + errno_text());
  const int rc = ::ftruncate(fd, static_cast<off_t>(size));
  const std::string err = rc != 0 ? errno_text() : std::string();
  ::close(fd);
  if (rc != 0) throw IoError("cannot truncate " + p.string() + ": " + err);
}

fs::path move_aside(const fs::path& p, const fs::path& name) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  fs::path target = name.string() + ".corrupt-" + stamp;
  for (int i = 1; file_size_or_missing(target) >= 0 || fs::exists(target); ++i)
    target = name.string() + ".corrupt-" + stamp + "-" + std::to_string(i);
  rename_file(p, target);
  return target;
}

void rename_file(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    throw IoError("cannot rename " + from.string() + " to " + to.string() + ": " + errno_text());
}

namespace {
void write_all_fd(int fd, const char* data, size_t n, const fs::path& p) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write " + p.string() + ": " + errno_text());
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}
}  // namespace

void write_file_synced(const fs::path& p, const std::string& data) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot create " + p.string() + ": " + errno_text());
  try {
    write_all_fd(fd, data.data(), data.size(), p);
  } catch (...) {
    ::close(fd);
    throw;
  }
  const bool ok = ::fsync(fd) == 0;
  const std::string err = ok ? std::string() : errno_text();
  ::close(fd);
  if (!ok) throw IoError("cannot sync " + p.string() + ": " + err);
}

void copy_file_synced(const fs::path& from, const fs::path& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) throw IoError("cannot open " + from.string() + ": " + errno_text());
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    const std::string err = errno_text();
    ::close(in);
    throw IoError("cannot create " + to.string() + ": " + err);
  }
  char buf[1 << 16];
  try {
    for (;;) {
      const ssize_t r = ::read(in, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw IoError("cannot read " + from.string() + ": " + errno_text());
      if (r == 0) break;
      write_all_fd(out, buf, static_cast<size_t>(r), to);
    }
    if (::fsync(out) != 0) throw IoError("cannot sync " + to.string() + ": " + errno_text());
  } catch (...) {
    ::close(in);
    ::close(out);
    throw;
  }
  ::close(in);
  ::close(out);
}

std::string read_small_file(const fs::path& p, int64_t max_bytes) {
  const int64_t size = file_size_or_missing(p);
  if (size < 0) throw IoError("cannot read " + p.string() + ": missing");
  if (size > max_bytes)
    throw FormatError(p.filename().string() + ": " + std::to_string(size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " expected");
  std::ifstream f(p, std::ios::binary);
  if (!f) throw IoError("cannot open " + p.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace gpt2::download_detail
