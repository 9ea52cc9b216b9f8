// Resumable JSONL output for dataset-scale runs (--output FILE of generation
// and of `gpt2 score --jsonl`), and the merge of shard files.
//
// Every record is one JSON line with a global index under a key: "id" for
// generated samples, "record" for scored corpus records. Records are appended
// whole and the file is fsynced after each batch. A sidecar FILE.meta.json
// holds the key and the settings that determine the records (model, dtype,
// seed, sampling, prompts or input, shard, ...). A rerun of the same command
// reads the file, cuts a torn last line, skips the indices already present and
// makes only the rest; a rerun with other settings is refused, naming the
// setting that differs.
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

// The index key the sidecar of `file` records ("id" when it names none, or
// there is no sidecar). FormatError if the sidecar is not valid.
std::string read_output_key(const std::filesystem::path& file);

class ResumableOutput {
 public:
  // Opens or creates `file` for appending, holding an exclusive lock (IoError
  // if another process writes it). With an existing sidecar whose key or
  // settings differ: UsageError naming the first differing setting. Reads
  // the existing records: a torn last line is cut away (torn_bytes()); a
  // complete line that is not a JSON object with a non-negative integer `key`,
  // or a duplicate index, is a FormatError naming the line.
  ResumableOutput(const std::filesystem::path& file, const nlohmann::json& settings, const std::string& key = "id");
  ~ResumableOutput();
  ResumableOutput(const ResumableOutput&) = delete;
  ResumableOutput& operator=(const ResumableOutput&) = delete;

  bool has(uint64_t id) const { return done_.count(id) > 0; }
  const std::set<uint64_t>& done() const { return done_; }
  int64_t torn_bytes() const { return torn_bytes_; }

  // Appends whole lines (each one JSON record with its index, no newline) and
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
  int64_t records = 0;        // records written
  int64_t files = 0;
  int64_t expected = 0;       // N: the indices 0..N-1 were checked
  int64_t skipped = 0;        // indices the sidecars list as skipped (bad input lines)
  std::string key = "id";     // the index key ("id", or "record" for score shards)
};

// Merges shard files into `out` sorted by index (written atomically), checking
// that every index from 0 to N-1 is present exactly once, but those the
// sidecars list under "skipped_records" (the bad lines a score run skipped).
// The key is the one the sidecars record ("id" without sidecars); all
// sidecars must record the same key and the same settings but "shard". N:
// `expected` if given, else the "total_samples" / "total_records" the
// sidecars record, else the largest index + 1. FormatError naming the file for
// a torn or invalid line, a duplicate index (both files), sidecars that
// disagree, or missing indices (how many, the first few).
MergeReport merge_shards(const std::filesystem::path& out, const std::vector<std::filesystem::path>& inputs,
                         std::optional<int64_t> expected = std::nullopt);

}  // namespace gpt2
