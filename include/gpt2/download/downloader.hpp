// Downloading the released GPT-2 checkpoints: resumable (.partial + Range),
// retried with exponential backoff, stall-aborted, locked against concurrent
// runs, space-checked up front and verified (sizes, then every tensor's crc32c)
// before a file gets its final name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gpt2/download/progress.hpp"

namespace gpt2 {

enum class DownloadSource { kOpenAI, kHuggingFace };

// "openai" | "hf" (also "huggingface"); UsageError otherwise.
DownloadSource parse_download_source(const std::string& s);

// https://openaipublic.blob.core.windows.net/gpt-2/models  or  https://huggingface.co
std::string default_base_url(DownloadSource source);

// Hugging Face repository name (under openai-community/ on the default host) of a
// released size: 124M -> gpt2, 355M -> gpt2-medium, 774M -> gpt2-large,
// 1558M -> gpt2-xl. UsageError for anything else.
std::string hf_repo_for(const std::string& model);

struct DownloadOptions {
  std::string model;                  // released name or alias (124M, 117M, ...)
  std::filesystem::path models_dir = "models";
  DownloadSource source = DownloadSource::kOpenAI;
  std::string base_url;               // empty: default_base_url(source)

  int max_attempts = 6;               // tries per file without progress before giving up
  double backoff_initial_s = 1.0;     // first wait; doubles each retry
  double backoff_max_s = 30.0;        // cap (also for Retry-After)
  long connect_timeout_s = 30;
  long low_speed_limit = 1024;        // bytes/s ...
  long low_speed_time_s = 30;         // ... for this long aborts the attempt (stall)
  bool check_free_space = true;

  DownloadProgress* progress = nullptr;  // optional
};

// One remote file of a model and where it goes.
struct RemoteFile {
  std::string name;  // file name in the model directory (as stored)
  std::string url;
};

// The files a download fetches, in order (no network access).
// OpenAI: checkpoint, encoder.json, hparams.json, model.ckpt.data-00000-of-00001,
// model.ckpt.index, model.ckpt.meta, vocab.bpe.
// Hugging Face: config.json, vocab.json, merges.txt, model.safetensors (then
// hparams.json, encoder.json and vocab.bpe are derived locally).
// Throws UsageError for an unknown model name or a base URL that is not http(s).
std::vector<RemoteFile> plan_download(const DownloadOptions& opt);

struct DownloadResult {
  std::filesystem::path model_dir;
  std::vector<std::string> fetched;    // files transferred (fully or resumed) in this run
  std::vector<std::string> kept;       // files already present, not fetched again
  int64_t bytes_received = 0;
  int64_t tensors_verified = 0;
};

// Downloads (or completes) the model and verifies it. Returns only when every
// file is present under its final name and verified. Throws:
//   UsageError     unknown model / bad base URL (before any network request)
//   NetworkError   HTTP 4xx, retries exhausted, stalled transfer, bad size
//   FormatError    verification failed (the bad file is moved aside to
//                  <file>.corrupt-<timestamp>; the next run fetches it again)
//   IoError        disk full / not enough free space, lock held by another run
//   InterruptedError  gpt2::interrupt_requested() (the .partial files stay for resume)
DownloadResult download_model(const DownloadOptions& opt);

}  // namespace gpt2
