// The matrix products of the GPT-2 forward pass, in one place so that fast
// kernels (batch-1 matrix-vector products, reduced-precision weights) can
// replace the reference libtorch calls without touching the model code.
//
// The model holds every projection, the tied output head included, as an
// ops::Projection; it never multiplies weights itself.
//
// Products with few rows (decoding: batch 1..kMaxKernelRows) run on AVX-512
// kernels when the CPU has them (runtime check), split across libtorch's
// intra-op threads (at::set_num_threads); products with more rows (prompts)
// run on libtorch's matrix-matrix product. Backend::kReference forces plain
// libtorch calls everywhere (the portable path; also used by the tests).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace gpt2::ops {

// How projection weights are stored for the products. Activations, LayerNorm,
// softmax and accumulation stay float32 whatever this is.
//   float32:  the given tensor as is (zero-copy, e.g. memory-mapped), [in, out]
//   bfloat16: weights rounded to bfloat16, stored [out, in]; widened to float32
//             in the kernel, so activations are never rounded
//   int8:     symmetric per-output-channel int8, stored [out, in]; the kernel
//             quantizes activations per block of 64 inputs (int8 x int8 dot
//             products accumulate in int32 per block, float32 across blocks)
//   int4:     4-bit weights, symmetric per group of 32 inputs with a float16
//             scale (4.5 bits per weight, like llama.cpp's q4_0), tiled; the
//             kernel quantizes activations to int8 per block of 64 inputs
enum class WeightType { kFloat32, kBFloat16, kInt8, kInt4 };
WeightType parse_weight_type(const std::string& s);  // "float32"|"bfloat16"|"int8"|"int4"; UsageError otherwise
std::string to_string(WeightType t);

// Which implementation the products use (process-wide; default kAuto).
enum class Backend {
  kAuto,       // AVX-512 kernels for few-row products where the CPU has them, else libtorch
  kReference,  // libtorch calls only (weights dequantized to float32 per call for bf16/int8)
};
void set_backend(Backend b);
Backend backend();
// Whether this CPU has the kernels kAuto uses for few-row products of this weight
// type (AVX-512 for float32/bfloat16, AVX-512 VNNI for int8/int4); without them every
// product runs on libtorch.
bool cpu_kernels_available(WeightType type);
// The backend is kAuto and this CPU has the kernels for `type`: what
// forward_rows needs.
bool kernels_active(WeightType type);
// Threads the kernels use when called from this thread (the count saved by a
// SerialLibtorchGuard, else libtorch's intra-op count).
int kernel_threads();
// One line naming what kAuto uses on this CPU, e.g. "avx512 (f32, bf16, int8-vnni)".
std::string kernel_description();

// Products with at most this many rows use the matrix-vector kernels.
constexpr int64_t kMaxKernelRows = 16;
// Reduced-precision (bfloat16, int8, int4) products of up to this many rows
// (decode batches) run the kernels kMaxKernelRows rows at a time: streaming the
// packed weights a few times costs less than dequantizing all of them to
// float32 for one sgemm (124M int4, batch 32: 14.5 tok/s dequantizing). Longer
// inputs (prompts) take the matrix path.
constexpr int64_t kMaxChunkedRows = 4 * kMaxKernelRows;

// While alive, libtorch's own intra-op parallelism (OpenMP: LayerNorm, softmax,
// GELU, small OpenBLAS calls) runs on the calling thread only, and the kernels
// keep the thread count that was set when the guard was made. For forward
// passes of at most kMaxKernelRows rows: their libtorch ops are tiny, and an
// OpenMP team spinning after such an op takes the cores the kernels' own pool
// needs (measured: 8-token prompt 181 -> 350+ tok/s). No effect on a libtorch
// built without OpenMP. Not copyable; nests.
class SerialLibtorchGuard {
 public:
  SerialLibtorchGuard();
  ~SerialLibtorchGuard();
  SerialLibtorchGuard(const SerialLibtorchGuard&) = delete;
  SerialLibtorchGuard& operator=(const SerialLibtorchGuard&) = delete;

 private:
  int libtorch_threads_ = 0;  // OpenMP threads to restore (0: nothing to restore)
  int kernel_threads_ = 0;    // the kernels' thread count before this guard
};

// A projection's weights as stored for the kernels (bf16/int8/int4: tiled, see
// kernels_avx512.hpp; int8 also per-row scales, int4 keeps its scales in the
// tiles): what the weight cache saves.
struct Packed {
  torch::Tensor w;
  torch::Tensor scales;  // int8 only
};

// One projection y = x W (+ b): every matrix product of the model. Its weight
// comes in one of two layouts:
//   conv1d(w [in, out], b [out])  GPT-2's Conv1D / TF layout (the block projections)
//   rows(w [out, in])             one row per output, no bias (the output head, tied to wte [V, C])
// float32 weights are used in place in their given layout (the axpy kernel on
// [in, out], the dot kernel on [out, in]); bfloat16 / int8 / int4 weights are
// packed [out, in] tiles whatever the source layout (kernels_avx512.hpp).
class Projection {
 public:
  Projection() = default;
  // w: [in, out] float32, b: [out] float32. May repack/convert w (float32 keeps
  // the given tensor, e.g. a memory-mapped one, without copying when possible).
  static Projection conv1d(const torch::Tensor& w, const torch::Tensor& b, WeightType type = WeightType::kFloat32);
  // w: [out, in] float32 (e.g. wte [V, C] for logits = x @ wte^T); no bias.
  static Projection rows(const torch::Tensor& w, WeightType type = WeightType::kFloat32);

  // x: [..., in] float32 -> [..., out] float32
  torch::Tensor operator()(const torch::Tensor& x) const;
  // Same into a preallocated y: [N, out] float32 contiguous, x: [N, in].
  void forward_into(const torch::Tensor& x, torch::Tensor& y) const;
  // The kernels on raw row-major buffers, x [n, in] -> y [n, out], for callers
  // that checked kernels_active(type()), with CPU weights and n <=
  // kMaxKernelRows (float32; reduced precisions: any n, kMaxKernelRows rows per
  // pass): no tensor, no allocation once scratch has grown, one pool run per pass.
  void forward_rows(const float* x, int64_t n, float* y) const;

  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  int64_t weight_bytes() const;  // bytes read from memory per product (weights, scales, bias)
  WeightType type() const { return type_; }
  // weight_bytes() of a projection of this type and shape, without building one.
  static int64_t bytes_for(WeightType type, int64_t in, int64_t out, bool bias);

  // The stored weights, and a projection rebuilt from them (no conversion; the
  // tensors are used as given, e.g. memory-mapped): [out, in] packed weights, and
  // the bias (undefined: none). FormatError if their shapes or dtypes are not
  // what `type`, `in`, `out` store. float32 weights are never packed.
  Packed packed() const { return {w_, scales_}; }
  static Projection from_packed(WeightType type, int64_t in, int64_t out, const Packed& p,
                                const torch::Tensor& bias = torch::Tensor());

 private:
  WeightType type_ = WeightType::kFloat32;
  int64_t in_ = 0, out_ = 0;
  bool in_out_ = false;   // float32 stored [in, out] (conv1d); else [out, in]
  torch::Tensor w_;       // float32 [in, out] or [out, in]; bfloat16 / int8 / int4 tiled [out, in]
  torch::Tensor b_;       // [out] float32, or undefined (no bias)
  torch::Tensor scales_;  // int8 only: [out] float32
};

}  // namespace gpt2::ops
