// The projections: weight conversion at construction, then per product either
// the AVX-512 few-row kernels (split across libtorch's intra-op threads) or
// libtorch's own matrix products.
#include "gpt2/kernels/ops.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "kernels/gemm_bf16.hpp"
#include "kernels/kernels_avx512.hpp"
#include "kernels/omp_team.hpp"
#include "gpt2/kernels/work_pool.hpp"

namespace gpt2::ops {

WeightType parse_weight_type(const std::string& s) {
  if (s == "float32" || s == "f32" || s == "fp32") return WeightType::kFloat32;
  if (s == "bfloat16" || s == "bf16") return WeightType::kBFloat16;
  if (s == "int8" || s == "q8") return WeightType::kInt8;
  if (s == "int4" || s == "q4") return WeightType::kInt4;
  throw UsageError("unknown weight dtype '" + s + "' (valid: float32, bfloat16, int8, int4)");
}

std::string to_string(WeightType t) {
  switch (t) {
    case WeightType::kFloat32: return "float32";
    case WeightType::kBFloat16: return "bfloat16";
    case WeightType::kInt8: return "int8";
    case WeightType::kInt4: return "int4";
  }
  return "?";
}

namespace {

std::atomic<Backend> g_backend{Backend::kAuto};

bool kernels_on() { return g_backend.load(std::memory_order_relaxed) == Backend::kAuto && kernels::cpu_features().avx512; }
bool vnni_on() { return kernels_on() && kernels::cpu_features().avx512_vnni; }
bool bf16_gemm_on() { return kernels_on() && kernels::cpu_features().avx512_bf16; }

// Below this many weight bytes a product runs on the calling thread only
// (waking the pool costs more than it saves).
constexpr int64_t kMinParallelBytes = 64 * 1024;

// Scratch memory of the calling thread, reused across products (no allocation
// per token once it has grown). 64-byte aligned.
void* scratch(size_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (buf.size() < bytes + 64) buf.resize(bytes + 64);
  auto p = reinterpret_cast<uintptr_t>(buf.data());
  return reinterpret_cast<void*>((p + 63) & ~static_cast<uintptr_t>(63));
}

// The kernels' thread count while a SerialLibtorchGuard lives on this thread
// (0: none, use libtorch's).
thread_local int t_kernel_threads = 0;

}  // namespace

int kernel_threads() { return std::max(1, t_kernel_threads > 0 ? t_kernel_threads : at::get_num_threads()); }

namespace {

// Threads for a product reading this many weight bytes (libtorch's intra-op
// thread count, at::set_num_threads; 1 for tiny products).
int thread_count(int64_t weight_bytes) { return weight_bytes < kMinParallelBytes ? 1 : kernel_threads(); }

// Runs f(chunk) for chunk in [0, chunks) on `threads` threads of the kernels'
// own pool (see work_pool.hpp for why not at::parallel_for). Chunks are claimed
// dynamically, so a thread that is descheduled only loses its share.
template <class F>
void run_chunks(int64_t chunks, int threads, const F& f) {
  if (threads <= 1 || chunks <= 1) {
    for (int64_t c = 0; c < chunks; ++c) f(c);
    return;
  }
  const std::function<void(int64_t)> fn = [&f](int64_t c) { f(c); };
  WorkPool::instance().run(chunks, threads, fn);
}

// Chunks per thread, for dynamic balancing.
constexpr int64_t kChunksPerThread = 4;

// Part t of [0, n) split in `parts`, boundaries multiples of `align`.
std::pair<int64_t, int64_t> split_range(int64_t n, int64_t parts, int64_t t, int64_t align) {
  int64_t chunk = (n + parts - 1) / parts;
  chunk = (chunk + align - 1) / align * align;
  const int64_t b = std::min(n, t * chunk);
  return {b, std::min(n, b + chunk)};
}

// m [out, in] (float32) -> the kernels' tiled layout (kernels_avx512.hpp) in `type`:
// [ceil(out/16), ceil(in/width), 16, width], zero padded.
torch::Tensor tile_rows(const torch::Tensor& m, torch::ScalarType type, int64_t width) {
  const int64_t out = m.size(0), in = m.size(1);
  const int64_t op = (out + 15) / 16 * 16, ip = (in + width - 1) / width * width;
  auto p = torch::constant_pad_nd(m.to(type), {0, ip - in, 0, op - out});  // [op, ip]
  return p.view({op / 16, 16, ip / width, width}).permute({0, 2, 1, 3}).contiguous();
}

// The [out, in] view of tiled weights (strided, no copy).
torch::Tensor untile(const torch::Tensor& t, int64_t out, int64_t in) {
  const int64_t width = t.size(3);
  return t.permute({0, 2, 1, 3}).reshape({t.size(0) * 16, t.size(1) * width}).narrow(0, 0, out).narrow(1, 0, in);
}

torch::Tensor tile_bf16(const torch::Tensor& m) { return tile_rows(m, torch::kBFloat16, 32); }

// Symmetric per-row int8 quantization of m ([rows, cols], any strides): q [rows,
// cols] int8, scales [rows] float32. Works on blocks of rows so that the float
// temporaries stay small (~4 MB) whatever the matrix size.
std::pair<torch::Tensor, torch::Tensor> quantize_weight_rows(const torch::Tensor& m) {
  const int64_t rows = m.size(0), cols = m.size(1);
  auto q = torch::empty({rows, cols}, torch::kInt8);
  auto scales = torch::empty({rows}, torch::kFloat32);
  const int64_t step = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, cols));
  for (int64_t r = 0; r < rows; r += step) {
    const int64_t n = std::min(step, rows - r);
    auto part = m.narrow(0, r, n);                                                        // [n, cols]
    auto s = (part.abs().amax(1) / 127.0).clamp_min(1e-30);                               // [n]
    q.narrow(0, r, n).copy_(torch::round(part / s.unsqueeze(1)).clamp(-127, 127));       // [n, cols]
    scales.narrow(0, r, n).copy_(s);
  }
  return {q, scales};
}

