// gpt2::download_model: plan the files of a model, fetch the missing ones into
// .partial files, derive the Hugging Face extras, verify the whole directory and
// only then give every file its final name.
#include "gpt2/download/downloader.hpp"

#include "gpt2/base/format.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <system_error>

#include "download/file_fetcher.hpp"
#include "download/file_lock.hpp"
#include "download/fs_util.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/download/http_client.hpp"
#include "gpt2/base/interrupt.hpp"
#include "gpt2/base/model_names.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

using download_detail::file_size_or_missing;

namespace {

const std::vector<std::string>& openai_files() {
  static const std::vector<std::string> f = {"checkpoint",
                                             "encoder.json",
                                             "hparams.json",
                                             "model.ckpt.data-00000-of-00001",
                                             "model.ckpt.index",
                                             "model.ckpt.meta",
                                             "vocab.bpe"};
  return f;
}

const std::vector<std::string>& hf_files() {
  static const std::vector<std::string> f = {"config.json", "vocab.json", "merges.txt", "model.safetensors"};
  return f;
}

// Files made locally from a fetched Hugging Face file: {derived, source}.
const std::vector<std::pair<std::string, std::string>>& hf_derived() {
  static const std::vector<std::pair<std::string, std::string>> d = {
      {"hparams.json", "config.json"}, {"encoder.json", "vocab.json"}, {"vocab.bpe", "merges.txt"}};
  return d;
}

std::string checked_model_name(const std::string& model) {
  const std::string c = canonical_model_name(model);
  if (!is_released_model(c)) {
    std::string valid;
    for (const auto& n : released_model_names()) valid += (valid.empty() ? "" : ", ") + n;
    throw UsageError("unknown model '" + model + "'; valid names: " + valid + " (aliases 117M, 345M)");
  }
  return c;
}

std::string checked_base_url(const DownloadOptions& opt) {
  std::string b = opt.base_url.empty() ? default_base_url(opt.source) : opt.base_url;
  while (!b.empty() && b.back() == '/') b.pop_back();
  std::string low = b;
  std::transform(low.begin(), low.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool scheme_ok = (low.rfind("http://", 0) == 0 && low.size() > 7) ||
                         (low.rfind("https://", 0) == 0 && low.size() > 8);
  const bool chars_ok = std::none_of(b.begin(), b.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
  if (!scheme_ok || !chars_ok)
    throw UsageError("--base-url must be an http:// or https:// URL without spaces, got '" + opt.base_url + "'");
  return b;
}

// Removes staging directories left behind by killed runs (we hold the lock).
void remove_stale_staging(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind(".verify-", 0) == 0) fs::remove_all(e.path(), ec);
  }
}

// A directory of links to the files to verify under their final names.
class StagingDir {
 public:
  explicit StagingDir(const fs::path& model_dir)
      : path_(model_dir / (".verify-" + std::to_string(::getpid()))) {
    std::error_code ec;
    fs::remove_all(path_, ec);
    if (!fs::create_directory(path_, ec) || ec)
      throw IoError("cannot create " + path_.string() + ": " + ec.message());
  }
  ~StagingDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);  // removes the links, never their targets
  }
  void add(const fs::path& target, const std::string& name) {
    std::error_code ec;
    fs::create_hard_link(target, path_ / name, ec);
    if (ec) fs::create_symlink(fs::absolute(target), path_ / name, ec);
    if (ec) throw IoError("cannot link " + target.string() + " for verification: " + ec.message());
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct StagedFile {
  std::string name;
  fs::path actual;  // the final file or its complete .partial
  bool is_partial = false;
};

fs::path partial_of(const fs::path& dir, const std::string& name) { return dir / (name + ".partial"); }

// The final file if present, else its .partial if present; empty path if neither.
fs::path existing_version(const fs::path& dir, const std::string& name) {
  if (file_size_or_missing(dir / name) >= 0) return dir / name;
  if (file_size_or_missing(partial_of(dir, name)) >= 0) return partial_of(dir, name);
  return {};
}

void derive_hf_files(const fs::path& dir, DownloadProgress* progress) {
  for (const auto& [target, source] : hf_derived()) {
    if (file_size_or_missing(dir / target) >= 0) continue;
    const fs::path src = existing_version(dir, source);
    if (src.empty()) throw IoError(source + " is missing from " + dir.string());
    if (target == "hparams.json") {
      HParams hp;
      try {
        hp = HParams::from_hf_config(download_detail::read_small_file(src, 1 << 20), "config.json");
      } catch (const FormatError& e) {
        const fs::path moved = download_detail::move_aside(src, dir / source);
        throw FormatError(std::string(e.what()) + "; moved aside to " + moved.filename().string() +
                          "; run the download again for a fresh copy");
      }
      download_detail::write_file_synced(partial_of(dir, target), hp.to_json() + "\n");
    } else {
      download_detail::copy_file_synced(src, partial_of(dir, target));
    }
    if (progress != nullptr) progress->message(target + ": made from " + source);
  }
}

}  // namespace

