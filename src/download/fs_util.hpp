// Small filesystem helpers for the downloader (POSIX).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace gpt2::download_detail {

// Size of a regular file, or -1 if it does not exist.
int64_t file_size_or_missing(const std::filesystem::path& p);

// Bytes available to an unprivileged user on the filesystem holding `dir`
// (statvfs); -1 if it cannot be determined.
int64_t free_space_bytes(const std::filesystem::path& dir);

// Truncates (or creates) `p` to `size` bytes. Throws IoError.
void truncate_file(const std::filesystem::path& p, int64_t size);

// Renames `p` to "<name>.corrupt-<YYYYmmdd-HHMMSS>" (a free name; `name` is the
// file's final path, `p` may be its .partial) and returns the new path.
std::filesystem::path move_aside(const std::filesystem::path& p, const std::filesystem::path& name);

// rename(2) with an IoError naming both paths on failure.
void rename_file(const std::filesystem::path& from, const std::filesystem::path& to);

// Copies `from` to `to` (overwriting) and fsyncs it. Throws IoError.
void copy_file_synced(const std::filesystem::path& from, const std::filesystem::path& to);

// Writes `data` to `p` (truncating) and fsyncs it. Throws IoError.
void write_file_synced(const std::filesystem::path& p, const std::string& data);

// Reads a small file (at most max_bytes); throws IoError / FormatError.
std::string read_small_file(const std::filesystem::path& p, int64_t max_bytes);

// "errno text" for the last error.
std::string errno_text();

}  // namespace gpt2::download_detail
