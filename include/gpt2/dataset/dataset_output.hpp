// Resumable JSONL output for dataset-scale generation (--output FILE), and the
// merge of shard files.
//
// Every record is one JSON line with a global "id". Records are appended whole
// and the file is fsynced after each batch. A sidecar FILE.meta.json holds the
// settings that determine the records (model, dtype, seed, sampling, prompts,
// shard, ...). A rerun of the same command reads the file, cuts a torn last
// line, skips the ids already present and generates only the rest; a rerun
// with other settings is refused, naming the setting that differs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace gpt2 {

// FILE.meta.json
std::filesystem::path output_sidecar_path(const std::filesystem::path& file);

// The settings a previous run recorded for `file`, if its sidecar exists.
// FormatError if the sidecar is not valid.
std::optional<nlohmann::json> read_output_settings(const std::filesystem::path& file);

class ResumableOutput {
 public:
  // Opens or creates `file` for appending, holding an exclusive lock (IoError
  // if another process writes it). With an existing sidecar whose settings
  // differ from `settings`: UsageError naming the first differing key. Reads
  // the existing records: a torn last line is cut away (torn_bytes()); a
  // complete line that is not a JSON object with an integer "id", or a
  // duplicate id, is a FormatError naming the line.
  ResumableOutput(const std::filesystem::path& file, const nlohmann::json& settings);
  ~ResumableOutput();
  ResumableOutput(const ResumableOutput&) = delete;
  ResumableOutput& operator=(const ResumableOutput&) = delete;

  bool has(uint64_t id) const { return done_.count(id) > 0; }
  const std::set<uint64_t>& done() const { return done_; }
  int64_t torn_bytes() const { return torn_bytes_; }

  // Appends whole lines (each one JSON record with its "id", no newline) and
  // fsyncs. IoError naming the file if the write fails (the lines written so
  // far stay whole: a rerun cuts a partial one).
  void append(const std::vector<std::pair<uint64_t, std::string>>& records);

 private:
  std::filesystem::path file_;
  int fd_ = -1;
  std::set<uint64_t> done_;
  int64_t torn_bytes_ = 0;
};

struct MergeReport {
  int64_t records = 0;        // ids written, 0..records-1
  int64_t files = 0;
};

// Merges shard files into `out` sorted by id (written atomically), checking
// that every id from 0 to N-1 is present exactly once. N: `expected` if given,
// else the "total_samples" the shards' sidecars record (all must agree), else
// the largest id + 1. FormatError naming the file for a torn or invalid line,
// a duplicate id (both files), or missing ids (how many, the first few).
MergeReport merge_shards(const std::filesystem::path& out, const std::vector<std::filesystem::path>& inputs,
                         std::optional<int64_t> expected = std::nullopt);

}  // namespace gpt2
