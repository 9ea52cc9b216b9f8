// Whole-file reading, atomic writing and byte-size formatting: the one home of
// these small helpers for every part of the project (POSIX).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <string_view>

namespace gpt2 {

// The whole of a file. `what` names it in messages ("--prompt-file", "tokenizer
// file"). NotFoundError if it does not exist, UsageError if it is a directory,
// IoError if it cannot be read.
std::string read_file(const std::filesystem::path& path, const std::string& what);

// Everything left in a stream. IoError("cannot read <what>") on a read error.
std::string read_stream(std::istream& in, const std::string& what);

// A file written under a temporary name in the target's directory and put in
// place by commit(): fsync, rename over the target, fsync of the directory. A
// crash or an exception at any moment leaves either the old file or the new
// one, never a partial one; a destroyed uncommitted file removes its temporary.
class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);  // IoError if it cannot be created
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);  // IoError (e.g. disk full), naming the target
  void write(std::string_view s) { write(s.data(), s.size()); }
  void commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temp_path() const { return temp_; }

 private:
  std::filesystem::path target_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// AtomicFile in one call.
void write_file_atomic(const std::filesystem::path& target, std::string_view data);

// fsync of a directory (makes renames in it durable). IoError on failure.
void fsync_directory(const std::filesystem::path& dir);


// A file's modification time in nanoseconds since the epoch, -1 when it cannot be read.
int64_t file_mtime_ns(const std::filesystem::path& path);

}  // namespace gpt2