// int8 weights in the kernels' tiled layout, plus per-row scales.
std::pair<torch::Tensor, torch::Tensor> quantize_tiled(const torch::Tensor& m) {
  auto [q, scales] = quantize_weight_rows(m);
  return {tile_rows(q, torch::kInt8, kernels::kQBlock), scales};
}

// m [out, in] float32 (any strides) -> int4 weights in the kernels' tiled layout
// (kernels_avx512.hpp): uint8 [ceil(out/16), ceil(in/64), kI4TileBytes]. Per group
// of 32 inputs, symmetric like llama.cpp's q4_0: the value of largest magnitude
// maps to -8, the scale is rounded to float16 first and the weights are rounded
// with the rounded scale. Works 16 rows at a time (bounded temporaries).
torch::Tensor quantize_int4(const torch::Tensor& m) {
  using kernels::kI4Block;
  using kernels::kI4Group;
  using kernels::kI4RowBytes;
  using kernels::kI4TileBytes;
  if (!m.device().is_cpu())
    throw UsageError("--dtype int4 runs on the CPU only (its kernels are AVX-512 VNNI); use --device cpu, "
                     "or --dtype bfloat16 on " + m.device().str());
  const int64_t out = m.size(0), in = m.size(1);
  const int64_t groups16 = (out + 15) / 16, blocks = (in + kI4Block - 1) / kI4Block, padded = blocks * kI4Block;
  auto t = torch::zeros({groups16, blocks, kI4TileBytes}, torch::kUInt8);
  uint8_t* tp = t.data_ptr<uint8_t>();
  std::vector<float> row(static_cast<size_t>(padded));
  std::vector<uint8_t> q(static_cast<size_t>(padded));  // q + 8 per input, input order
  for (int64_t o = 0; o < out; o += 16) {
    const int64_t r = std::min<int64_t>(16, out - o);
    const torch::Tensor part = m.narrow(0, o, r).to(torch::kFloat32).contiguous();  // [r, in]
    for (int64_t rr = 0; rr < r; ++rr) {
      std::fill(row.begin(), row.end(), 0.0f);
      std::copy_n(part.data_ptr<float>() + rr * in, in, row.begin());
      uint8_t* group_tiles = tp + (o / 16) * blocks * kI4TileBytes;
      for (int64_t gi = 0; gi < padded / kI4Group; ++gi) {
        const float* v = row.data() + gi * kI4Group;
        float big = 0.0f;  // the value of largest magnitude
        for (int64_t i = 0; i < kI4Group; ++i)
          if (std::fabs(v[i]) > std::fabs(big)) big = v[i];
        const c10::Half d16(big / -8.0f);
        const float d = static_cast<float>(d16);
        if (!std::isfinite(d))
          throw UsageError("int4: a weight of magnitude " + std::to_string(std::fabs(big)) +
                           " does not fit a float16 group scale");
        for (int64_t i = 0; i < kI4Group; ++i) {
          const float qv = d != 0.0f ? std::nearbyint(v[i] / d) : 0.0f;
          q[static_cast<size_t>(gi * kI4Group + i)] = static_cast<uint8_t>(std::clamp(qv, -8.0f, 7.0f) + 8.0f);
        }
        uint8_t* tile = group_tiles + gi / 2 * kI4TileBytes;
        std::memcpy(tile + 16 * kI4RowBytes + rr * 4 + (gi & 1) * 2, &d16.x, 2);
      }
      for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* dst = group_tiles + b * kI4TileBytes + rr * kI4RowBytes;
        const uint8_t* qb = q.data() + b * kI4Block;
        for (int64_t p = 0; p < kI4RowBytes; ++p)
          dst[p] = static_cast<uint8_t>(qb[kernels::i4_input_of(p)] | qb[kernels::i4_input_of(p + kI4RowBytes)] << 4);
      }
    }
  }
  return t;
}

