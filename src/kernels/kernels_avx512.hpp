// Private: the AVX-512 kernels (kernels_avx512.cpp) behind gpt2::ops for few-row products (decoding at
// batch 1..~16). Every kernel works on a caller-chosen range of outputs (or of
// the reduction dimension) so that ops.cpp can split the work across threads.
//
// All kernels read row-major matrices with unaligned loads (memory-mapped
// tensors need not be 64-byte aligned) and handle any size (masked tails).
#pragma once

#include <cstdint>

#include "kernels/cpu_features.hpp"

namespace gpt2::ops::kernels {


// ---- "axpy" form, weights W [in, out] row-major (Conv1D layout, float32) ----
// Adds to part[n * out + o] (o in [0, out)) the sum over i in [i0, i1) of
// x[n * in + i] * W[i * out + o], for n in [0, n_rows). W rows i0..i1 are
// streamed once, contiguously. part must be zeroed by the caller.
void axpy_f32_avx512(const float* x, int64_t n_rows, const float* w, int64_t in, int64_t out,
                     int64_t i0, int64_t i1, float* part);

// ---- "dot" form, weights W [out, in] row-major (output rows contiguous) ----
// y[n * out + o] = dot(x[n, :], W[o, :]) * scale[o] + bias[o] for o in [o0, o1),
// n in [0, n_rows). scale (int8 only) and bias may be null.
void dot_f32_avx512(const float* x, int64_t n_rows, const float* w, int64_t in, int64_t out,
                    const float* bias, int64_t o0, int64_t o1, float* y);
// bf16 weights are stored tiled, so that each thread streams one contiguous
// range: W [out, in] zero padded to [round_up(out, 16), round_up(in, 32)], laid
// out as [out/16][in/32][16][32] (a 16-row x 32-input tile is kBf16Tile
// contiguous values). o0 must be a multiple of 16. Each weight is widened to
// float32 exactly and multiplied with the float32 activation (no rounding of
// activations). (vdpbf16ps with activations split into bf16 hi + lo was
// measured slower on Zen 4: 93-95 vs 105-116 tok/s for 124M.)
constexpr int64_t kBf16Tile = 16 * 32;
void dot_bf16_avx512(const float* x, int64_t n_rows, const uint16_t* w, int64_t in, int64_t out,
                     const float* bias, int64_t o0, int64_t o1, float* y);

// int8: activations are quantized per block of kQBlock inputs (symmetric,
// |x| as uint8 plus a sign mask, one float scale per block), weights are int8
// with one scale per output row; products accumulate in int32 per block and in
// float32 across blocks.
constexpr int64_t kQBlock = 64;
struct QuantizedRows {
  int64_t n_rows = 0, in = 0, blocks = 0;  // blocks = ceil(in / kQBlock)
  uint8_t* mag = nullptr;                  // [n_rows, blocks * kQBlock] |x| / scale, rounded, zero padded
  uint64_t* neg = nullptr;                 // [n_rows, blocks] bit k set: input b*64+k is negative
  float* scale = nullptr;                  // [n_rows, blocks]
};
// Bytes of scratch quantize_rows needs for n_rows x in (one allocation).
int64_t quantized_rows_bytes(int64_t n_rows, int64_t in);
// Quantizes x [n_rows, in] into `scratch` (quantized_rows_bytes long, 64-byte aligned).
QuantizedRows quantize_rows(const float* x, int64_t n_rows, int64_t in, void* scratch);
// w: int8 weights tiled like the bf16 ones with 64-input tiles: [out, in] zero
// padded to [round_up(out, 16), round_up(in, 64)], laid out as
// [out/16][in/64][16][64]; w_scale [out]. o0 must be a multiple of 16.
constexpr int64_t kI8Tile = 16 * kQBlock;
void dot_i8_avx512(const QuantizedRows& xq, const int8_t* w, const float* w_scale, int64_t out,
                   const float* bias, int64_t o0, int64_t o1, float* y);

// ---- int4: 4-bit weights, one float16 scale per group of kI4Group inputs ----
// A weight is q in [-8, 7] times its group's scale, stored as q + 8 in a nibble.
// Within each 64-input block the inputs are permuted so that 32-bit lane l of a
// 512-bit register (4 consecutive bytes, what one vpdpbusd lane sums) holds
// inputs of group l & 1: position p (lane l = p / 4, j = p % 4) holds input
// i4_input_of(p) = (l & 1) * 32 + (l >> 1) * 4 + j of the block. Then the two
// float16 scales of a block, broadcast as one 32-bit pair, convert to the
// per-lane scale vector with one instruction.
constexpr int64_t kI4Group = 32;
constexpr int64_t kI4Block = 64;                            // inputs per block (two groups)
constexpr int64_t kI4RowBytes = kI4Block / 2;               // 32 bytes of nibbles per row and block
constexpr int64_t kI4TileBytes = 16 * kI4RowBytes + 16 * 4;  // 16 rows: 512 weight bytes + 16 x 2 float16 scales
constexpr int64_t i4_input_of(int64_t p) { return ((p / 4) & 1) * 32 + ((p / 4) >> 1) * 4 + p % 4; }
// Tiled int4 weights: W [out, in] zero padded to [round_up(out, 16), round_up(in, 64)],
// stored as [out/16][in/64][kI4TileBytes]: per 16-row group and 64-input block,
// row r's nibbles at bytes [32 r, 32 r + 32) (byte p: position p in the low
// nibble, position p + 32 in the high one), then the scales of row r (group 0,
// group 1, float16) at bytes 512 + 4 r.
// Activations: signed int8 per 64-input block (one float scale), permuted like
// the weights, and per block the 16 lane sums of -8 * x (the weights' offset,
// removed by starting vpdpbusd from them).
struct QuantizedRowsI4 {
  int64_t n_rows = 0, in = 0, blocks = 0;  // blocks = ceil(in / kI4Block)
  int8_t* q = nullptr;                     // [n_rows, blocks * 64] round(x / scale), permuted, zero padded
  int32_t* offset = nullptr;               // [n_rows, blocks, 16] -8 * (sum of each lane's 4 values)
  float* scale = nullptr;                  // [n_rows, blocks]
};
int64_t quantized_rows_i4_bytes(int64_t n_rows, int64_t in);
QuantizedRowsI4 quantize_rows_i4(const float* x, int64_t n_rows, int64_t in, void* scratch);
// o0 must be a multiple of 16.
void dot_i4_avx512(const QuantizedRowsI4& xq, const uint8_t* w, int64_t out, const float* bias, int64_t o0,
                   int64_t o1, float* y);

}  // namespace gpt2::ops::kernels
