// Many samples of many prompts, batched: the work list of dataset-scale
// generation. Each job is one sample with its global id; jobs are run in
// batches of up to `batch_size` rows whose prompts have the same number of
// tokens (length buckets, filled in id order), so rows of different prompts
// share batches. A sample's text never depends on its batch (see generate.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "gpt2/generate/generate.hpp"

namespace gpt2 {

struct SampleJob {
  uint64_t id = 0;            // global sample index: its random stream is SampleRng(seed, id)
  int64_t prompt_index = 0;   // which prompt (position in the prompt list)
  std::vector<TokenId> prompt;
  // The prompt's own settings, if any. With its own seed, the stream is
  // SampleRng(own seed, sample_in_prompt), as a run of that prompt alone draws.
  std::shared_ptr<const RowSettings> settings;
  uint64_t sample_in_prompt = 0;  // k: this is the prompt's k-th sample (0-based)
};

// Called after each batch with its jobs and their rows (rows[i] is jobs[i]'s).
using BatchDone = std::function<void(const std::vector<const SampleJob*>& jobs, const GenerateResult& result)>;

// Runs every job. Returns false when `should_stop` ended it early (rows cut
// short come back as FinishReason::kInterrupted; later batches are not run).
bool run_sample_jobs(GPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                     const std::vector<SampleJob>& jobs, int64_t batch_size, const GenerateOptions& options,
                     const BatchDone& on_batch, const std::function<bool()>& should_stop = {});

}  // namespace gpt2