// Rows [o, o + r) of tiled int4 weights as float32 [r, in] (o a multiple of 16).
torch::Tensor dequantize_int4_rows(const torch::Tensor& t, int64_t o, int64_t r, int64_t in) {
  using kernels::kI4Block;
  using kernels::kI4RowBytes;
  using kernels::kI4TileBytes;
  const int64_t blocks = t.size(1);
  auto res = torch::empty({r, in}, torch::kFloat32);
  const uint8_t* tp = t.data_ptr<uint8_t>();
  float* rp = res.data_ptr<float>();
  for (int64_t rr = 0; rr < r; ++rr) {
    const int64_t row = o + rr;
    for (int64_t b = 0; b < blocks; ++b) {
      const uint8_t* tile = tp + (row / 16 * blocks + b) * kI4TileBytes;
      c10::Half d[2];
      std::memcpy(&d[0].x, tile + 16 * kI4RowBytes + row % 16 * 4, 2);
      std::memcpy(&d[1].x, tile + 16 * kI4RowBytes + row % 16 * 4 + 2, 2);
      const uint8_t* nib = tile + row % 16 * kI4RowBytes;
      for (int64_t p = 0; p < kI4Block; ++p) {
        const int64_t i = b * kI4Block + kernels::i4_input_of(p);
        if (i >= in) continue;
        const int q = p < kI4RowBytes ? nib[p] & 15 : nib[p - kI4RowBytes] >> 4;
        rp[rr * in + i] = static_cast<float>(q - 8) * static_cast<float>(d[kernels::i4_input_of(p) / 32]);
      }
    }
  }
  return res;
}

