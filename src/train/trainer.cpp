#include "gpt2/train/trainer.hpp"

#include <torch/types.h>

#include "gpt2/base/errors.hpp"
#include "gpt2/score/score.hpp"
#include "gpt2/generate/generate.hpp"
#include "gpt2/model/model.hpp"

namespace gpt2 {

StepResult train_step(TrainableGPT2Impl& model, AdamW& opt, const std::vector<uint16_t>& train,
                      const WindowSampler& sampler, int64_t step, double lr, const TrainStepSettings& s,
                      DataParallel* dp) {
  StepResult r;
  opt.zero_grad();
  const int64_t first_row = dp != nullptr ? dp->rank() * s.batch : 0;
  for (int64_t k = 0; k < s.accumulate; ++k) {
    auto [x, y] = sample_batch(train, sampler, step, k, s.batch, first_row);  // [B, T], [B, T]
    torch::Tensor loss = lm_loss(model.forward(x), y);              // scalar
    (loss / static_cast<double>(s.accumulate)).backward();
    r.loss += loss.item<double>() / static_cast<double>(s.accumulate);
    r.tokens += x.numel();
  }
  if (dp != nullptr) {
    dp->average_gradients(model.params(), step);  // every rank now holds the global batch's gradients
    r.loss = dp->sum({r.loss}, step)[0] / dp->world_size();
    r.tokens *= dp->world_size();
  }
  r.grad_norm = clip_grad_norm(model.params(), s.clip);
  opt.step(lr);
  return r;
}

// Validation loss: exactly `gpt2 score`'s computation (gpt2/score.hpp: the
// Hugging Face window rule with stride window/2) on an inference model built
// from the current weights; the mean NLL of the scored tokens.
double eval_loss(TrainableGPT2Impl& model, const std::vector<uint16_t>& tokens, int64_t window) {
  if (tokens.size() < 2) throw UsageError("validation needs at least 2 tokens");
  ModelOptions mo;
  mo.device = model.device();
  GPT2 infer(model.to_weights(), mo);
  const std::vector<TokenId> ids(tokens.begin(), tokens.end());
  return score_tokens(*infer, ids, std::min(window, model.hparams().n_ctx)).totals.mean_nll();
}

std::string sample_text(const TrainableGPT2Impl& model, const std::shared_ptr<const Tokenizer>& tokenizer,
                        int64_t length, uint64_t seed) {
  ModelOptions mo;
  mo.device = model.device();
  GPT2 infer(model.to_weights(), mo);
  GenerateOptions g;
  g.length = std::min(length, model.hparams().n_ctx);
  g.sampling.top_k = 40;
  g.seed = seed;
  return generate(*infer, tokenizer, {tokenizer->eot_id()}, 1, g).rows[0].text;
}

}  // namespace gpt2
