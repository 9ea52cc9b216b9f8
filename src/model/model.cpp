#include "gpt2/model/model.hpp"

#include "gpt2/base/format.hpp"

#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "gpt2/base/errors.hpp"
#include "gpt2/kernels/attention.hpp"

namespace gpt2 {

namespace {

// "[2, 5]", or "(undefined)" for an undefined tensor.
std::string shape_of(const torch::Tensor& t) {
  return t.defined() ? shape_string(t.sizes().vec()) : std::string("(undefined)");
}

// Moves a float32 tensor to `device` (no copy when it is already there).
torch::Tensor place(const torch::Tensor& t, torch::Device device) {
  return t.device() == device ? t : t.to(device);
}

}  // namespace

torch::ScalarType parse_kv_cache_type(const std::string& name) {
  if (name == "float32") return torch::kFloat32;
  if (name == "float16") return torch::kFloat16;
  throw UsageError("--kv-cache must be float32 or float16, got '" + name + "'");
}

std::string kv_cache_type_name(torch::ScalarType type) { return type == torch::kFloat16 ? "float16" : "float32"; }

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::kCPU;
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    torch::Device d = torch::kCPU;
    try {
      d = torch::Device(name);
    } catch (const std::exception&) {
      throw UsageError("bad --device '" + name + "' (valid: auto, cpu, cuda, cuda:N)");
    }
    if (!torch::cuda::is_available())
      throw UsageError("--device " + name +
                       " asked for, but this build of libtorch has no CUDA support or no GPU is "
                       "visible; use --device cpu");
    if (d.has_index() && d.index() >= static_cast<int>(torch::cuda::device_count()))
      throw UsageError("--device " + name + ": only " + std::to_string(torch::cuda::device_count()) +
                       " CUDA device(s) visible");
    return d;
  }
  throw UsageError("bad --device '" + name + "' (valid: auto, cpu, cuda, cuda:N)");
}

GPT2Impl::GPT2Impl(ModelWeights weights, const ModelOptions& options)
    : hp_(weights.hp), options_(options) {
  check_model_weights(weights);  // every shape, named by the registry

  const torch::Device dev = options_.device;
  const ops::WeightType wt = options_.weight_type;
  torch::NoGradGuard no_grad;
  wte_ = register_buffer("wte", place(weights.wte, dev));     // [V, C]
  wpe_ = register_buffer("wpe", place(weights.wpe, dev));     // [n_ctx, C]
  ln_f_g_ = register_buffer("ln_f_g", place(weights.ln_f_g, dev));  // [C]
  ln_f_b_ = register_buffer("ln_f_b", place(weights.ln_f_b, dev));  // [C]
  const PackedWeights* packed = options_.packed;
  if (packed != nullptr && (wt == ops::WeightType::kFloat32 || !dev.is_cpu()))
    throw UsageError("packed weights are for bfloat16, int8 and int4 models on the CPU");
  auto packed_of = [&](const std::string& name) -> const ops::Packed& {
    auto it = packed->find(name);
    if (it == packed->end()) throw FormatError("packed weights: " + name + " is missing");
    return it->second;
  };
  lm_head_ = packed ? ops::Projection::from_packed(wt, hp_.n_embd, hp_.n_vocab, packed_of("lm_head"))
                    : ops::Projection::rows(wte_, wt);

  blocks_.reserve(weights.blocks.size());
  for (size_t i = 0; i < weights.blocks.size(); ++i) {
    BlockWeights& bw = weights.blocks[i];
    const std::string n = "h" + std::to_string(i) + "_";
    Block b;
    b.ln_1_g = register_buffer(n + "ln_1_g", place(bw.ln_1_g, dev));
    b.ln_1_b = register_buffer(n + "ln_1_b", place(bw.ln_1_b, dev));
    b.ln_2_g = register_buffer(n + "ln_2_g", place(bw.ln_2_g, dev));
    b.ln_2_b = register_buffer(n + "ln_2_b", place(bw.ln_2_b, dev));
    auto linear = [&](const char* what, const torch::Tensor& w, const torch::Tensor& bias) {
      if (packed == nullptr) return ops::Projection::conv1d(place(w, dev), place(bias, dev), wt);
      return ops::Projection::from_packed(wt, w.size(0), w.size(1), packed_of("h." + std::to_string(i) + "." + what), bias);
    };
    b.attn = linear("attn", bw.attn_w, bw.attn_b);
    b.attn_proj = linear("attn_proj", bw.attn_proj_w, bw.attn_proj_b);
    b.fc = linear("fc", bw.fc_w, bw.fc_b);
    b.mlp_proj = linear("mlp_proj", bw.mlp_proj_w, bw.mlp_proj_b);
    blocks_.push_back(std::move(b));
    bw = BlockWeights{};  // drop our references to the source tensors (a no-op when used in place)
  }
  storage_ = std::move(weights.storage);
  storage_.insert(storage_.end(), options_.packed_storage.begin(), options_.packed_storage.end());
  options_.packed = nullptr;  // not owned: used during construction only
  options_.packed_storage.clear();
  auto raw = [](const torch::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == torch::kFloat32 && t.is_contiguous();
  };
  raw_ok_ = raw(wte_) && raw(wpe_) && raw(ln_f_g_) && raw(ln_f_b_);
  for (const Block& b : blocks_) raw_ok_ = raw_ok_ && raw(b.ln_1_g) && raw(b.ln_1_b) && raw(b.ln_2_g) && raw(b.ln_2_b);
}