// y = x @ dequant(w)^T (+ bias) for reduced-precision weights of logical shape
// [out, in] (bf16 / int8: tiled, with int8 scales; int4: tiled), dequantized a
// block of output rows at a time to bound the temporary.
void dequant_mm(WeightType type, const torch::Tensor& x, const torch::Tensor& w, int64_t out, int64_t in,
                const torch::Tensor& scales, const torch::Tensor& bias, torch::Tensor& y) {
  const int64_t rows = std::max<int64_t>(16, (int64_t{1} << 21) / std::max<int64_t>(1, in)) / 16 * 16;
  const torch::Tensor plain = type == WeightType::kInt4 ? torch::Tensor() : untile(w, out, in);  // [out, in] view
  for (int64_t o = 0; o < out; o += rows) {
    const int64_t r = std::min(rows, out - o);
    torch::Tensor wf;                                                                       // [r, in]
    if (type == WeightType::kInt4) {
      wf = dequantize_int4_rows(w, o, r, in);
    } else {
      wf = plain.narrow(0, o, r).to(torch::kFloat32);
      if (scales.defined()) wf.mul_(scales.narrow(0, o, r).unsqueeze(1));
    }
    auto yo = y.narrow(1, o, r);                                                            // [N, r]
    if (bias.defined())
      yo.copy_(torch::addmm(bias.narrow(0, o, r), x, wf.t()));
    else
      yo.copy_(torch::mm(x, wf.t()));
  }
}

// Dot-form kernels on w [out, in] for rows [0, n) of x, outputs split by thread.
// w: [out, in] (float32, int8) or tiled (bf16); in, out: the logical shape.
// xp [n, in], yp [n, out] row-major; bp [out] or null.
void dot_kernel(WeightType type, const float* xp, int64_t n, const torch::Tensor& w, int64_t in, int64_t out,
                const torch::Tensor& scales, const float* bp, float* yp) {
  const int threads = thread_count(w.numel() * static_cast<int64_t>(w.element_size()));
  const int64_t tasks = threads <= 1 ? 1 : std::min<int64_t>(threads * kChunksPerThread, (out + 15) / 16);
  switch (type) {
    case WeightType::kFloat32: {
      const float* wp = w.data_ptr<float>();
      run_chunks(tasks, threads, [&](int64_t t) {
        auto [o0, o1] = split_range(out, tasks, t, 16);
        if (o0 < o1) kernels::dot_f32_avx512(xp, n, wp, in, out, bp, o0, o1, yp);
      });
      break;
    }
    case WeightType::kBFloat16: {
      const auto* wp = reinterpret_cast<const uint16_t*>(w.data_ptr<at::BFloat16>());
      run_chunks(tasks, threads, [&](int64_t t) {
        auto [o0, o1] = split_range(out, tasks, t, 16);
        if (o0 < o1) kernels::dot_bf16_avx512(xp, n, wp, in, out, bp, o0, o1, yp);
      });
      break;
    }
    case WeightType::kInt8: {
      void* buf = scratch(static_cast<size_t>(kernels::quantized_rows_bytes(n, in)));
      const kernels::QuantizedRows xq = kernels::quantize_rows(xp, n, in, buf);
      const int8_t* wp = w.data_ptr<int8_t>();
      const float* sp = scales.data_ptr<float>();
      run_chunks(tasks, threads, [&](int64_t t) {
        auto [o0, o1] = split_range(out, tasks, t, 16);
        if (o0 < o1) kernels::dot_i8_avx512(xq, wp, sp, out, bp, o0, o1, yp);
      });
      break;
    }
    case WeightType::kInt4: {
      void* buf = scratch(static_cast<size_t>(kernels::quantized_rows_i4_bytes(n, in)));
      const kernels::QuantizedRowsI4 xq = kernels::quantize_rows_i4(xp, n, in, buf);
      const uint8_t* wp = w.data_ptr<uint8_t>();
      run_chunks(tasks, threads, [&](int64_t t) {
        auto [o0, o1] = split_range(out, tasks, t, 16);
        if (o0 < o1) kernels::dot_i4_avx512(xq, wp, out, bp, o0, o1, yp);
      });
      break;
    }
  }
}

