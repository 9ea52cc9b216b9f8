// A finetuning run directory: a complete model directory (save_model_dir:
// model.safetensors, config.json, hparams.json, encoder.json, vocab.bpe) plus
//   optimizer.safetensors   AdamW moments (exp_avg.<HF name>, exp_avg_sq.<HF name>)
//   training_state.json     step, settings, seed, base model identity, loss history
//                           (written last: the completeness marker)
//   tokens.bin, tokens.json the token cache (gpt2/train_data.hpp)
//   loss.svg                the loss curve
//
// Saved as a whole, atomically: everything is written into <run>.new/, then
// <run> -> <run>.old, <run>.new -> <run>, fsync of the parent, <run>.old removed.
// recover_run_dir() finishes or undoes a save a crash interrupted, so a kill at
// any moment leaves the previous complete checkpoint or the new one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "gpt2/train/adamw.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/train/train_data.hpp"
#include "gpt2/train/trainable_model.hpp"

namespace gpt2 {

constexpr const char* kTrainingStateFile = "training_state.json";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kLossCurveFile = "loss.svg";
constexpr const char* kRunTool = "gpt2 finetune";

// One logged optimizer step (val_loss < 0 when not evaluated at that step).
struct LossPoint {
  int64_t step = 0;
  double loss = 0;
  double val_loss = -1;
  double lr = 0;
  double tokens_per_s = 0;
  double elapsed_s = 0;
};

struct RunState {
  int64_t step = 0;           // optimizer steps done
  uint64_t seed = 0;          // the window sampler's seed (its state: offsets are a function of seed and step)
  double elapsed_s = 0;       // training time over all sessions
  std::string settings_json;  // JSON object: the run's settings
  std::string base_json;      // JSON object: the base model's identity (dir, hparams, checkpoint file size/mtime)
  std::vector<LossPoint> history;
};

// Whether `dir` holds a complete run of this tool (its training_state.json names it).
bool is_run_dir(const std::filesystem::path& dir);
// FormatError for a damaged state file.
RunState read_run_state(const std::filesystem::path& dir);

// Restores AdamW's moments and step from optimizer.safetensors. FormatError on a mismatch.
void read_optimizer_state(const std::filesystem::path& dir, const TrainableGPT2Impl& model, AdamW& opt);

// Finishes an interrupted save of `run_dir` (see above) and removes leftovers.
void recover_run_dir(const std::filesystem::path& run_dir);

// Saves the run atomically as a whole. The token cache is hard-linked (or
// copied) from the current run directory when it is that of `tokens`, else
// written. On failure (e.g. disk full) <run>.new is removed and IoError says
// that the previous checkpoint (if any) is intact.
void save_run(const std::filesystem::path& run_dir, const TrainableGPT2Impl& model, const AdamW& opt,
              const Tokenizer& tokenizer, const RunState& state, const TokenStream& tokens);

}  // namespace gpt2
