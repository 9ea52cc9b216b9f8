// Console rendering of download progress (stderr): a live bar on a terminal, a
// plain line per file otherwise.
#include "gpt2/download/progress.hpp"

#include "gpt2/base/format.hpp"

#include "gpt2/base/file_io.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace gpt2 {

std::string render_progress_line(const std::string& file, int64_t done, int64_t total,
                                 double bytes_per_s, int width) {
  std::string line = file;
  if (total > 0) {
    const double frac = std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    const int filled = static_cast<int>(frac * width);
    line += " [" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof pct, "%3d%% ", static_cast<int>(frac * 100.0));
    line += pct;
  } else {
    line += " ";
  }
  line += format_bytes(done) + " / " + (total >= 0 ? format_bytes(total) : std::string("?"));
  if (bytes_per_s > 0) {
    line += "  " + format_bytes(static_cast<int64_t>(bytes_per_s)) + "/s";
    if (total > 0 && done <= total)
      line += "  ETA " + format_duration(static_cast<double>(total - done) / bytes_per_s);
  }
  return line;
}

namespace {

using Clock = std::chrono::steady_clock;

class ConsoleProgress : public DownloadProgress {
 public:
  ConsoleProgress(std::ostream& err, bool tty) : err_(err), tty_(tty) {}

  void file_started(const std::string& file, int64_t offset, int64_t total) override {
    start_ = Clock::now();
    last_draw_ = start_ - std::chrono::seconds(1);
    start_offset_ = offset;
    drawn_ = false;
    if (!tty_ && offset > 0)
      err_ << file << ": resuming at " << format_bytes(offset) << " of " << format_bytes(total) << "\n";
    file_progress(file, offset, total);
  }

  void file_progress(const std::string& file, int64_t done, int64_t total) override {
    if (!tty_) return;
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100) && done != total) return;
    last_draw_ = now;
    draw(file, done, total, now);
  }

  void file_finished(const std::string& file, int64_t bytes, int64_t size) override {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(bytes) / secs : 0.0;
    if (tty_) {
      draw(file, size, size, Clock::now());
      err_ << "\n";
    } else {
      err_ << file << ": " << format_bytes(size) << " (" << format_bytes(bytes) << " fetched in "
           << format_duration(secs);
      if (rate > 0) err_ << ", " << format_bytes(static_cast<int64_t>(rate)) << "/s";
      err_ << ")\n";
    }
    err_.flush();
    drawn_ = false;
  }

  void file_skipped(const std::string& file, int64_t size) override {
    end_line();
    err_ << file << ": already present (" << format_bytes(size) << ")\n";
    err_.flush();
  }

  void retrying(const std::string& file, int attempt, int max_attempts, double wait_s,
                const std::string& reason) override {
    end_line();
    char wait[32];
    if (wait_s < 10) std::snprintf(wait, sizeof wait, "%.1fs", wait_s);
    else std::snprintf(wait, sizeof wait, "%s", format_duration(wait_s).c_str());
    err_ << file << ": " << reason << "; retry " << attempt << "/" << max_attempts << " in " << wait << "\n";
    err_.flush();
  }

  void message(const std::string& line) override {
    end_line();
    err_ << line << "\n";
    err_.flush();
  }

 private:
  void draw(const std::string& file, int64_t done, int64_t total, Clock::time_point now) {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0.2 ? static_cast<double>(done - start_offset_) / secs : 0.0;
    const std::string line = render_progress_line(file, done, total, rate, 30);
    err_ << "\r" << line << "\x1b[K";
    err_.flush();
    drawn_ = true;
  }

  void end_line() {
    if (tty_ && drawn_) err_ << "\n";
    drawn_ = false;
  }

  std::ostream& err_;
  bool tty_;
  Clock::time_point start_{}, last_draw_{};
  int64_t start_offset_ = 0;
  bool drawn_ = false;
};

}  // namespace

std::unique_ptr<DownloadProgress> make_console_progress(std::ostream& err, bool is_tty) {
  return std::make_unique<ConsoleProgress>(err, is_tty);
}

}  // namespace gpt2
