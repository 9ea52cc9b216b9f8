// An exclusive advisory lock (flock) on a lock file, held for the object's life.
#pragma once

#include <filesystem>
#include <string>

namespace gpt2::download_detail {

class FileLock {
 public:
  // Takes the lock without waiting; throws IoError naming `what` if another
  // process (or another open of the file) holds it.
  FileLock(const std::filesystem::path& lock_file, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace gpt2::download_detail
