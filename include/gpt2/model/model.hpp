// The GPT-2 language model as a libtorch module, built from loaded weights.
//
// token + position embeddings -> n_layer x [LayerNorm -> causal self-attention
// -> residual -> LayerNorm -> MLP (4C, tanh GELU) -> residual] -> LayerNorm ->
// logits through the output projection tied to wte. Every weight product goes
// through gpt2::ops; forward passes run under torch::InferenceMode.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

#include "gpt2/base/hparams.hpp"
#include "gpt2/model/kv_cache.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2 {

// Projections already in the kernels' layout (a weight cache), by name:
// "h.<i>.attn", "h.<i>.attn_proj", "h.<i>.fc", "h.<i>.mlp_proj", "lm_head".
using PackedWeights = std::map<std::string, ops::Packed>;

struct ModelOptions {
  ops::WeightType weight_type = ops::WeightType::kFloat32;  // how projections are stored
  torch::Device device = torch::kCPU;                        // where weights and activations live
  // How the KV cache stores keys and values: float32, or float16 (half the bytes
  // that each decode step reads at a long context; rounding 2^-11 relative).
  torch::ScalarType kv_cache_type = torch::kFloat32;
  // bfloat16/int8/int4 on the CPU: use these instead of converting the float32
  // projection weights (which are then never read). Must hold every projection.
  const PackedWeights* packed = nullptr;
  std::vector<std::shared_ptr<const void>> packed_storage;  // keeps the packed tensors' memory alive
};

// "float32" or "float16" -> the KV cache's element type; UsageError naming
// --kv-cache otherwise.
torch::ScalarType parse_kv_cache_type(const std::string& name);
std::string kv_cache_type_name(torch::ScalarType type);

// "auto" (cuda when available, else cpu), "cpu" or "cuda"/"cuda:N". Throws
// UsageError for another name, or for cuda when this build/machine has no GPU.
torch::Device resolve_device(const std::string& name);

class GPT2Impl : public torch::nn::Module {
 public:
  static constexpr double kLayerNormEps = 1e-5;  // GPT-2's LayerNorm epsilon

  // Takes the weights over (moved in: float32 weights on the CPU are used in
  // place, e.g. straight from the memory-mapped checkpoint). Throws FormatError
  // if a tensor's shape disagrees with weights.hp.
  explicit GPT2Impl(ModelWeights weights, const ModelOptions& options = {});

  const HParams& hparams() const { return hp_; }
  torch::Device device() const { return options_.device; }
  ops::WeightType weight_type() const { return options_.weight_type; }
  torch::ScalarType kv_cache_type() const { return options_.kv_cache_type; }

  // Incremental forward. ids: [B, T] int64, every row the same length, B equal
  // to cache.batch(). Attends to the cache's first cache.length() positions,
  // writes this call's keys/values at [length, length + T) and advances it.
  // Returns logits [B, T, V], or [B, V] for the last position only when
  // last_only (the output projection is then computed for that position only).
  // Throws UsageError for bad shapes, ids outside the vocabulary, or a full cache.
  torch::Tensor forward(const torch::Tensor& ids, KVCache& cache, bool last_only);

  // Full forward without a cache, positions 0..T-1: ids [B, T] -> logits [B, T, V].
  // The same as head_logits(forward_hidden(ids) as [B*T, C]) viewed as [B, T, V].
  torch::Tensor forward(const torch::Tensor& ids);

  // forward(ids) in two steps, for callers that need the logits of some positions
  // only (scoring): the last block's output, ids [B, T] -> [B, T, C] (positions
  // 0..T-1, no cache; UsageError for bad ids), then the output head (final layer
  // norm and the projection tied to wte) of any of its rows: [N, C] -> logits [N, V].
  torch::Tensor forward_hidden(const torch::Tensor& ids);
  torch::Tensor head_logits(const torch::Tensor& x);
  // head_logits into a preallocated out [N, V] float32 contiguous (on the model's device).
  void head_logits_into(const torch::Tensor& x, torch::Tensor& out);