// Many-row product on tiled bf16, int8 or int4 weights w (gemm_bf16.hpp): the
// activations rounded to bf16 once, then per thread panels of 32 outputs packed
// and multiplied with every row. xp [n, in], yp [n, out]; sp (int8 scales) and bp [out] or null.
void gemm_bf16(WeightType type, const float* xp, int64_t n, const torch::Tensor& w, int64_t in, int64_t out,
               const float* sp, const float* bp, float* yp) {
  auto* xb = static_cast<uint16_t*>(scratch(static_cast<size_t>(n * kernels::bf16_row_len(in)) * 2));
  kernels::to_bf16_rows(xp, n, in, xb);
  const int threads = thread_count(w.numel() * static_cast<int64_t>(w.element_size()));
  const int64_t panels = (out + kernels::kPanelOutputs - 1) / kernels::kPanelOutputs;
  const int64_t tasks = threads <= 1 ? 1 : std::min<int64_t>(threads * kChunksPerThread, panels);
  // Whatever can throw (a weight tensor of the wrong dtype) throws here: an
  // exception must not leave the OpenMP region below (it would terminate).
  const void* wp = nullptr;
  switch (type) {
    case WeightType::kBFloat16: wp = w.data_ptr<at::BFloat16>(); break;
    case WeightType::kInt8: wp = w.data_ptr<int8_t>(); break;
    case WeightType::kInt4: wp = w.data_ptr<uint8_t>(); break;
    case WeightType::kFloat32: throw std::logic_error("gemm_bf16: float32 weights");
  }
  run_on_omp_team(tasks, threads, [&](int64_t t) {
    thread_local std::vector<uint32_t> panel;
    panel.resize(static_cast<size_t>(kernels::panel_pairs(in) * kernels::kPanelOutputs));
    auto [o0, o1] = split_range(out, tasks, t, kernels::kPanelOutputs);
    for (int64_t o = o0; o < o1; o += kernels::kPanelOutputs) {
      switch (type) {
        case WeightType::kBFloat16:
          kernels::pack_panel_bf16(static_cast<const uint16_t*>(wp), in, out, o, panel.data());
          break;
        case WeightType::kInt8: kernels::pack_panel_i8(static_cast<const int8_t*>(wp), in, out, o, panel.data()); break;
        case WeightType::kInt4: kernels::pack_panel_i4(static_cast<const uint8_t*>(wp), in, out, o, panel.data()); break;
        case WeightType::kFloat32: break;  // rejected above
      }
      kernels::gemm_panel_bf16(xb, n, in, panel.data(), sp, bp, o, std::min(o1, o + kernels::kPanelOutputs), out, yp);
    }
  });
}

// The per-output scales gemm_bf16 applies: int8's (its panels hold the integers).
const float* int8_scales(WeightType type, const torch::Tensor& scales) {
  return type == WeightType::kInt8 ? scales.data_ptr<float>() : nullptr;
}

// Axpy-form float32 kernel on w [in, out]: the input rows are split in chunks,
// each chunk's slab of W is streamed once into a private partial sum, then the
// partials and the bias are added.
// Reduction chunks of the axpy kernel (fixed: see axpy_kernel).
constexpr int64_t kAxpyChunks = 16;

// xp [n, in], yp [n, out] row-major; bp [out].
void axpy_kernel(const float* xp, int64_t n, const torch::Tensor& w, const float* bp, float* yp) {
  const int64_t in = w.size(0), out = w.size(1);
  const float* wp = w.data_ptr<float>();
  const int threads = thread_count(w.numel() * 4);
  // One partial sum per chunk, added in chunk order. The chunks depend on the
  // weight's shape only, never on the row count or the thread count, so a row's
  // result is bitwise the same whatever batch it is computed in (what lets
  // sharded dataset generation reproduce one process byte for byte).
  const int64_t tasks = std::min<int64_t>(kAxpyChunks, (in + 7) / 8);
  const int64_t part_len = n * out;
  auto* part = static_cast<float*>(scratch(static_cast<size_t>(tasks * part_len) * sizeof(float)));
  run_chunks(tasks, threads, [&](int64_t t) {
    float* p = part + t * part_len;
    std::memset(p, 0, static_cast<size_t>(part_len) * sizeof(float));
    auto [i0, i1] = split_range(in, tasks, t, 8);
    if (i0 < i1) kernels::axpy_f32_avx512(xp, n, wp, in, out, i0, i1, p);
  });
  for (int64_t r = 0; r < n; ++r) {
    float* yr = yp + r * out;
    for (int64_t o = 0; o < out; ++o) yr[o] = bp[o] + part[r * out + o];
    for (int64_t t = 1; t < tasks; ++t) {
      const float* pr = part + t * part_len + r * out;
      for (int64_t o = 0; o < out; ++o) yr[o] += pr[o];
    }
  }
}

