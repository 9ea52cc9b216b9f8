#include "gpt2/trainer.hpp"

#include <torch/torch.h>

#include "gpt2/errors.hpp"
#include "gpt2/generate.hpp"
#include "gpt2/model.hpp"

namespace gpt2 {

StepResult train_step(TrainableGPT2Impl& model, AdamW& opt, const std::vector<uint16_t>& train,
                      const WindowSampler& sampler, int64_t step, double lr, const TrainStepSettings& s) {
  StepResult r;
  opt.zero_grad();
  for (int64_t k = 0; k < s.accumulate; ++k) {
    auto [x, y] = sample_batch(train, sampler, step, k, s.batch);  // [B, T], [B, T]
    torch::Tensor loss = lm_loss(model.forward(x), y);              // scalar
    (loss / static_cast<double>(s.accumulate)).backward();
    r.loss += loss.item<double>() / static_cast<double>(s.accumulate);
    r.tokens += x.numel();
  }
  r.grad_norm = clip_grad_norm(model.params(), s.clip);
  opt.step(lr);
  return r;
}

double eval_loss(TrainableGPT2Impl& model, const std::vector<uint16_t>& tokens, int64_t window) {
  const auto n = static_cast<int64_t>(tokens.size());
  if (n < 2) throw UsageError("validation needs at least 2 tokens");
  torch::NoGradGuard no_grad;
  double sum = 0;
  int64_t count = 0;
  for (int64_t o = 0; o + 1 < n; o += window) {
    const int64_t T = std::min(window, n - 1 - o);
    torch::Tensor x = torch::empty({1, T}, torch::kInt64), y = torch::empty({1, T}, torch::kInt64);
    auto xa = x.accessor<int64_t, 2>();
    auto ya = y.accessor<int64_t, 2>();
    for (int64_t t = 0; t < T; ++t) {
      xa[0][t] = tokens[static_cast<size_t>(o + t)];
      ya[0][t] = tokens[static_cast<size_t>(o + t + 1)];
    }
    sum += lm_loss(model.forward(x), y).item<double>() * static_cast<double>(T);
    count += T;
  }
  return sum / static_cast<double>(count);
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