DownloadSource parse_download_source(const std::string& s) {
  if (s == "openai") return DownloadSource::kOpenAI;
  if (s == "hf" || s == "huggingface") return DownloadSource::kHuggingFace;
  throw UsageError("--source must be 'openai' or 'hf', got '" + s + "'");
}

std::string default_base_url(DownloadSource source) {
  return source == DownloadSource::kOpenAI ? "https://openaipublic.blob.core.windows.net/gpt-2/models"
                                           : "https://huggingface.co/openai-community";
}

std::string hf_repo_for(const std::string& model) {
  const std::string c = checked_model_name(model);
  if (c == "124M") return "gpt2";
  if (c == "355M") return "gpt2-medium";
  if (c == "774M") return "gpt2-large";
  return "gpt2-xl";
}

std::vector<RemoteFile> plan_download(const DownloadOptions& opt) {
  const std::string model = checked_model_name(opt.model);
  const std::string base = checked_base_url(opt);
  std::vector<RemoteFile> plan;
  if (opt.source == DownloadSource::kOpenAI) {
    for (const auto& f : openai_files()) plan.push_back({f, base + "/" + model + "/" + f});
  } else {
    const std::string repo = hf_repo_for(model);
    for (const auto& f : hf_files()) plan.push_back({f, base + "/" + repo + "/resolve/main/" + f});
  }
  return plan;
}

