// Corpus statistics of `gpt2 score --jsonl --format jsonl` records: documents,
// tokens, corpus perplexity and bits per byte, mean log-rank, the GLTR rank
// bucket shares and a histogram of per-document perplexity. Computed from the
// records themselves (the values a record carries round-trip exactly through
// JSON), in record-index order, so one process, a resumed run and the merge of
// shards give the same numbers bit for bit. Torch-free.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gpt2 {

// What the summary needs of one record.
struct ScoredRecord {
  int64_t tokens = 0;            // "tokens_scored"
  int64_t bytes = 0;             // "bytes"
  double nll = 0;                // "nll", nats
  double perplexity = 0;         // "perplexity"
  double mean_log_rank = 0;      // "mean_log_rank"
  std::array<int64_t, 4> buckets{};  // token counts per rank bucket (from "buckets" fractions x tokens)
};

// The record's values; FormatError naming `where` for a missing or mistyped field.
ScoredRecord scored_record_from_json(const nlohmann::json& record, const std::string& where);

// Per-document perplexity histogram bins: kBinsPerDecade bins per decade of
// perplexity from 1 to 10^kDecades, the last bin open-ended.
constexpr int kSummaryBinsPerDecade = 4;
constexpr int kSummaryDecades = 6;
constexpr int kSummaryBins = kSummaryBinsPerDecade * kSummaryDecades;

struct CorpusSummary {
  int64_t documents = 0, tokens = 0, bytes = 0;
  double nll = 0;            // sum over documents, nats
  double log_rank_sum = 0;   // sum over documents of mean_log_rank x tokens
  std::array<int64_t, 4> buckets{};
  std::array<int64_t, kSummaryBins> histogram{};  // documents per perplexity bin

  double mean_nll() const;        // nll / tokens
  double perplexity() const;      // exp(mean_nll): the corpus perplexity (token-weighted)
  double bits_per_byte() const;   // nll / ln 2 / bytes
  double mean_log_rank() const;   // log_rank_sum / tokens
  double bucket_share(int b) const;
  // Bin of a perplexity: floor(log10(p) x kSummaryBinsPerDecade), clamped to the bins.
  static int bin_of(double perplexity);
  static double bin_lower(int bin);  // 10^(bin / kSummaryBinsPerDecade)

  nlohmann::json to_json() const;
};

// Collects records by index and sums them in index order.
class SummaryBuilder {
 public:
  // FormatError naming `where` if the index was already added.
  void add(int64_t index, const ScoredRecord& r, const std::string& where);
  // Adds a record line ("record" index and the fields above).
  void add_line(const std::string& line, const std::string& where);
  CorpusSummary summary() const;

 private:
  std::map<int64_t, ScoredRecord> records_;
};

// The summary of score record files (each line one record with its "record" index).
CorpusSummary summarize_score_files(const std::vector<std::filesystem::path>& files);

}  // namespace gpt2
