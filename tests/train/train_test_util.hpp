// Helpers for the training tests.
#pragma once

#include <filesystem>
#include <string>

#include "gpt2/train/finetune.hpp"

namespace gpt2::test {

// A FinetuneObserver that records nothing.
struct QuietObserver : FinetuneObserver {};

// Options for a small, fast finetune of tests/data/tiny-ref on `data` into `run` (a path).
inline FinetuneOptions tiny_finetune(const std::filesystem::path& base, const std::filesystem::path& data,
                                     const std::filesystem::path& run, int64_t steps) {
  FinetuneOptions o;
  o.base.model = base.string();
  o.base.device = "cpu";
  o.base.threads = 1;
  o.data = {data.string()};
  o.run = run.string();
  o.steps = steps;
  o.seq = 16;
  o.batch = 2;
  o.accumulate = 2;
  o.lr = 1e-3;
  o.warmup = 1;
  o.schedule = LrSchedule::kCosine;
  o.weight_decay = 0.01;
  o.seed = 7;
  o.seed_given = true;
  o.eval_every = 2;
  o.sample_every = 0;
  o.save_every = 0;
  o.val_fraction = 0.1;
  return o;
}

inline std::string tiny_corpus() {
  std::string s;
  for (int i = 0; i < 20; ++i)
    s += "Document " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog, number " +
         std::to_string(i * 7) + ".\n<|endoftext|>";
  return s;
}

}  // namespace gpt2::test
