// The fused decode step: one new position for each of B rows (up to
// ops::kMaxKernelRows, or ops::kMaxChunkedRows for reduced precisions), on raw
// float32 buffers. The same arithmetic as run_blocks() + head()
// for T = 1, without libtorch's dispatch, allocation or OpenMP in the per-token
// loop: LayerNorm, attention over the cache, GELU and residual adds are the
// project's own AVX-512 code (step_kernels.hpp), every projection is one
// ops::Projection::forward_rows call (one pool run), and the attention of all
// (row, head) pairs is one more pool run per layer. Each row's arithmetic does
// not depend on the other rows, so a row's logits are the same in any batch.
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/kernels/ops.hpp"
#include "gpt2/kernels/step_kernels.hpp"
#include "gpt2/kernels/work_pool.hpp"

namespace gpt2 {

namespace {

// Below this many key/value bytes per layer, attention stays on the calling thread.
constexpr int64_t kMinParallelAttentionBytes = 256 * 1024;

// The step's activations, reused across steps (grown, never shrunk).
struct StepBuffers {
  std::vector<float> x, h, qkv, att, m;  // [B, C], [B, C], [B, 3C], [B, C], [B, 4C]
  void reserve(int64_t B, int64_t C) {
    auto fit = [](std::vector<float>& v, int64_t n) {
      if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    };
    fit(x, B * C);
    fit(h, B * C);
    fit(qkv, B * 3 * C);
    fit(att, B * C);
    fit(m, B * 4 * C);
  }
};

float* scores_scratch(int64_t s) {
  thread_local std::vector<float> scores;
  if (static_cast<int64_t>(scores.size()) < s) scores.resize(static_cast<size_t>(s));
  return scores.data();
}

}  // namespace

bool GPT2Impl::can_decode_step(int64_t rows, int64_t positions) const {
  const int64_t max_rows =
      options_.weight_type == ops::WeightType::kFloat32 ? ops::kMaxKernelRows : ops::kMaxChunkedRows;
  return positions == 1 && rows <= max_rows && raw_ok_ && options_.device.is_cpu() &&
         ops::kernels_active(options_.weight_type);
}

torch::Tensor GPT2Impl::decode_step(const int64_t* ids, int64_t B, KVCache& cache) const {
  std::vector<StepRow> rows(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) rows[static_cast<size_t>(b)] = {&cache, b};
  torch::Tensor logits = decode_step_rows(ids, rows);
  cache.advance(1);
  return logits;
}

torch::Tensor GPT2Impl::decode_rows(const std::vector<int64_t>& ids, const std::vector<KVCache*>& caches) {
  c10::InferenceMode guard;
  const int64_t B = static_cast<int64_t>(ids.size());
  if (B < 1 || caches.size() != ids.size())
    throw UsageError("decode_rows: " + std::to_string(ids.size()) + " ids for " + std::to_string(caches.size()) +
                     " caches");
  for (int64_t b = 0; b < B; ++b) {
    KVCache* c = caches[static_cast<size_t>(b)];
    if (c == nullptr || c->empty() || c->batch() != 1)
      throw UsageError("decode_rows: row " + std::to_string(b) + " needs an allocated cache of batch 1");
    check_ids(torch::tensor({ids[static_cast<size_t>(b)]}, torch::kInt64).view({1, 1}), c->length(), c->capacity());
  }
  std::vector<torch::Tensor> out;
  for (int64_t g = 0; g < B; g += ops::kMaxKernelRows) {  // groups the few-row kernels take whole
    const int64_t n = std::min(ops::kMaxKernelRows, B - g);
    if (can_decode_step(n, 1)) {
      ops::SerialLibtorchGuard serial;
      std::vector<StepRow> rows(static_cast<size_t>(n));
      for (int64_t b = 0; b < n; ++b) rows[static_cast<size_t>(b)] = {caches[static_cast<size_t>(g + b)], 0};
      out.push_back(decode_step_rows(ids.data() + g, rows));  // [n, V]
      for (const StepRow& r : rows) r.cache->advance(1);
    } else {  // no fused step here (device, CPU or layout): one libtorch pass per row
      for (int64_t b = g; b < g + n; ++b)
        out.push_back(forward(torch::tensor({ids[static_cast<size_t>(b)]}, torch::kInt64).view({1, 1}),
                              *caches[static_cast<size_t>(b)], true));  // [1, V]
    }
  }
  return out.size() == 1 ? out[0] : torch::cat(out);  // [B, V]
}

torch::Tensor GPT2Impl::decode_step_rows(const int64_t* ids, const std::vector<StepRow>& rows) const {
  const int64_t B = static_cast<int64_t>(rows.size());
  const int64_t C = hp_.n_embd, H = hp_.n_head, D = hp_.head_dim(), V = hp_.n_vocab;
  // Row b writes its new position at past(b) of its cache row and attends over past(b) + 1 positions.
  auto past = [&](int64_t b) { return rows[static_cast<size_t>(b)].cache->length(); };
  auto cap = [&](int64_t b) { return rows[static_cast<size_t>(b)].cache->capacity(); };
  // Element offset of (row b, head hd, position 0) in its cache's [batch, H, cap, D] storage.
  auto base = [&](int64_t b, int64_t hd) { return (rows[static_cast<size_t>(b)].row * H + hd) * cap(b) * D; };
  int64_t S = 1;
  for (int64_t b = 0; b < B; ++b) S = std::max(S, past(b) + 1);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(D)));
  const float eps = static_cast<float>(kLayerNormEps);
  thread_local StepBuffers buf;
  buf.reserve(B, C);
  float *x = buf.x.data(), *h = buf.h.data(), *qkv = buf.qkv.data(), *att = buf.att.data(), *m = buf.m.data();

  // x = wte[id] + wpe[past]                                                      // [B, C]
  const float* wte = wte_.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    std::memcpy(x + b * C, wte + ids[b] * C, static_cast<size_t>(C) * sizeof(float));
    step::add(x + b * C, wpe_.data_ptr<float>() + past(b) * C, C);
  }
  const bool half_cache = rows.front().cache->dtype() == torch::kFloat16;
  const int threads = ops::kernel_threads();
  const bool parallel_attention = threads > 1 && B * H > 1 && 2 * B * S * C * (half_cache ? 2 : 4) >= kMinParallelAttentionBytes;

  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& blk = blocks_[l];
    // --- attention ---
    step::layer_norm(x, B, C, blk.ln_1_g.data_ptr<float>(), blk.ln_1_b.data_ptr<float>(), eps, h);  // [B, C]
    blk.attn.forward_rows(h, B, qkv);                                                                  // [B, 3C]
    // The cache: [B, H, cap, D] float32 or float16 keys and values.
    for (int64_t b = 0; b < B; ++b)
      for (int64_t hd = 0; hd < H; ++hd) {
        void* K = rows[static_cast<size_t>(b)].cache->key_data(static_cast<int64_t>(l));
        void* Vc = rows[static_cast<size_t>(b)].cache->value_data(static_cast<int64_t>(l));
        const int64_t at = base(b, hd) + past(b) * D;
        const float* k_new = qkv + b * 3 * C + C + hd * D;
        const float* v_new = qkv + b * 3 * C + 2 * C + hd * D;
        if (half_cache) {
          step::to_half(k_new, D, static_cast<uint16_t*>(K) + at);
          step::to_half(v_new, D, static_cast<uint16_t*>(Vc) + at);
        } else {
          std::memcpy(static_cast<float*>(K) + at, k_new, static_cast<size_t>(D) * sizeof(float));
          std::memcpy(static_cast<float*>(Vc) + at, v_new, static_cast<size_t>(D) * sizeof(float));
        }
      }
    auto head_task = [&](int64_t t) {  // t = b * H + head
      const int64_t b = t / H, hd = t % H;
      const int64_t at = base(b, hd), s = past(b) + 1;
      const void* K = rows[static_cast<size_t>(b)].cache->key_data(static_cast<int64_t>(l));
      const void* Vc = rows[static_cast<size_t>(b)].cache->value_data(static_cast<int64_t>(l));
      const float* q = qkv + b * 3 * C + hd * D;
      if (half_cache)
        step::attend(q, static_cast<const uint16_t*>(K) + at, static_cast<const uint16_t*>(Vc) + at, s, D, scale,
                     scores_scratch(s), att + b * C + hd * D);
      else
        step::attend(q, static_cast<const float*>(K) + at, static_cast<const float*>(Vc) + at, s, D, scale,
                     scores_scratch(s), att + b * C + hd * D);
    };
    if (parallel_attention) {
      const std::function<void(int64_t)> fn = [&head_task](int64_t t) { head_task(t); };  // no allocation
      ops::WorkPool::instance().run(B * H, threads, fn);
    } else {
      for (int64_t t = 0; t < B * H; ++t) head_task(t);
    }
    blk.attn_proj.forward_rows(att, B, h);  // [B, C]
    step::add(x, h, B * C);
    // --- MLP ---
    step::layer_norm(x, B, C, blk.ln_2_g.data_ptr<float>(), blk.ln_2_b.data_ptr<float>(), eps, h);  // [B, C]
    blk.fc.forward_rows(h, B, m);                                                                      // [B, 4C]
    step::gelu_tanh(m, B * 4 * C);
    blk.mlp_proj.forward_rows(m, B, h);  // [B, C]
    step::add(x, h, B * C);
  }
  step::layer_norm(x, B, C, ln_f_g_.data_ptr<float>(), ln_f_b_.data_ptr<float>(), eps, h);  // [B, C]
  torch::Tensor logits = torch::empty({B, V}, torch::kFloat32);                             // [B, V]
  lm_head_.forward_rows(h, B, logits.data_ptr<float>());
  return logits;
}

}  // namespace gpt2
