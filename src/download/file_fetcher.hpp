// Fetching one remote file into "<name>.partial": resume with Range, restart
// when the server ignores Range, retry transient failures with exponential
// backoff, abort stalls, check the size. The file keeps its .partial name; the
// caller renames it once the whole model is verified.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "gpt2/download/http_client.hpp"
#include "gpt2/download/progress.hpp"

namespace gpt2::download_detail {

struct RetryPolicy {
  int max_attempts = 6;          // consecutive failed attempts without progress
  double backoff_initial_s = 1.0;
  double backoff_max_s = 30.0;
};

struct FetchRequest {
  std::string name;                 // shown in messages
  std::string url;
  std::filesystem::path partial;    // destination (.partial)
  int64_t expected_size = -1;       // from a HEAD probe, -1 unknown
  bool check_free_space = true;
};

struct FetchResult {
  int64_t bytes_received = 0;  // body bytes written in this run
  int64_t size = 0;            // final size of the .partial file
};

// Throws NetworkError / IoError / InterruptedError (see download.hpp).
FetchResult fetch_file(HttpClient& client, const FetchRequest& req, const RetryPolicy& policy,
                       DownloadProgress* progress);

// Waiting time before retry number `failures` (1-based): initial * 2^(failures-1),
// capped; a server's Retry-After wins (also capped).
double backoff_seconds(const RetryPolicy& policy, int failures, const HttpResponseHead& head);

}  // namespace gpt2::download_detail
