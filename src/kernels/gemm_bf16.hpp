// Private: the bfloat16 matrix-matrix kernel for many-row products (prompts,
// scoring windows) with reduced-precision weights, using AVX512_BF16's
// vdpbf16ps (two bf16 products per float32 lane per instruction: twice the
// float32 FMA rate).
//
// The activations are rounded to bf16 once per product (relative error <= 2^-8
// each, the unit roundoff). The weights are read from the decode kernels' tiled
// layouts (kernels_avx512.hpp) one panel of 32 outputs at a time, repacked into
// a small buffer as bf16 input pairs: bf16 weights as they are, int8 weights
// exactly (an integer of magnitude <= 127 is a bf16; the row scale is applied to
// the sums), int4 weights times their group scale, rounded to bf16. Called only where cpu_features().avx512_bf16 said yes.
#pragma once

#include <cstdint>

namespace gpt2::ops::kernels {

constexpr int64_t kPanelOutputs = 32;

// bf16 values per converted activation row: in rounded up to 32.
int64_t bf16_row_len(int64_t in);
// x [m, in] float32 -> xb [m, bf16_row_len(in)] bf16, round to nearest even, zero padded.
void to_bf16_rows(const float* x, int64_t m, int64_t in, uint16_t* xb);

// A panel: the weights of outputs [o, o + 32) as [bf16_row_len(in) / 2][32]
// 32-bit pairs (inputs 2p and 2p + 1 of one output), zero past `out`.
int64_t panel_pairs(int64_t in);  // bf16_row_len(in) / 2
// From tiled bf16 weights ([out/16][in/32][16][32]); o a multiple of 32.
void pack_panel_bf16(const uint16_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel);
// From tiled int8 weights ([out/16][in/64][16][64]), exactly (without their scales).
void pack_panel_i8(const int8_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel);
// From tiled int4 weights (kernels_avx512.hpp: nibbles and float16 group scales),
// each weight (q - 8) * scale rounded to bf16 (relative error <= 2^-8).
void pack_panel_i4(const uint8_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel);

// y[r * out + j] = (sum_k bf16(x)[r, k] * panel weight of output j) * scale[j] + bias[j]
// for rows r in [0, m) and outputs j in [o, o1), o1 <= o + 32 (scale, bias: null
// for 1, 0). Sums in float32.
void gemm_panel_bf16(const uint16_t* xb, int64_t m, int64_t in, const uint32_t* panel, const float* scale,
                     const float* bias, int64_t o, int64_t o1, int64_t out, float* y);

}  // namespace gpt2::ops::kernels