void check_input(const torch::Tensor& x, int64_t in, const char* what) {
  if (x.dim() < 1 || x.size(-1) != in || x.scalar_type() != torch::kFloat32)
    throw UsageError(std::string(what) + ": input must be float32 [..., " + std::to_string(in) + "], got " +
                     std::string(c10::toString(x.scalar_type())) + " with " + std::to_string(x.dim()) + " dims");
}

void check_output(const torch::Tensor& x, const torch::Tensor& y, int64_t out, const char* what) {
  if (y.dim() != 2 || y.size(0) != x.size(0) || y.size(1) != out || y.scalar_type() != torch::kFloat32 ||
      !y.is_contiguous())
    throw UsageError(std::string(what) + ": output must be contiguous float32 [" + std::to_string(x.size(0)) +
                     ", " + std::to_string(out) + "]");
}

// Result shape: x's leading dims + [out].
std::vector<int64_t> out_shape(const torch::Tensor& x, int64_t out) {
  auto s = x.sizes().vec();
  s.back() = out;
  return s;
}

}  // namespace

// OpenMP's own calls, weak: absent when libtorch was built without OpenMP.
extern "C" {
int omp_get_max_threads(void) __attribute__((weak));
void omp_set_num_threads(int) __attribute__((weak));
}

SerialLibtorchGuard::SerialLibtorchGuard() : kernel_threads_(t_kernel_threads) {
  const int threads = at::get_num_threads();  // also runs libtorch's per-thread lazy init first
  if (t_kernel_threads == 0) t_kernel_threads = std::max(1, threads);
  if (omp_get_max_threads != nullptr && omp_set_num_threads != nullptr) {
    libtorch_threads_ = omp_get_max_threads();
    if (libtorch_threads_ > 1)
      omp_set_num_threads(1);
    else
      libtorch_threads_ = 0;
  }
}

SerialLibtorchGuard::~SerialLibtorchGuard() {
  if (libtorch_threads_ > 0) omp_set_num_threads(libtorch_threads_);
  t_kernel_threads = kernel_threads_;
}

void set_backend(Backend b) { g_backend.store(b, std::memory_order_relaxed); }
Backend backend() { return g_backend.load(std::memory_order_relaxed); }

bool kernels_active(WeightType type) { return backend() == Backend::kAuto && cpu_kernels_available(type); }

bool cpu_kernels_available(WeightType type) {
  const auto& f = kernels::cpu_features();
  const bool needs_vnni = type == WeightType::kInt8 || type == WeightType::kInt4;
  return needs_vnni ? f.avx512 && f.avx512_vnni : f.avx512;
}

std::string kernel_description() {
  if (backend() == Backend::kReference) return "reference (libtorch)";
  const auto& f = kernels::cpu_features();
  if (!f.avx512) return "reference (libtorch; no AVX-512 on this CPU)";
  return std::string("avx512 (f32, bf16") + (f.avx512_vnni ? ", int8-vnni, int4-vnni" : "; int8, int4 via libtorch") + ")";
}

// ---------------------------------------------------------------------------
// Projection
// ---------------------------------------------------------------------------

namespace {
// float32 weights stay as given; reduced precisions are packed [out, in] tiles.
// `w_out_in`: the weight as [out, in] (a view of a Conv1D weight's transpose is fine).
std::pair<torch::Tensor, torch::Tensor> pack(const torch::Tensor& w_out_in, WeightType type) {
  switch (type) {
    case WeightType::kFloat32: return {w_out_in.contiguous(), torch::Tensor()};
    case WeightType::kBFloat16: return {tile_bf16(w_out_in), torch::Tensor()};  // tiled [out, in]
    case WeightType::kInt8: return quantize_tiled(w_out_in);                     // tiled [out, in], [out]
    case WeightType::kInt4: return {quantize_int4(w_out_in), torch::Tensor()};   // tiled [out, in]
  }
  return {};
}
}  // namespace