  // forward_hidden of several sequences of different lengths in one pass, packed
  // without padding: ids [N] int64, the sequences one after another, `lengths`
  // (each >= 1, at most n_ctx) summing to N. Each sequence has positions 0..len-1
  // and attends to itself only -> [N, C], the rows of forward_hidden(sequence)
  // for each. On the CPU in float32 the attention is the packed causal kernel
  // (kernels/attention.hpp: a sequence's numbers do not depend on its
  // neighbours); elsewhere libtorch's ops per sequence. UsageError for bad ids
  // or lengths.
  torch::Tensor forward_hidden_packed(const torch::Tensor& ids, const std::vector<int64_t>& lengths);

  // An empty cache for `batch` rows and `capacity` positions (0: n_ctx), on the
  // model's device, of ModelOptions::kv_cache_type.
  KVCache make_cache(int64_t batch, int64_t capacity = 0) const;

  // Whether forward(ids, cache, true) takes the fused decode step
  // (decode_step.cpp): one new position per row, at most ops::kMaxKernelRows
  // rows (float32) or ops::kMaxChunkedRows (reduced precisions), CPU kernels
  // for the weight type.
  bool can_decode_step(int64_t rows, int64_t positions) const;

  // Every projection's stored weights (bfloat16/int8/int4), for a weight cache.
  PackedWeights packed_weights() const;

  // One new token for each of B rows whose caches are separate and of any
  // lengths (continuous batching: each row is one request at its own position).
  // caches[b]: batch 1, row b's token is written at caches[b]->length(), which
  // then advances by one. -> logits [B, V]. Runs the fused decode step in groups
  // of ops::kMaxKernelRows rows where it can (a row's numbers do not depend on
  // the other rows), else one libtorch pass per row. UsageError for a bad id,
  // a full cache or a cache of another batch.
  torch::Tensor decode_rows(const std::vector<int64_t>& ids, const std::vector<KVCache*>& caches);

 private:
  struct Block {
    torch::Tensor ln_1_g, ln_1_b;  // [C], [C]
    ops::Projection attn;              // C -> 3C
    ops::Projection attn_proj;         // C -> C
    torch::Tensor ln_2_g, ln_2_b;  // [C], [C]
    ops::Projection fc;                // C -> 4C
    ops::Projection mlp_proj;          // 4C -> C
  };

  void check_ids(const torch::Tensor& ids, int64_t past, int64_t capacity) const;
  // x: [B, T, C] -> [B, T, C]; K/V come from the cache when given, else from this pass.
  torch::Tensor run_blocks(torch::Tensor x, KVCache* cache, int64_t past) const;
  // x: [N, C] packed sequences of `lengths` -> [N, C] (forward_hidden_packed).
  torch::Tensor run_blocks_packed(torch::Tensor x, const std::vector<int64_t>& lengths) const;
  // x: [N, C] -> logits [N, V]
  torch::Tensor head(const torch::Tensor& x) const;
  // The fused batch-1..16 decode step on raw buffers: ids [B] (one new token
  // per row) -> logits [B, V]; writes the cache and advances it by one.
  torch::Tensor decode_step(const int64_t* ids, int64_t rows, KVCache& cache) const;
  // The step itself: row b of the batch is row `row` of `*cache`, at that cache's
  // length (not advanced here).
  struct StepRow {
    KVCache* cache = nullptr;
    int64_t row = 0;
  };
  torch::Tensor decode_step_rows(const int64_t* ids, const std::vector<StepRow>& rows) const;

  HParams hp_;
  ModelOptions options_;
  torch::Tensor wte_;  // [V, C]
  torch::Tensor wpe_;  // [n_ctx, C]
  std::vector<Block> blocks_;
  torch::Tensor ln_f_g_, ln_f_b_;  // [C], [C]
  ops::Projection lm_head_;      // C -> V, tied to wte
  std::vector<std::shared_ptr<const void>> storage_;  // keeps memory-mapped weights alive
  bool raw_ok_ = false;  // every tensor decode_step reads is contiguous float32 in CPU memory
};

TORCH_MODULE(GPT2);

}  // namespace gpt2
