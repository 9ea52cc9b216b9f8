#include "gpt2/score/score_summary.hpp"

#include <cmath>
#include <fstream>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {

const char* const kBucketKeys[4] = {"10", "100", "1000", "rest"};

const nlohmann::json& field(const nlohmann::json& j, const char* key, const std::string& where) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number())
    throw FormatError(where + ": the record has no number \"" + std::string(key) + "\" (not a gpt2 score record)");
  return *it;
}

}  // namespace

ScoredRecord scored_record_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": not a JSON object");
  ScoredRecord r;
  r.tokens = field(j, "tokens_scored", where).get<int64_t>();
  r.bytes = field(j, "bytes", where).get<int64_t>();
  r.nll = field(j, "nll", where).get<double>();
  r.perplexity = field(j, "perplexity", where).get<double>();
  r.mean_log_rank = field(j, "mean_log_rank", where).get<double>();
  const auto b = j.find("buckets");
  if (b == j.end() || !b->is_object()) throw FormatError(where + ": the record has no \"buckets\" object");
  for (int i = 0; i < 4; ++i) {
    const double f = field(*b, kBucketKeys[i], where).get<double>();
    // The fraction is count / tokens in double: times tokens it rounds back to the count.
    r.buckets[static_cast<size_t>(i)] = std::llround(f * static_cast<double>(r.tokens));
  }
  return r;
}

double CorpusSummary::mean_nll() const { return tokens ? nll / static_cast<double>(tokens) : 0.0; }
double CorpusSummary::perplexity() const { return std::exp(mean_nll()); }
double CorpusSummary::bits_per_byte() const {
  return bytes ? nll / std::log(2.0) / static_cast<double>(bytes) : 0.0;
}
double CorpusSummary::mean_log_rank() const { return tokens ? log_rank_sum / static_cast<double>(tokens) : 0.0; }
double CorpusSummary::bucket_share(int b) const {
  return tokens ? static_cast<double>(buckets[static_cast<size_t>(b)]) / static_cast<double>(tokens) : 0.0;
}

int CorpusSummary::bin_of(double perplexity) {
  if (!(perplexity > 1.0)) return 0;  // NaN and values below 1 (impossible for a perplexity) go first
  const double b = std::floor(std::log10(perplexity) * kSummaryBinsPerDecade);
  return b >= kSummaryBins - 1 ? kSummaryBins - 1 : static_cast<int>(b);
}

double CorpusSummary::bin_lower(int bin) {
  return std::pow(10.0, static_cast<double>(bin) / kSummaryBinsPerDecade);
}

nlohmann::json CorpusSummary::to_json() const {
  nlohmann::json hist = nlohmann::json::array();
  for (int i = 0; i < kSummaryBins; ++i) {
    if (histogram[static_cast<size_t>(i)] == 0) continue;
    nlohmann::json bin = {{"from", bin_lower(i)}, {"documents", histogram[static_cast<size_t>(i)]}};
    bin["to"] = i + 1 < kSummaryBins ? nlohmann::json(bin_lower(i + 1)) : nlohmann::json(nullptr);
    hist.push_back(std::move(bin));
  }
  nlohmann::json shares;
  for (int b = 0; b < 4; ++b) shares[kBucketKeys[b]] = bucket_share(b);
  return {{"documents", documents},     {"tokens_scored", tokens},     {"bytes", bytes},
          {"nll", nll},                 {"mean_nll", mean_nll()},      {"perplexity", perplexity()},
          {"bits_per_byte", bits_per_byte()}, {"mean_log_rank", mean_log_rank()},
          {"buckets", shares},          {"perplexity_histogram", hist}};
}

void SummaryBuilder::add(int64_t index, const ScoredRecord& r, const std::string& where) {
  if (!records_.emplace(index, r).second)
    throw FormatError(where + ": record " + std::to_string(index) + " appears twice");
}

void SummaryBuilder::add_line(const std::string& line, const std::string& where) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded()) throw FormatError(where + ": not a JSON record");
  const auto k = j.is_object() ? j.find("record") : j.end();
  if (k == j.end() || !k->is_number_unsigned())
    throw FormatError(where + ": the record has no non-negative integer \"record\" (not a gpt2 score --jsonl record)");
  add(k->get<int64_t>(), scored_record_from_json(j, where), where);
}

CorpusSummary SummaryBuilder::summary() const {
  CorpusSummary s;
  for (const auto& [index, r] : records_) {  // in index order: the same sums however the records arrived
    ++s.documents;
    s.tokens += r.tokens;
    s.bytes += r.bytes;
    s.nll += r.nll;
    s.log_rank_sum += r.mean_log_rank * static_cast<double>(r.tokens);
    for (size_t b = 0; b < 4; ++b) s.buckets[b] += r.buckets[b];
    ++s.histogram[static_cast<size_t>(CorpusSummary::bin_of(r.perplexity))];
  }
  return s;
}

CorpusSummary summarize_score_files(const std::vector<std::filesystem::path>& files) {
  SummaryBuilder b;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw IoError("cannot open " + f.string());
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      b.add_line(line, f.string() + " line " + std::to_string(n));
    }
    if (in.bad()) throw IoError("cannot read " + f.string());
  }
  return b.summary();
}

}  // namespace gpt2
