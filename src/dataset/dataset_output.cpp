#include "gpt2/dataset/dataset_output.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

namespace {

std::string errno_text() { return std::strerror(errno); }

// The record's global index under `key`; FormatError naming `where` otherwise.
uint64_t record_index(const std::string& line, const std::string& key, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) throw FormatError(where + ": not a JSON record");
  auto id = j.is_object() ? j.find(key) : j.end();
  if (!j.is_object() || id == j.end() || !id->is_number_unsigned())
    throw FormatError(where + ": the record has no non-negative integer \"" + key + "\"");
  return id->get<uint64_t>();
}

// FILE.meta.json, if it exists: {"format", "key"?, "settings"}.
std::optional<nlohmann::json> read_sidecar(const fs::path& file) {
  const fs::path side = output_sidecar_path(file);
  std::error_code ec;
  if (!fs::exists(side, ec)) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(read_file(side, "output sidecar"), nullptr, false);
  if (j.is_discarded()) throw FormatError(side.string() + ": not valid JSON");
  if (!j.is_object() || !j.contains("settings") || !j["settings"].is_object())
    throw FormatError(side.string() + ": no \"settings\" object");
  if (j.contains("key") && !j["key"].is_string()) throw FormatError(side.string() + ": \"key\" is not a string");
  return j;
}

std::string key_of(const nlohmann::json& sidecar) { return sidecar.value("key", std::string("id")); }

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
  const auto side = read_sidecar(file);
  if (!side) return std::nullopt;
  return side->at("settings");
}

std::string read_output_key(const fs::path& file) {
  const auto side = read_sidecar(file);
  return side ? key_of(*side) : std::string("id");
}

ResumableOutput::ResumableOutput(const fs::path& file, const nlohmann::json& settings, const std::string& key)
    : file_(file) {
  const auto side = read_sidecar(file);
  if (side && key_of(*side) != key)
    throw UsageError("--output " + file.string() + " holds records indexed by \"" + key_of(*side) + "\", not \"" +
                     key + "\" (another command's output); use another --output file");
  if (side) {
    const nlohmann::json& old = side->at("settings");
    const std::string diff = first_difference(old, settings);
    if (!diff.empty())
      throw UsageError("--output " + file.string() + " holds records made with other settings (" + diff + ": " +
                       (old.contains(diff) ? old.at(diff).dump() : "unset") + " there, " +
                       (settings.contains(diff) ? settings.at(diff).dump() : "unset") +
                       " now); use another --output file or the same settings");
  }
  std::error_code ec;
  if (!side && fs::exists(file, ec) && fs::file_size(file, ec) > 0)
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
    const uint64_t id = record_index(text.substr(pos, end - pos), key, where);
    if (!done_.insert(id).second) throw FormatError(where + ": " + key + " " + std::to_string(id) + " appears twice");
    pos = end + 1;
  }
  if (::lseek(fd_, 0, SEEK_END) < 0) throw IoError("cannot seek in " + file.string() + ": " + errno_text());
  if (!side) {
    nlohmann::json j = {{"format", "gpt2-output/1"}};
    if (key != "id") j["key"] = key;
    j["settings"] = settings;
    write_file_atomic(output_sidecar_path(file), j.dump(2) + "\n");
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
  // The sidecars: one key, one set of settings (but the shard), N, the skipped indices.
  std::optional<nlohmann::json> first;  // settings without "shard"
  size_t first_file = 0;
  std::optional<int64_t> recorded_total;
  std::set<uint64_t> skipped;
  MergeReport report;
  bool keyed = false;
  for (size_t f = 0; f < inputs.size(); ++f) {
    const auto side = read_sidecar(inputs[f]);
    if (!side) continue;
    if (keyed && key_of(*side) != report.key)
      throw FormatError(inputs[f].string() + ": its records are indexed by \"" + key_of(*side) + "\", " +
                        inputs[first_file].string() + "'s by \"" + report.key + "\"");
    report.key = key_of(*side);
    keyed = true;
    nlohmann::json s = side->at("settings");
    s.erase("shard");
    if (first && *first != s) {
      const std::string diff = first_difference(*first, s);
      throw FormatError(inputs[f].string() + " was made with other settings than " + inputs[first_file].string() + " (" +
                        diff + "); shards to merge must come from one command");
    }
    if (!first) first = s, first_file = f;
    for (const char* total : {"total_samples", "total_records"})
      if (s.contains(total)) recorded_total = s.at(total).get<int64_t>();
    if (s.contains("skipped_records"))
      for (const auto& i : s.at("skipped_records")) skipped.insert(i.get<uint64_t>());
  }
  const std::string& key = report.key;
  struct Where {
    size_t file;
    uint64_t offset, length;
  };
  std::map<uint64_t, Where> records;
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
      const uint64_t id = record_index(text.substr(pos, end - pos), key, where);
      auto [it, fresh] = records.emplace(id, Where{f, pos, end - pos + 1});
      if (!fresh)
        throw FormatError(key + " " + std::to_string(id) + " appears twice: " + inputs[it->second.file].string() +
                          " and " + where);
      if (skipped.count(id))
        throw FormatError(where + ": " + key + " " + std::to_string(id) + " is a skipped bad line by the sidecars");
      pos = end + 1;
    }
  }
  const int64_t n = expected ? *expected
                    : recorded_total ? *recorded_total
                    : records.empty() ? 0 : static_cast<int64_t>(records.rbegin()->first) + 1;
  std::vector<uint64_t> missing;
  for (int64_t i = 0; i < n; ++i)
    if (!records.count(static_cast<uint64_t>(i)) && !skipped.count(static_cast<uint64_t>(i)))
      missing.push_back(static_cast<uint64_t>(i));
  if (!missing.empty()) {
    std::string some;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) some += (i ? ", " : "") + std::to_string(missing[i]);
    throw FormatError(std::to_string(missing.size()) + " of " + std::to_string(n) + " " +
                      (key == "id" ? "ids" : key + "s") + " are missing (" + some + (missing.size() > 5 ? ", ..." : "") +
                      "); rerun the shards that own them");
  }
  if (!records.empty() && static_cast<int64_t>(records.rbegin()->first) >= n)
    throw FormatError(key + " " + std::to_string(records.rbegin()->first) + " is beyond the expected " +
                      std::to_string(n) + " (0.." + std::to_string(n - 1) + ")");
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
  report.records = static_cast<int64_t>(records.size());
  report.files = static_cast<int64_t>(inputs.size());
  report.expected = n;
  report.skipped = static_cast<int64_t>(skipped.size());
  return report;
}

}  // namespace gpt2
