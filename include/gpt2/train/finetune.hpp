// `gpt2 finetune` as one library call: checks the run name and directories,
// resumes a run or starts one from a base model, loads (or tokenizes and
// caches) the data, checks memory, trains, evaluates, samples and checkpoints
// atomically (gpt2/run_dir.hpp), reporting through an observer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gpt2/train/adamw.hpp"
#include "gpt2/train/distributed.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/train/run_dir.hpp"

namespace gpt2 {

struct FinetuneOptions {
  ModelSpec base;                 // --model, --models-dir, --device, --threads (float32 only)
  std::vector<std::string> data;  // --data (files, directories of .txt, .jsonl)
  std::string run;                // --run NAME: <models_dir>/NAME, or a path when it holds a '/'
  bool overwrite = false;         // replace an existing directory that is not a run of this tool
  int64_t steps = 1000;           // the run's total optimizer steps
  int64_t seq = 0;                // window length (0: min(n_ctx, 1024))
  int64_t batch = 1;
  int64_t accumulate = 1;
  double lr = 1e-4;
  int64_t warmup = 0;
  LrSchedule schedule = LrSchedule::kConstant;
  double weight_decay = 0;
  double clip = 1.0;
  uint64_t seed = 0;
  bool seed_given = false;        // false: a new run picks a random seed (a resumed one keeps its own)
  double val_fraction = 0.05;
  int64_t eval_every = 100;       // 0: only at the end
  int64_t sample_every = 100;     // 0: never
  int64_t sample_length = 64;
  int64_t save_every = 500;       // 0: only at the end (and on interrupt)
  int64_t memory_limit = 0;       // bytes; 0: MemAvailable
  // Data-parallel: the launcher's environment (distributed_env()); world_size 1 runs alone.
  // --batch is per process; rank 0 alone prints, evaluates, samples and saves.
  DistributedEnv dist;
  int64_t dist_timeout_s = 60;    // --dist-timeout: another rank dead or stuck this long ends the run
};

struct FinetuneStart {
  std::filesystem::path run_dir, base_dir;
  bool resumed = false;
  int64_t start_step = 0, total_steps = 0;
  int64_t train_tokens = 0, val_tokens = 0, train_documents = 0, val_documents = 0;
  bool tokens_from_cache = false;
  int64_t window = 0;  // tokens per window
  uint64_t seed = 0;
  std::string memory;  // the estimate, described
  std::string device;
  int world_size = 1;   // data-parallel processes (the global batch is world_size x batch)
  std::string dist;     // DistributedEnv::describe(), empty alone
};

class FinetuneObserver {
 public:
  virtual ~FinetuneObserver() = default;
  virtual void started(const FinetuneStart& s) {}
  virtual void message(const std::string& line) {}
  virtual void step(const LossPoint& p, int64_t total_steps) {}  // after each optimizer step (val_loss set after an eval)
  virtual void sample(int64_t step, const std::string& text) {}
  virtual void saved(int64_t step, const std::filesystem::path& dir) {}
};

struct FinetuneResult {
  std::filesystem::path run_dir;
  int64_t start_step = 0, step = 0;
  bool interrupted = false;
  double loss = -1, val_loss = -1;  // last training loss, last validation loss (-1: none)
  int rank = 0;                     // data-parallel rank (only rank 0 reports)
  double allreduce_s = 0;           // data-parallel: seconds spent averaging gradients
};

// Throws UsageError (bad option, refused --run, --steps not above the saved
// step, too little memory), NotFoundError (missing base model or data),
// FormatError (bad data), IoError (unwritable models directory, failed save),
// DistributedError (another rank died, failed or stopped answering).
// `should_stop` is polled between steps: the run is then saved and returned
// with interrupted = true.
FinetuneResult finetune(const FinetuneOptions& o, FinetuneObserver& observer,
                        const std::function<bool()>& should_stop = {});

// The run directory --run names (no checks).
std::filesystem::path run_dir_for(const std::string& run, const std::filesystem::path& models_dir);

}  // namespace gpt2
