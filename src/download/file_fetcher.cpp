#include "download/file_fetcher.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "download/fs_util.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/interrupt.hpp"

namespace fs = std::filesystem;

namespace gpt2::download_detail {

namespace {

std::string status_text(long status) {
  std::string s = "HTTP " + std::to_string(status);
  switch (status) {
    case 401: return s + " Unauthorized";
    case 403: return s + " Forbidden";
    case 404: return s + " Not Found";
    case 410: return s + " Gone";
    case 416: return s + " Range Not Satisfiable";
    case 429: return s + " Too Many Requests";
    case 500: return s + " Internal Server Error";
    case 502: return s + " Bad Gateway";
    case 503: return s + " Service Unavailable";
    case 504: return s + " Gateway Timeout";
    default: return s;
  }
}

// Writes the body of one attempt into the .partial file, appending at the
// resume offset (206) or from byte 0 (200: the server ignored Range).
class PartialSink : public BodySink {
 public:
  PartialSink(const FetchRequest& req, int64_t offset, DownloadProgress* progress)
      : req_(req), offset_(offset), progress_(progress) {}
  ~PartialSink() override { close(); }

  bool begin(const HttpResponseHead& h) override {
    if (h.status == 206) {
      if (h.range_start != offset_) {
        mismatch_ = "server sent a range starting at byte " + std::to_string(h.range_start) +
                    " instead of " + std::to_string(offset_);
        truncate_next_ = true;
        return false;
      }
      start_ = offset_;
      total_ = h.range_total >= 0 ? h.range_total
                                  : (h.content_length >= 0 ? offset_ + h.content_length : -1);
    } else {
      start_ = 0;  // a full response: restart from byte 0
      total_ = h.content_length;
      if (offset_ > 0 && progress_ != nullptr)
        progress_->message(req_.name + ": server ignored the resume request; restarting from byte 0");
    }
    if (req_.check_free_space && total_ >= 0) {
      const int64_t need = total_ - start_;
      const int64_t avail = free_space_bytes(req_.partial.parent_path());
      if (avail >= 0 && need > avail) {
        fatal_ = "not enough free space for " + req_.name + " in " + req_.partial.parent_path().string() +
                 ": " + std::to_string(need) + " bytes needed, " + std::to_string(avail) + " available";
        return false;
      }
    }
    fd_ = ::open(req_.partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(start_)) != 0 ||
        ::lseek(fd_, static_cast<off_t>(start_), SEEK_SET) < 0) {
      fatal_ = "cannot write " + req_.partial.string() + ": " + errno_text();
      return false;
    }
    done_ = start_;
    if (progress_ != nullptr) progress_->file_started(req_.name, start_, total_);
    return true;
  }

  bool write(const char* data, size_t n) override {
    if (total_ >= 0 && done_ + static_cast<int64_t>(n) > total_) {
      mismatch_ = "server sent more bytes than announced";
      truncate_next_ = true;
      return false;
    }
    const char* p = data;
    size_t left = n;
    while (left > 0) {
      const ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        fatal_ = (errno == ENOSPC ? "disk full while writing " : "cannot write ") + req_.partial.string() +
                 ": " + errno_text();
        return false;
      }
      p += w;
      left -= static_cast<size_t>(w);
    }
    done_ += static_cast<int64_t>(n);
    written_ += static_cast<int64_t>(n);
    if (progress_ != nullptr) progress_->file_progress(req_.name, done_, total_);
    return true;
  }

  void close() {
    if (fd_ < 0) return;
    const bool synced = ::fsync(fd_) == 0;
    if (!synced && fatal_.empty()) fatal_ = "cannot sync " + req_.partial.string() + ": " + errno_text();
    ::close(fd_);
    fd_ = -1;
  }

  int64_t total() const { return total_; }
  int64_t written() const { return written_; }
  const std::string& fatal() const { return fatal_; }
  const std::string& mismatch() const { return mismatch_; }
  bool truncate_next() const { return truncate_next_; }

 private:
  const FetchRequest& req_;
  int64_t offset_;
  DownloadProgress* progress_;
  int fd_ = -1;
  int64_t start_ = 0, total_ = -1, done_ = 0, written_ = 0;
  std::string fatal_, mismatch_;
  bool truncate_next_ = false;
};