PackedWeights GPT2Impl::packed_weights() const {
  PackedWeights p;
  p["lm_head"] = lm_head_.packed();
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const std::string h = "h." + std::to_string(i) + ".";
    p[h + "attn"] = blocks_[i].attn.packed();
    p[h + "attn_proj"] = blocks_[i].attn_proj.packed();
    p[h + "fc"] = blocks_[i].fc.packed();
    p[h + "mlp_proj"] = blocks_[i].mlp_proj.packed();
  }
  return p;
}

KVCache GPT2Impl::make_cache(int64_t batch, int64_t capacity) const {
  return KVCache(hp_, batch, capacity,
                 torch::TensorOptions().dtype(options_.kv_cache_type).device(options_.device));
}

void GPT2Impl::check_ids(const torch::Tensor& ids, int64_t past, int64_t capacity) const {
  if (!ids.defined() || ids.dim() != 2 || ids.scalar_type() != torch::kInt64)
    throw UsageError("model input must be int64 token ids [batch, time], got " + shape_of(ids));
  const int64_t T = ids.size(1);
  if (ids.size(0) < 1 || T < 1) throw UsageError("model input is empty: " + shape_of(ids));
  if (past + T > capacity)
    throw UsageError(std::to_string(past + T) + " positions exceed the context of " +
                     std::to_string(capacity) + " tokens");
  const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
  if (lo < 0 || hi >= hp_.n_vocab)
    throw UsageError("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary (0.." +
                     std::to_string(hp_.n_vocab - 1) + ")");
}

torch::Tensor GPT2Impl::run_blocks(torch::Tensor x, KVCache* cache, int64_t past) const {
  const int64_t B = x.size(0), T = x.size(1), C = hp_.n_embd, H = hp_.n_head, D = hp_.head_dim();
  const int64_t S = past + T;  // keys visible to this pass
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  // Causal mask: query i (absolute position past+i) sees keys j <= past+i. A single
  // new position sees every key, so no mask is needed then.
  torch::Tensor mask;  // [T, S] bool, true = hidden
  if (T > 1)
    mask = torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
               .triu(past + 1);

  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    // --- attention ---
    torch::Tensor h = torch::layer_norm(x, {C}, b.ln_1_g, b.ln_1_b, kLayerNormEps);  // [B, T, C]
    torch::Tensor qkv = b.attn(h.reshape({B * T, C})).view({B, T, 3 * C});           // [B, T, 3C]
    auto parts = qkv.split(C, 2);                                                    // 3 x [B, T, C]
    torch::Tensor q = parts[0].reshape({B, T, H, D}).transpose(1, 2);                // [B, H, T, D]
    torch::Tensor k = parts[1].reshape({B, T, H, D}).transpose(1, 2);                // [B, H, T, D]
    torch::Tensor v = parts[2].reshape({B, T, H, D}).transpose(1, 2);                // [B, H, T, D]
    torch::Tensor keys = k, values = v;                                              // [B, H, S, D]
    if (cache != nullptr) {
      std::tie(keys, values) = cache->write(static_cast<int64_t>(l), k, v);
      if (keys.scalar_type() != q.scalar_type()) {  // a float16 cache: attention in float32
        keys = keys.to(q.scalar_type());
        values = values.to(q.scalar_type());
      }
    }

    torch::Tensor att = torch::matmul(q, keys.transpose(2, 3)).mul_(scale);  // [B, H, T, S]
    if (mask.defined()) att.masked_fill_(mask, -std::numeric_limits<float>::infinity());
    att = torch::softmax(att, -1);                                          // [B, H, T, S]
    torch::Tensor y = torch::matmul(att, values);                           // [B, H, T, D]
    y = y.transpose(1, 2).reshape({B * T, C});                              // [B*T, C]
    x = x + b.attn_proj(y).view({B, T, C});                                 // [B, T, C]

    // --- MLP ---
    h = torch::layer_norm(x, {C}, b.ln_2_g, b.ln_2_b, kLayerNormEps);       // [B, T, C]
    torch::Tensor m = torch::gelu(b.fc(h.reshape({B * T, C})), "tanh");     // [B*T, 4C]
    x = x + b.mlp_proj(m).view({B, T, C});                                  // [B, T, C]
  }
  return x;
}

