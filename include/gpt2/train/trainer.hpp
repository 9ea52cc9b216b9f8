// The training step and what runs beside it: one optimizer step (micro-batches,
// backward, gradient clipping, AdamW), the validation loss and a sample.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gpt2/train/adamw.hpp"
#include "gpt2/train/distributed.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/train/train_data.hpp"
#include "gpt2/train/trainable_model.hpp"

namespace gpt2 {

struct TrainStepSettings {
  int64_t batch = 1;        // windows per micro-batch
  int64_t accumulate = 1;   // micro-batches per optimizer step
  double clip = 1.0;        // gradient-norm clipping (<= 0: off)
};

struct StepResult {
  double loss = 0;       // mean over the step's micro-batches
  double grad_norm = 0;  // before clipping
  int64_t tokens = 0;    // input tokens processed
};

// Optimizer step `step` (0-based) with learning rate `lr`: the loss of each
// micro-batch k (windows sample_batch(train, sampler, step, k, batch)) divided
// by `accumulate` is back-propagated, the summed gradients are clipped and
// AdamW updates the parameters. With `dp` (data-parallel), this rank trains rows
// [rank*batch, (rank+1)*batch) of each micro-batch, the gradients are averaged
// over the ranks before clipping (the global norm) and the loss and tokens are
// the whole world's.
StepResult train_step(TrainableGPT2Impl& model, AdamW& opt, const std::vector<uint16_t>& train,
                      const WindowSampler& sampler, int64_t step, double lr, const TrainStepSettings& s,
                      DataParallel* dp = nullptr);

// The validation loss: `gpt2 score`'s mean negative log-likelihood (nats) of
// `tokens` (score_tokens, windows of `window` <= n_ctx, stride window/2) on an
// inference model built from the current weights. Requires >= 2 tokens.
double eval_loss(TrainableGPT2Impl& model, const std::vector<uint16_t>& tokens, int64_t window);

// A sample of `length` tokens from <|endoftext|> (top-k 40, seeded) by the
// inference model built from the current weights.
std::string sample_text(const TrainableGPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                        int64_t length, uint64_t seed);

}  // namespace gpt2
