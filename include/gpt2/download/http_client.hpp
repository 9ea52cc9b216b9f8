// A small blocking HTTP(S) client (libcurl behind a pimpl; no curl types here).
//
// One request at a time per client. Redirects are followed; only http and https
// are allowed (also after a redirect). HTTPS certificates are verified; proxies
// come from libcurl's usual environment variables (http_proxy, https_proxy,
// no_proxy...). The body of a 2xx response is streamed to a BodySink; the body of
// any other response is never handed out (so an error page can never end up in a
// file).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace gpt2 {

struct HttpOptions {
  long connect_timeout_s = 30;
  // Abort a transfer slower than low_speed_limit bytes/s for low_speed_time_s
  // seconds (a stalled server). 0 disables.
  long low_speed_limit = 1024;
  long low_speed_time_s = 30;
  std::string user_agent = "gpt2-cpp";
};

// Status line and headers of the final response (after redirects).
struct HttpResponseHead {
  long status = 0;
  int64_t content_length = -1;  // -1 when the server sent none
  // From "Content-Range: bytes A-B/N" (206) or "bytes */N" (416); -1 when absent.
  int64_t range_start = -1;
  int64_t range_total = -1;
  std::optional<double> retry_after_s;  // "Retry-After: <seconds>" (dates are ignored)
};

// Receives the body of a 2xx response. begin() is called once, before the first
// byte; returning false from either function aborts the transfer.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual bool begin(const HttpResponseHead& head) = 0;
  virtual bool write(const char* data, size_t size) = 0;
};

struct HttpResult {
  HttpResponseHead head;        // of the final response (status 0 if none arrived)
  bool transport_ok = false;    // the exchange completed without a transport error
  bool aborted_by_sink = false; // a BodySink call returned false
  bool interrupted = false;     // stopped because gpt2::interrupt_requested()
  bool transient = false;       // the transport error is worth retrying (reset, timeout...)
  std::string error;            // one line describing the transport error (empty if ok)
  int64_t body_bytes = 0;       // body bytes handed to the sink
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions opt = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET `url`; when range_from > 0 asks for "Range: bytes=<range_from>-".
  // `sink` may be null (body discarded). Never throws for network problems:
  // everything is reported in the result.
  HttpResult get(const std::string& url, int64_t range_from, BodySink* sink);

  // HEAD `url` (headers only).
  HttpResult head(const std::string& url);

  // GET into a string (small documents only; at most max_bytes, else an error).
  HttpResult get_string(const std::string& url, std::string& body, size_t max_bytes = 1 << 20);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True for statuses worth retrying: 408, 425, 429, 5xx.
bool is_transient_http_status(long status);

}  // namespace gpt2