Projection Projection::conv1d(const torch::Tensor& w, const torch::Tensor& b, WeightType type) {
  if (w.dim() != 2 || b.dim() != 1 || b.size(0) != w.size(-1) || w.scalar_type() != torch::kFloat32 ||
      b.scalar_type() != torch::kFloat32)
    throw FormatError("ops::Projection: expected float32 weight [in, out] and bias [out], got weight with " +
                      std::to_string(w.dim()) + " dims and bias with " + std::to_string(b.numel()) + " values");
  Projection p;
  p.type_ = type;
  p.in_ = w.size(0);
  p.out_ = w.size(1);
  p.b_ = b.contiguous();
  if (type == WeightType::kFloat32) {
    p.w_ = w.contiguous();  // [in, out], used in place (e.g. memory-mapped)
    p.in_out_ = true;
  } else {
    std::tie(p.w_, p.scales_) = pack(w.t(), type);
  }
  return p;
}

Projection Projection::rows(const torch::Tensor& w, WeightType type) {
  if (w.dim() != 2 || w.scalar_type() != torch::kFloat32)
    throw FormatError("ops::Projection: expected a float32 weight [out, in], got " + std::to_string(w.dim()) + " dims");
  Projection p;
  p.type_ = type;
  p.out_ = w.size(0);
  p.in_ = w.size(1);
  std::tie(p.w_, p.scales_) = pack(w, type);
  return p;
}

// Packed bfloat16/int8/int4 weights of an [out, in] product must be exactly what the
// constructors store (the kernels read them raw). float32 weights are used in
// place and never packed.
void check_packed(WeightType type, int64_t out, int64_t in, const Packed& p, const std::string& what) {
  if (type == WeightType::kFloat32)
    throw UsageError("float32 weights are used in place; only bfloat16, int8 and int4 weights are packed");
  const int64_t width = type == WeightType::kInt8 ? kernels::kQBlock : type == WeightType::kInt4 ? kernels::kI4Block : 32;
  const std::vector<int64_t> want =
      type == WeightType::kInt4
          ? std::vector<int64_t>{(out + 15) / 16, (in + width - 1) / width, kernels::kI4TileBytes}
          : std::vector<int64_t>{(out + 15) / 16, (in + width - 1) / width, 16, width};
  const torch::ScalarType dtype = type == WeightType::kInt8   ? torch::kInt8
                                  : type == WeightType::kInt4 ? torch::kUInt8
                                                              : torch::kBFloat16;
  const bool scales_ok = type != WeightType::kInt8 ||
                         (p.scales.defined() && p.scales.scalar_type() == torch::kFloat32 &&
                          p.scales.sizes() == torch::IntArrayRef({out}) && p.scales.is_contiguous());
  if (!p.w.defined() || p.w.scalar_type() != dtype || p.w.sizes() != torch::IntArrayRef(want) ||
      !p.w.is_contiguous() || !scales_ok)
    throw FormatError("packed " + to_string(type) + " weights of " + what + " do not have the stored layout");
}

Projection Projection::from_packed(WeightType type, int64_t in, int64_t out, const Packed& packed,
                                   const torch::Tensor& bias) {
  check_packed(type, out, in, packed, bias.defined() ? "a projection" : "lm_head");
  if (bias.defined() && (bias.sizes() != torch::IntArrayRef({out}) || bias.scalar_type() != torch::kFloat32))
    throw FormatError("packed projection: bias must be float32 [" + std::to_string(out) + "]");
  Projection p;
  p.type_ = type;
  p.in_ = in;
  p.out_ = out;
  p.w_ = packed.w;
  p.scales_ = packed.scales;
  if (bias.defined()) p.b_ = bias.contiguous();
  return p;
}