torch::Tensor GPT2Impl::head(const torch::Tensor& x) const {
  torch::Tensor h = torch::layer_norm(x, {hp_.n_embd}, ln_f_g_, ln_f_b_, kLayerNormEps);  // [N, C]
  return lm_head_(h);                                                                     // [N, V]
}

torch::Tensor GPT2Impl::forward(const torch::Tensor& ids, KVCache& cache, bool last_only) {
  c10::InferenceMode guard;
  if (cache.empty()) throw UsageError("forward: the KV cache was not allocated (use make_cache)");
  check_ids(ids, cache.length(), cache.capacity());
  if (ids.size(0) != cache.batch())
    throw UsageError("forward: batch of " + std::to_string(ids.size(0)) + " rows, cache holds " +
                     std::to_string(cache.batch()));
  const int64_t B = ids.size(0), T = ids.size(1), C = hp_.n_embd, past = cache.length();
  std::optional<ops::SerialLibtorchGuard> serial;  // few rows: libtorch's ops on this thread only
  if ((B * T <= ops::kMaxKernelRows || can_decode_step(B, T)) && options_.device.is_cpu()) serial.emplace();
  if (last_only && can_decode_step(B, T)) {
    const torch::Tensor flat = ids.contiguous();                                  // [B, 1]
    return decode_step(flat.data_ptr<int64_t>(), B, cache);                       // [B, V]
  }
  torch::Tensor tok = ids.to(options_.device);                                    // [B, T]
  torch::Tensor x = wte_.index_select(0, tok.reshape({-1})).view({B, T, C}) +     // [B, T, C]
                    wpe_.narrow(0, past, T).unsqueeze(0);                         // [1, T, C]
  x = run_blocks(x, &cache, past);                                                // [B, T, C]
  cache.advance(T);
  if (last_only) return head(x.select(1, T - 1));                                 // [B, V]
  return head(x.reshape({B * T, C})).view({B, T, hp_.n_vocab});                   // [B, T, V]
}

torch::Tensor GPT2Impl::forward(const torch::Tensor& ids) {
  const torch::Tensor x = forward_hidden(ids);                                    // [B, T, C]
  const int64_t B = x.size(0), T = x.size(1);
  return head_logits(x.reshape({B * T, hp_.n_embd})).view({B, T, hp_.n_vocab});   // [B, T, V]
}

torch::Tensor GPT2Impl::forward_hidden(const torch::Tensor& ids) {
  c10::InferenceMode guard;
  check_ids(ids, 0, hp_.n_ctx);
  const int64_t B = ids.size(0), T = ids.size(1), C = hp_.n_embd;
  std::optional<ops::SerialLibtorchGuard> serial;  // few rows: libtorch's ops on this thread only
  if (B * T <= ops::kMaxKernelRows && options_.device.is_cpu()) serial.emplace();
  torch::Tensor tok = ids.to(options_.device);                                    // [B, T]
  torch::Tensor x = wte_.index_select(0, tok.reshape({-1})).view({B, T, C}) +     // [B, T, C]
                    wpe_.narrow(0, 0, T).unsqueeze(0);                            // [1, T, C]
  return run_blocks(x, nullptr, 0);                                               // [B, T, C]
}