namespace {

// Step 1: the plan's files still to fetch (a file with its final name was verified before).
std::vector<RemoteFile> missing_files(const std::vector<RemoteFile>& plan, const fs::path& dir, DownloadResult& res,
                                      DownloadProgress* progress) {
  std::vector<RemoteFile> todo;
  for (const auto& f : plan) {
    const int64_t size = file_size_or_missing(dir / f.name);
    if (size >= 0) {
      std::error_code rm_ec;
      fs::remove(partial_of(dir, f.name), rm_ec);  // a leftover of an older run
      res.kept.push_back(f.name);
      if (progress != nullptr) progress->file_skipped(f.name, size);
    } else {
      todo.push_back(f);
    }
  }
  return todo;
}

// Step 2: probe sizes (HEAD), check free space up front, then fetch each file to its .partial name.
void fetch_files(const std::vector<RemoteFile>& todo, const DownloadOptions& opt, const fs::path& dir,
                 DownloadResult& res) {
  HttpOptions hopt;
  hopt.connect_timeout_s = opt.connect_timeout_s;
  hopt.low_speed_limit = opt.low_speed_limit;
  hopt.low_speed_time_s = opt.low_speed_time_s;
  HttpClient client(hopt);

  std::vector<int64_t> expected(todo.size(), -1);
  int64_t need = 0;
  for (size_t i = 0; i < todo.size(); ++i) {
    const HttpResult h = client.head(todo[i].url);
    if (h.interrupted) throw InterruptedError("interrupted before downloading " + todo[i].name);
    if (!h.transport_ok) break;  // unreachable for now: the transfers retry (sizes checked per file)
    const long st = h.head.status;
    if (h.transport_ok && (st == 404 || st == 410))
      throw NetworkError("HTTP " + std::to_string(st) + (st == 404 ? " Not Found" : " Gone") + " for " +
                         todo[i].url + "; nothing saved for " + todo[i].name);
    if (h.transport_ok && st >= 200 && st <= 299 && h.head.content_length >= 0) expected[i] = h.head.content_length;
    if (expected[i] >= 0)
      need += std::max<int64_t>(0, expected[i] - std::max<int64_t>(0, file_size_or_missing(partial_of(dir, todo[i].name))));
  }
  if (opt.check_free_space) {
    const int64_t avail = download_detail::free_space_bytes(dir);
    if (avail >= 0 && need > avail)
      throw IoError("not enough free space in " + dir.string() + ": " + format_bytes(need) + " needed, " +
                    format_bytes(avail) + " available");
  }

  download_detail::RetryPolicy policy{opt.max_attempts, opt.backoff_initial_s, opt.backoff_max_s};
  for (size_t i = 0; i < todo.size(); ++i) {
    download_detail::FetchRequest req{todo[i].name, todo[i].url, partial_of(dir, todo[i].name), expected[i],
                                      opt.check_free_space};
    const auto r = download_detail::fetch_file(client, req, policy, opt.progress);
    res.bytes_received += r.bytes_received;
    res.fetched.push_back(todo[i].name);
  }
}

// Step 4: verifies every file under its final name (through links in a staging
// directory), then renames the good .partial files into place and moves bad
// ones aside. `source_of` maps a file made locally to the file it came from.
void verify_and_commit(const std::string& model, const fs::path& dir, const std::vector<std::string>& names,
                       const std::map<std::string, std::string>& source_of, const DownloadOptions& opt,
                       DownloadResult& res) {
  DownloadProgress* progress = opt.progress;
  std::vector<StagedFile> staged;
  for (const auto& n : names) {
    if (file_size_or_missing(dir / n) >= 0) staged.push_back({n, dir / n, false});
    else if (file_size_or_missing(partial_of(dir, n)) >= 0) staged.push_back({n, partial_of(dir, n), true});
    else throw IoError(n + " is missing from " + dir.string() + " after the download");
  }
  if (progress != nullptr) progress->message("verifying " + dir.string() + " ...");
  VerifyReport report;
  {
    StagingDir staging(dir);
    for (const auto& s : staged) staging.add(s.actual, s.name);
    report = verify_model_dir(staging.path());
  }

  std::set<std::string> bad;
  for (const auto& p : report.problems) {
    const std::string f = p.file.filename().string();
    if (std::find(names.begin(), names.end(), f) != names.end()) {
      bad.insert(f);
    } else if (opt.source == DownloadSource::kOpenAI) {  // not about one file: blame the weights
      bad.insert("model.ckpt.index");
      bad.insert("model.ckpt.data-00000-of-00001");
    } else {
      bad.insert("model.safetensors");
    }
  }
  for (const auto& [target, source] : source_of)
    if (bad.count(target) && target == "hparams.json") bad.insert(source);

  std::string moved;
  for (const auto& s : staged) {
    if (bad.count(s.name)) {
      const fs::path to = download_detail::move_aside(s.actual, dir / s.name);
      moved += (moved.empty() ? "" : ", ") + to.filename().string();
      if (progress != nullptr) progress->message(s.name + ": failed verification, moved aside to " + to.filename().string());
    } else if (s.is_partial) {
      download_detail::rename_file(s.actual, dir / s.name);
    }
  }
  if (!bad.empty()) {
    std::string msg = "model " + model + " failed verification: " + to_string(report.problems.front());
    if (report.problems.size() > 1) msg += " (and " + std::to_string(report.problems.size() - 1) + " more problems)";
    throw FormatError(msg + "; moved aside " + moved + "; run the download again for a fresh copy");
  }
  res.tensors_verified = report.tensors_checked;
  if (progress != nullptr)
    progress->message("model " + model + " is complete and verified (" + std::to_string(report.tensors_checked) +
                      " tensors, " + format_bytes(report.bytes_checked) + ") in " + dir.string());
}

}  // namespace

DownloadResult download_model(const DownloadOptions& opt) {
  const std::vector<RemoteFile> plan = plan_download(opt);  // validates before touching anything
  const std::string model = checked_model_name(opt.model);
  DownloadResult res;
  res.model_dir = opt.models_dir / model;
  const fs::path& dir = res.model_dir;

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw IoError("cannot create " + dir.string() + ": " + ec.message());
  download_detail::FileLock lock(dir / ".lock", dir.string());
  remove_stale_staging(dir);

  const std::vector<RemoteFile> todo = missing_files(plan, dir, res, opt.progress);  // 1.
  if (!todo.empty()) fetch_files(todo, opt, dir, res);                                // 2.

  // 3. Files made locally for the Hugging Face layout.
  std::vector<std::string> names;
  std::map<std::string, std::string> source_of;  // derived file -> the file it was made from
  for (const auto& f : plan) names.push_back(f.name);
  if (opt.source == DownloadSource::kHuggingFace) {
    derive_hf_files(dir, opt.progress);
    for (const auto& [target, source] : hf_derived()) {
      names.push_back(target);
      source_of[target] = source;
    }
  }
  verify_and_commit(model, dir, names, source_of, opt, res);  // 4.
  return res;
}

}  // namespace gpt2
