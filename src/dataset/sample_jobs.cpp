#include "gpt2/dataset/sample_jobs.hpp"

#include <algorithm>
#include <map>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

bool run_sample_jobs(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                     const std::vector<SampleJob>& jobs, int64_t batch_size, const GenerateOptions& options,
                     const BatchDone& on_batch, const std::function<bool()>& should_stop) {
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1, got " + std::to_string(batch_size));
  bool stopped = false;
  auto run = [&](const std::vector<const SampleJob*>& batch) {
    if (stopped || batch.empty()) return;
    if (should_stop && should_stop()) {
      stopped = true;
      return;
    }
    std::vector<RowRequest> rows;
    for (const SampleJob* j : batch)
      rows.push_back({j->prompt, j->settings && j->settings->seed ? j->sample_in_prompt : j->id, j->settings});
    GenerateCallbacks cb;
    cb.should_stop = should_stop;
    const GenerateResult r = generate_rows(model, tokenizer, rows, options, cb);
    for (const GeneratedRow& row : r.rows) stopped |= row.finish == FinishReason::kInterrupted;
    on_batch(batch, r);
  };
  // Buckets by prompt length, each flushed when full; the rest in order of their first id.
  std::map<size_t, std::vector<const SampleJob*>> buckets;
  for (const SampleJob& j : jobs) {
    auto& b = buckets[j.prompt.size()];
    b.push_back(&j);
    if (static_cast<int64_t>(b.size()) == batch_size) {
      run(b);
      b.clear();
    }
  }
  std::vector<std::vector<const SampleJob*>> rest;
  for (auto& [len, b] : buckets)
    if (!b.empty()) rest.push_back(std::move(b));
  std::sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.front()->id < b.front()->id; });
  for (const auto& b : rest) run(b);
  return !stopped;
}

}  // namespace gpt2