torch::Tensor GPT2Impl::run_blocks_packed(torch::Tensor x, const std::vector<int64_t>& lengths) const {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32) {
    // Other devices and dtypes: each sequence through the ordinary blocks.
    torch::Tensor out = torch::empty_like(x);  // [N, C]
    int64_t r0 = 0;
    for (int64_t T : lengths) {
      out.narrow(0, r0, T).copy_(run_blocks(x.narrow(0, r0, T).unsqueeze(0), nullptr, 0).squeeze(0));  // [T, C]
      r0 += T;
    }
    return out;
  }
  const int64_t N = x.size(0), C = hp_.n_embd, H = hp_.n_head, D = hp_.head_dim();
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& b = blocks_[l];
    // --- attention, each sequence on its own rows ---
    torch::Tensor h = torch::layer_norm(x, {C}, b.ln_1_g, b.ln_1_b, kLayerNormEps);  // [N, C]
    const torch::Tensor qkv = b.attn(h).contiguous();                               // [N, 3C]
    torch::Tensor y = torch::empty({N, C}, x.options());                            // [N, C]
    ops::causal_attention_packed(qkv.data_ptr<float>(), N, lengths, H, D, y.data_ptr<float>(), ops::kernel_threads());
    x = x + b.attn_proj(y);                                                         // [N, C]
    // --- MLP ---
    h = torch::layer_norm(x, {C}, b.ln_2_g, b.ln_2_b, kLayerNormEps);              // [N, C]
    x = x + b.mlp_proj(torch::gelu(b.fc(h), "tanh"));                              // [N, C]
  }
  return x;
}

torch::Tensor GPT2Impl::forward_hidden_packed(const torch::Tensor& ids, const std::vector<int64_t>& lengths) {
  c10::InferenceMode guard;
  if (!ids.defined() || ids.dim() != 1 || ids.scalar_type() != torch::kInt64)
    throw UsageError("packed model input must be int64 token ids [N], got " + shape_of(ids));
  const int64_t N = ids.size(0), C = hp_.n_embd;
  int64_t total = 0;
  std::vector<int64_t> positions;
  positions.reserve(static_cast<size_t>(N));
  for (int64_t T : lengths) {
    if (T < 1 || T > hp_.n_ctx)
      throw UsageError("a packed sequence of " + std::to_string(T) + " tokens (1.." + std::to_string(hp_.n_ctx) +
                       " allowed)");
    for (int64_t t = 0; t < T; ++t) positions.push_back(t);
    total += T;
  }
  if (total != N || N < 1)
    throw UsageError("packed lengths sum to " + std::to_string(total) + ", the input has " + std::to_string(N) +
                     " ids");
  check_ids(ids.unsqueeze(0), 0, N);
  std::optional<ops::SerialLibtorchGuard> serial;  // few rows: libtorch's ops on this thread only
  if (N <= ops::kMaxKernelRows && options_.device.is_cpu()) serial.emplace();
  const torch::Tensor tok = ids.to(options_.device);                                         // [N]
  const torch::Tensor pos = torch::tensor(positions, torch::kInt64).to(options_.device);     // [N]
  torch::Tensor x = wte_.index_select(0, tok) + wpe_.index_select(0, pos);                   // [N, C]
  return run_blocks_packed(x.view({N, C}), lengths);                                         // [N, C]
}

void GPT2Impl::head_logits_into(const torch::Tensor& x, torch::Tensor& out) {
  c10::InferenceMode guard;
  if (x.dim() != 2 || x.size(1) != hp_.n_embd)
    throw UsageError("head_logits: expected [N, " + std::to_string(hp_.n_embd) + "] hidden states");
  std::optional<ops::SerialLibtorchGuard> serial;  // few rows: libtorch's ops on this thread only
  if (x.size(0) <= ops::kMaxKernelRows && options_.device.is_cpu()) serial.emplace();
  const torch::Tensor h = torch::layer_norm(x, {hp_.n_embd}, ln_f_g_, ln_f_b_, kLayerNormEps);  // [N, C]
  lm_head_.forward_into(h, out);                                                               // [N, V]
}

torch::Tensor GPT2Impl::head_logits(const torch::Tensor& x) {
  c10::InferenceMode guard;
  if (x.dim() != 2 || x.size(1) != hp_.n_embd)
    throw UsageError("head_logits: expected [N, " + std::to_string(hp_.n_embd) + "] hidden states");
  std::optional<ops::SerialLibtorchGuard> serial;  // few rows: libtorch's ops on this thread only
  if (x.size(0) <= ops::kMaxKernelRows && options_.device.is_cpu()) serial.emplace();
  return head(x);  // [N, V]
}

}  // namespace gpt2
