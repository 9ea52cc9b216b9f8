// Progress reporting for downloads. The library reports through the
// DownloadProgress callback interface and never prints; the CLI plugs in the
// console renderer made by make_console_progress().
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>

namespace gpt2 {

class DownloadProgress {
 public:
  virtual ~DownloadProgress() = default;
  // A transfer of `file` starts at byte `offset` (> 0 when resuming) of `total`
  // bytes (-1 when unknown).
  virtual void file_started(const std::string& file, int64_t offset, int64_t total) {}
  // `done` bytes of `total` are now on disk (called often; throttle rendering).
  virtual void file_progress(const std::string& file, int64_t done, int64_t total) {}
  // The transfer of `file` finished: `bytes` received in this run, `size` on disk.
  virtual void file_finished(const std::string& file, int64_t bytes, int64_t size) {}
  // A file already on disk is kept (it is verified with the rest of the model).
  virtual void file_skipped(const std::string& file, int64_t size) {}
  // A failed attempt will be retried after `wait_s` seconds.
  virtual void retrying(const std::string& file, int attempt, int max_attempts, double wait_s,
                        const std::string& reason) {}
  // Any other one-line status message ("verifying...", "moved aside ...").
  virtual void message(const std::string& line) {}
};

// Renders progress on `err`: a live bar per file (bytes, total, rate, ETA) when
// `is_tty`, otherwise one plain line per file.
std::unique_ptr<DownloadProgress> make_console_progress(std::ostream& err, bool is_tty);

// Formatting helpers (exposed for the tests).
// One bar line (no newline): name, bar, done/total, rate, ETA. `total` -1: unknown.
std::string render_progress_line(const std::string& file, int64_t done, int64_t total,
                                 double bytes_per_s, int width);

}  // namespace gpt2
