#include "gpt2/dataset/dataset_output.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

namespace {

std::string errno_text() { return std::strerror(errno); }

// The record's global id; FormatError naming `where` otherwise.
uint64_t record_id(const std::string& line, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw FormatError(where + ": not a JSON record");
  }
  auto id = j.is_object() ? j.find("id") : j.end();
  if (!j.is_object() || id == j.end() || !id->is_number_unsigned())
    throw FormatError(where + ": the record has no non-negative integer \"id\"");
  return id->get<uint64_t>();
}

// The first key whose value differs between two settings objects ("" if none).
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  for (auto it = a.begin(); it != a.end(); ++it)
    if (!b.contains(it.key()) || b.at(it.key()) != it.value()) return it.key();
  for (auto it = b.begin(); it != b.end(); ++it)
    if (!a.contains(it.key())) return it.key();
  return "";
}

}  // namespace

fs::path output_sidecar_path(const fs::path& file) {
  fs::path p = file;
  p += ".meta.json";
  return p;
}

std::optional<nlohmann::json> read_output_settings(const fs::path& file) {
  const fs::path side = output_sidecar_path(file);
  std::error_code ec;
  if (!fs::exists(side, ec)) return std::nullopt;
  try {
    nlohmann::json j = nlohmann::json::parse(read_file(side, "output sidecar"));
    if (!j.is_object() || !j.contains("settings") || !j["settings"].is_object())
      throw FormatError(side.string() + ": no \"settings\" object");
    return j["settings"];
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(side.string() + ": not valid JSON (" + std::string(e.what()) + ")");
  }
}

ResumableOutput::ResumableOutput(const fs::path& file, const nlohmann::json& settings) : file_(file) {
  if (const auto old = read_output_settings(file)) {
    const std::string key = first_difference(*old, settings);
    if (!key.empty())
      throw UsageError("--output " + file.string() + " holds records made with other settings (" + key + ": " +
                       (old->contains(key) ? old->at(key).dump() : "unset") + " there, " +
                       (settings.contains(key) ? settings.at(key).dump() : "unset") +
                       " now); use another --output file or the same settings");
  }
  std::error_code ec;
  if (!read_output_settings(file) && fs::exists(file, ec) && fs::file_size(file, ec) > 0)
    throw UsageError("--output " + file.string() + " already holds data but has no " +
                     output_sidecar_path(file).filename().string() +
                     ": it was not written by a gpt2 --output run; move it away or choose another file");
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw IoError("cannot open --output " + file.string() + ": " + errno_text());
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0)
    throw IoError("--output " + file.string() + " is being written by another process");

  // Existing records: complete lines only.
  const std::string text = read_file(file, "--output file");
  const size_t last_nl = text.rfind('\n');
  const size_t whole = last_nl == std::string::npos ? 0 : last_nl + 1;
  torn_bytes_ = static_cast<int64_t>(text.size() - whole);
  if (torn_bytes_ > 0 && ::ftruncate(fd_, static_cast<off_t>(whole)) != 0)
    throw IoError("cannot cut the torn last record of " + file.string() + ": " + errno_text());
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < whole) {
    const size_t end = text.find('\n', pos);
    ++line_no;
    const std::string where = file.string() + " line " + std::to_string(line_no);
    const uint64_t id = record_id(text.substr(pos, end - pos), where);
    if (!done_.insert(id).second) throw FormatError(where + ": id " + std::to_string(id) + " appears twice");
    pos = end + 1;
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) throw IoError("cannot seek in " + file.string() + ": " + errno_text());
  if (!read_output_settings(file)) {
    nlohmann::json side = {{"format", "gpt2-output/1"}, {"settings", settings}};
    write_file_atomic(output_sidecar_path(file), side.dump(2) + "\n");
  }
}

ResumableOutput::~ResumableOutput() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

void ResumableOutput::append(const std::vector<std::pair<uint64_t, std::string>>& records) {
  std::string buf;
  for (const auto& [id, line] : records) buf += line + "\n";
  const char* p = buf.data();
  size_t n = buf.size();
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("cannot write --output " + file_.string() + ": " + errno_text() +
                    " (records written before are kept; rerun to continue)");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  if (::fsync(fd_) != 0) throw IoError("cannot fsync --output " + file_.string() + ": " + errno_text());
  for (const auto& r : records) done_.insert(r.first);
}

MergeReport merge_shards(const fs::path& out, const std::vector<fs::path>& inputs, std::optional<int64_t> expected) {
  if (inputs.empty()) throw UsageError("merge-shards: no shard files given");
  struct Where {
    size_t file;
    uint64_t offset, length;
  };
  std::map<uint64_t, Where> records;
  std::optional<int64_t> recorded_total;
  for (size_t f = 0; f < inputs.size(); ++f) {
    const std::string text = read_file(inputs[f], "shard file");
    if (!text.empty() && text.back() != '\n')
      throw FormatError(inputs[f].string() + " ends with an incomplete record; rerun that shard to finish it");
    size_t pos = 0;
    int64_t line_no = 0;
    while (pos < text.size()) {
      const size_t end = text.find('\n', pos);
      ++line_no;
      const std::string where = inputs[f].string() + " line " + std::to_string(line_no);
      const uint64_t id = record_id(text.substr(pos, end - pos), where);
      auto [it, fresh] = records.emplace(id, Where{f, pos, end - pos + 1});
      if (!fresh)
        throw FormatError("id " + std::to_string(id) + " appears twice: " + inputs[it->second.file].string() + " and " +
                          where);
      pos = end + 1;
    }
    if (const auto s = read_output_settings(inputs[f]); s && s->contains("total_samples")) {
      const int64_t t = s->at("total_samples").get<int64_t>();
      if (recorded_total && *recorded_total != t)
        throw FormatError(inputs[f].string() + ": its sidecar records " + std::to_string(t) + " samples, another " +
                          std::to_string(*recorded_total));
      recorded_total = t;
    }
  }
  const int64_t n = expected ? *expected
                    : recorded_total ? *recorded_total
                    : records.empty() ? 0 : static_cast<int64_t>(records.rbegin()->first) + 1;
  std::vector<uint64_t> missing;
  for (int64_t i = 0; i < n; ++i)
    if (!records.count(static_cast<uint64_t>(i))) missing.push_back(static_cast<uint64_t>(i));
  if (!missing.empty()) {
    std::string first;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) first += (i ? ", " : "") + std::to_string(missing[i]);
    throw FormatError(std::to_string(missing.size()) + " of " + std::to_string(n) + " ids are missing (" + first +
                      (missing.size() > 5 ? ", ..." : "") + "); rerun the shards that own them");
  }
  if (!records.empty() && static_cast<int64_t>(records.rbegin()->first) >= n)
    throw FormatError("id " + std::to_string(records.rbegin()->first) + " is beyond the expected " + std::to_string(n) +
                      " samples (0.." + std::to_string(n - 1) + ")");
  std::vector<std::ifstream> files;
  for (const auto& p : inputs) files.emplace_back(p, std::ios::binary);
  AtomicFile dst(out);
  std::string buf;
  for (const auto& [id, w] : records) {
    buf.resize(w.length);
    files[w.file].seekg(static_cast<std::streamoff>(w.offset));
    files[w.file].read(buf.data(), static_cast<std::streamsize>(w.length));
    if (!files[w.file]) throw IoError("cannot read " + inputs[w.file].string());
    dst.write(buf);
  }
  dst.commit();
  return {static_cast<int64_t>(records.size()), static_cast<int64_t>(inputs.size())};
}

}  // namespace gpt2
