#include "gpt2/train/train_memory.hpp"

#include "gpt2/base/format.hpp"

#include <fstream>
#include <sstream>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"

namespace gpt2 {

TrainingMemory estimate_training_memory(const HParams& hp, int64_t batch, int64_t seq) {
  const int64_t P = hp.num_parameters(), f = 4;
  TrainingMemory m;
  m.weights = P * f;
  m.gradients = P * f;
  m.optimizer = 2 * P * f;
  m.sampling = P * f;
  m.runtime = int64_t{512} << 20;  // measured: a 124M run at seq 256 peaks ~0.3 GiB above the other terms
  const int64_t N = batch * seq, C = hp.n_embd, H = hp.n_head;
  // Per layer, what autograd saves: LayerNorm inputs/outputs and statistics, qkv (3C),
  // attention output and its projection (2C), MLP input, fc output and GELU (2 x 4C),
  // residuals: about 20 C per token; attention scores, mask fill and softmax: 3 H T^2.
  const int64_t per_layer = N * 20 * C + batch * H * seq * seq * 3;
  // Embedding sum, final LayerNorm, logits, their log-softmax and gradient: 3 V per token.
  m.activations = f * (hp.n_layer * per_layer + N * 4 * C + N * 3 * hp.n_vocab);
  return m;
}

std::string TrainingMemory::describe(int64_t batch, int64_t seq) const {
  std::ostringstream s;
  s << format_bytes(total()) << " (weights " << format_bytes(weights) << " + gradients " << format_bytes(gradients)
    << " + AdamW moments " << format_bytes(optimizer) << " + activations " << format_bytes(activations)
    << " for batch " << batch << " x seq " << seq << " + sampling copy " << format_bytes(sampling) << " + runtime "
    << format_bytes(runtime) << ")";
  return s.str();
}

int64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (f >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return -1;
}

void check_training_memory(const TrainingMemory& need, int64_t limit, int64_t batch, int64_t seq) {
  if (limit <= 0 || need.total() <= limit) return;
  std::ostringstream s;
  s << "training needs about " << need.describe(batch, seq) << ", more than the " << format_bytes(limit)
    << " available; try a smaller --seq (e.g. " << std::max<int64_t>(1, seq / 2) << ")";
  if (batch > 1) s << " or --batch " << std::max<int64_t>(1, batch / 2) << " with --accumulate " << 2
                   << " (the same tokens per step in smaller micro-batches)";
  s << ", or a smaller model";
  throw UsageError(s.str());
}

}  // namespace gpt2