namespace {
// The CPU kernels take raw pointers: only products of at most kMaxKernelRows
// rows whose input, output and weights all live in CPU memory may use them (a
// CUDA build hands GPU tensors to the same code path; those go to libtorch).
bool all_on_cpu(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w) {
  return x.device().is_cpu() && y.device().is_cpu() && w.device().is_cpu();
}
// Few rows (kMaxKernelRows; reduced precisions kMaxChunkedRows), every tensor in CPU memory.
bool kernel_eligible(const torch::Tensor& x, const torch::Tensor& y, const torch::Tensor& w, WeightType type) {
  const int64_t max_rows = type == WeightType::kFloat32 ? kMaxKernelRows : kMaxChunkedRows;
  return x.size(0) <= max_rows && all_on_cpu(x, y, w);
}
}  // namespace

torch::Tensor Projection::operator()(const torch::Tensor& x) const {
  check_input(x, in_, "ops::Projection");
  auto x2 = x.reshape({-1, in_}).contiguous();                                                 // [N, in]
  auto y = torch::empty({x2.size(0), out_}, x2.options());                                     // [N, out]
  forward_into(x2, y);
  return y.view(out_shape(x, out_));                                                           // [..., out]
}

void Projection::forward_into(const torch::Tensor& x_in, torch::Tensor& y) const {
  check_input(x_in, in_, "ops::Projection");
  auto x = x_in.contiguous();                                                                  // [N, in]
  check_output(x, y, out_, "ops::Projection");
  const int64_t n = x.size(0);
  if (n == 0) return;
  const bool small = kernel_eligible(x, y, w_, type_);  // few rows, every tensor in CPU memory
  const bool needs_vnni = type_ == WeightType::kInt8 || type_ == WeightType::kInt4;
  const float* bp = b_.defined() ? b_.data_ptr<float>() : nullptr;
  if (small && (needs_vnni ? vnni_on() : kernels_on())) {
    forward_rows(x.data_ptr<float>(), n, y.data_ptr<float>());
  } else if (type_ == WeightType::kFloat32) {
    const torch::Tensor w = in_out_ ? w_ : w_.t();  // [in, out]
    if (b_.defined())
      torch::addmm_out(y, b_, x, w);
    else
      torch::mm_out(y, x, w);
  } else if (bf16_gemm_on() && all_on_cpu(x, y, w_)) {
    gemm_bf16(type_, x.data_ptr<float>(), n, w_, in_, out_, int8_scales(type_, scales_), bp, y.data_ptr<float>());
  } else {
    dequant_mm(type_, x, w_, out_, in_, scales_, b_, y);
  }
}

void Projection::forward_rows(const float* x, int64_t n, float* y) const {
  const float* bp = b_.defined() ? b_.data_ptr<float>() : nullptr;
  if (in_out_) {  // float32 [in, out]: the axpy kernel (a Conv1D weight always has its bias)
    axpy_kernel(x, n, w_, bp, y);
    return;
  }
  for (int64_t r = 0; r < n; r += kMaxKernelRows)  // a row's result does not depend on its chunk
    dot_kernel(type_, x + r * in_, std::min(kMaxKernelRows, n - r), w_, in_, out_, scales_, bp, y + r * out_);
}

namespace {
// Bytes of an [out, in] weight matrix of this type with its scales (logical
// size, without the tiles' zero padding).
int64_t matrix_bytes(WeightType t, int64_t out, int64_t in) {
  switch (t) {
    case WeightType::kFloat32: return out * in * 4;
    case WeightType::kBFloat16: return out * in * 2;
    case WeightType::kInt8: return out * in + out * 4;
    case WeightType::kInt4: return out * in / 2 + out * ((in + kernels::kI4Group - 1) / kernels::kI4Group) * 2;
  }
  return 0;
}
}  // namespace

int64_t Projection::bytes_for(WeightType type, int64_t in, int64_t out, bool bias) {
  return matrix_bytes(type, out, in) + (bias ? out * 4 : 0);
}

int64_t Projection::weight_bytes() const { return bytes_for(type_, in_, out_, b_.defined()); }

}  // namespace gpt2::ops
