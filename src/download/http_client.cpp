// libcurl implementation of gpt2::HttpClient.
#include "gpt2/download/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/interrupt.hpp"

namespace gpt2 {

namespace {

void global_init_once() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw NetworkError("libcurl initialisation failed");
  });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Parses a non-negative decimal integer; -1 if `s` is not one.
int64_t parse_int(const std::string& s) {
  if (s.empty() || s.size() > 18) return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// "bytes A-B/N" or "bytes */N" (N may be '*').
void parse_content_range(const std::string& value, HttpResponseHead& h) {
  const std::string v = lower(trim(value));
  if (v.rfind("bytes ", 0) != 0) return;
  const std::string spec = trim(v.substr(6));
  const size_t slash = spec.find('/');
  if (slash == std::string::npos) return;
  const std::string range = spec.substr(0, slash);
  h.range_total = parse_int(spec.substr(slash + 1));
  if (range != "*") {
    const size_t dash = range.find('-');
    if (dash != std::string::npos) h.range_start = parse_int(range.substr(0, dash));
  }
}

bool transient_curl_code(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool is_transient_http_status(long status) {
  return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

struct HttpClient::Impl {
  HttpOptions opt;
  CURL* curl = nullptr;

  // Per-request state used by the callbacks.
  HttpResponseHead head;
  BodySink* sink = nullptr;
  bool began = false;
  bool sink_failed = false;
  bool interrupted = false;
  int64_t body_bytes = 0;

  static size_t on_header(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<Impl*>(user);
    const size_t len = size * n;
    const std::string line(data, len);
    if (line.rfind("HTTP/", 0) == 0) {  // a new response (e.g. after a redirect)
      self->head = HttpResponseHead{};
      const size_t sp = line.find(' ');
      if (sp != std::string::npos) self->head.status = std::atol(line.c_str() + sp + 1);
      return len;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return len;
    const std::string name = lower(trim(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      self->head.content_length = parse_int(value);
    } else if (name == "content-range") {
      parse_content_range(value, self->head);
    } else if (name == "retry-after") {
      const int64_t s = parse_int(value);
      if (s >= 0) self->head.retry_after_s = static_cast<double>(s);
    }
    return len;
  }

  bool begin_body() {
    began = true;
    if (sink != nullptr && !sink->begin(head)) {
      sink_failed = true;
      return false;
    }
    return true;
  }

  static size_t on_write(char* data, size_t size, size_t n, void* user) {
    auto* self = static_cast<Impl*>(user);
    const size_t len = size * n;
    if (self->head.status < 200 || self->head.status > 299) return len;  // error page: discard
    if (!self->began && !self->begin_body()) return 0;
    if (self->sink != nullptr && len > 0 && !self->sink->write(data, len)) {
      self->sink_failed = true;
      return 0;
    }
    self->body_bytes += static_cast<int64_t>(len);
    return len;
  }

  static int on_xferinfo(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* self = static_cast<Impl*>(user);
    if (interrupt_requested()) {
      self->interrupted = true;
      return 1;
    }
    return 0;
  }

  void setup(const std::string& url) {
    curl_easy_reset(curl);
    head = HttpResponseHead{};
    sink = nullptr;
    began = sink_failed = interrupted = false;
    body_bytes = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, opt.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, opt.connect_timeout_s);
    if (opt.low_speed_time_s > 0 && opt.low_speed_limit > 0) {
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, opt.low_speed_limit);
      curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, opt.low_speed_time_s);
    }
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, this);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Impl::on_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, this);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &Impl::on_xferinfo);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, this);
  }

  HttpResult perform(const std::string& url) {
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(curl);
    HttpResult r;
    r.head = head;
    r.body_bytes = body_bytes;
    r.aborted_by_sink = sink_failed;
    r.interrupted = interrupted || interrupt_requested();
    if (rc == CURLE_OK) {
      // A 2xx response with an empty body never reached on_write.
      if (head.status >= 200 && head.status <= 299 && !began && !begin_body()) {
        r.aborted_by_sink = true;
        r.error = "transfer aborted";
        return r;
      }
      r.transport_ok = true;
      return r;
    }
    r.transient = transient_curl_code(rc) && !r.interrupted;
    r.error = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    if (r.interrupted) r.error = "interrupted";
    r.error += " (" + url + ")";
    return r;
  }
};

HttpClient::HttpClient(HttpOptions opt) : impl_(std::make_unique<Impl>()) {
  global_init_once();
  impl_->opt = std::move(opt);
  impl_->curl = curl_easy_init();
  if (impl_->curl == nullptr) throw NetworkError("cannot create a libcurl handle");
}

HttpClient::~HttpClient() {
  if (impl_ && impl_->curl != nullptr) curl_easy_cleanup(impl_->curl);
}

HttpResult HttpClient::get(const std::string& url, int64_t range_from, BodySink* sink) {
  impl_->setup(url);
  impl_->sink = sink;
  const std::string range = std::to_string(range_from) + "-";
  if (range_from > 0) curl_easy_setopt(impl_->curl, CURLOPT_RANGE, range.c_str());
  return impl_->perform(url);
}

HttpResult HttpClient::head(const std::string& url) {
  impl_->setup(url);
  curl_easy_setopt(impl_->curl, CURLOPT_NOBODY, 1L);
  return impl_->perform(url);
}

namespace {
class StringSink : public BodySink {
 public:
  StringSink(std::string& s, size_t max) : s_(s), max_(max) {}
  bool begin(const HttpResponseHead&) override { return true; }
  bool write(const char* d, size_t n) override {
    if (s_.size() + n > max_) return false;
    s_.append(d, n);
    return true;
  }

 private:
  std::string& s_;
  size_t max_;
};
}  // namespace

HttpResult HttpClient::get_string(const std::string& url, std::string& body, size_t max_bytes) {
  body.clear();
  StringSink sink(body, max_bytes);
  HttpResult r = get(url, 0, &sink);
  if (r.aborted_by_sink && !r.interrupted) r.error = "response larger than " + std::to_string(max_bytes) + " bytes (" + url + ")";
  return r;
}

}  // namespace gpt2