void sleep_interruptibly(double seconds, const std::string& name) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (interrupt_requested())
      throw InterruptedError("interrupted while downloading " + name + "; run the command again to resume");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

double backoff_seconds(const RetryPolicy& policy, int failures, const HttpResponseHead& head) {
  const double cap = std::max(0.0, policy.backoff_max_s);
  if (head.retry_after_s) return std::min(*head.retry_after_s, cap);
  const double w = policy.backoff_initial_s * std::pow(2.0, std::max(0, failures - 1));
  return std::min(std::max(0.0, w), cap);
}

FetchResult fetch_file(HttpClient& client, const FetchRequest& req, const RetryPolicy& policy,
                       DownloadProgress* progress) {
  const int max_attempts = std::max(1, policy.max_attempts);
  const int hard_cap = max_attempts * 8;  // bounds attempts even while some progress is made
  FetchResult res;
  int failures = 0;
  bool truncate_next = false;
  for (int attempt = 1;; ++attempt) {
    if (interrupt_requested())
      throw InterruptedError("interrupted while downloading " + req.name + "; run the command again to resume");
    int64_t offset = std::max<int64_t>(0, file_size_or_missing(req.partial));
    if (offset > 0 && (truncate_next || (req.expected_size >= 0 && offset > req.expected_size))) {
      truncate_file(req.partial, 0);
      offset = 0;
    }
    truncate_next = false;
    if (req.expected_size > 0 && offset == req.expected_size) {  // finished by an earlier run
      if (progress != nullptr) {
        progress->file_started(req.name, offset, offset);
        progress->file_finished(req.name, 0, offset);
      }
      res.size = offset;
      return res;
    }

    PartialSink sink(req, offset, progress);
    const HttpResult r = client.get(req.url, offset, &sink);
    sink.close();
    res.bytes_received += sink.written();
    if (r.interrupted)
      throw InterruptedError("interrupted while downloading " + req.name + "; run the command again to resume");
    if (!sink.fatal().empty()) throw IoError(sink.fatal());

    const long st = r.head.status;
    const int64_t size_now = std::max<int64_t>(0, file_size_or_missing(req.partial));
    std::string reason;
    if (!sink.mismatch().empty()) {
      reason = sink.mismatch();
      truncate_next = sink.truncate_next();
    } else if (!r.transport_ok) {
      if (!r.transient) throw NetworkError("downloading " + req.name + " failed: " + r.error);
      reason = r.error;
    } else if (st >= 200 && st <= 299) {
      const int64_t total = sink.total();
      if (total < 0 || size_now == total) {
        if (progress != nullptr) progress->file_finished(req.name, res.bytes_received, size_now);
        res.size = size_now;
        return res;
      }
      if (size_now > total) truncate_next = true;
      reason = "transfer ended at byte " + std::to_string(size_now) + " of " + std::to_string(total);
    } else if (st == 416) {
      if (r.head.range_total >= 0 && offset == r.head.range_total) {  // already complete
        if (progress != nullptr) {
          progress->file_started(req.name, offset, offset);
          progress->file_finished(req.name, res.bytes_received, offset);
        }
        res.size = offset;
        return res;
      }
      truncate_next = true;
      reason = "server cannot resume at byte " + std::to_string(offset);
    } else if (is_transient_http_status(st)) {
      reason = status_text(st);
    } else {
      throw NetworkError(status_text(st) + " for " + req.url + "; nothing saved for " + req.name);
    }

    failures = sink.written() > 0 ? 1 : failures + 1;
    if (failures >= max_attempts || attempt >= hard_cap)
      throw NetworkError("giving up on " + req.name + " after " + std::to_string(attempt) +
                         " attempts: " + reason + " (run the command again to resume)");
    const double wait = backoff_seconds(policy, failures, r.head);
    if (progress != nullptr) progress->retrying(req.name, failures + 1, max_attempts, wait, reason);
    sleep_interruptibly(wait, req.name);
  }
}

}  // namespace gpt2::download_detail
