// The bf16 matrix-matrix kernel (gemm_bf16.hpp).
//
// Outer-product blocking: a panel holds 32 outputs' weights as bf16 input pairs,
// so one 512-bit load is 16 outputs x 2 inputs; an activation row's pair of
// inputs is broadcast to all 16 lanes and vdpbf16ps adds both products to each
// output's float32 lane. 12 rows x 32 outputs = 24 accumulators, fed by 2 panel
// loads and 12 broadcasts per pair of inputs; no horizontal sums. A panel
// (in x 32 bf16: 48 KiB at in = 768) is packed once per product and stays in L1/L2
// while every row block passes over it.
#include "kernels/gemm_bf16.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/kernels_avx512.hpp"

namespace gpt2::ops::kernels {

namespace {
constexpr int64_t kTileRows = 16, kBf16TileIn = 32, kI8TileIn = 64;

uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

// float32 -> bf16, round to nearest even (finite values).
uint32_t bf16_round(float f) {
  const uint32_t bits = float_bits(f);
  return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
}

float half_to_float(uint16_t h) {
  const uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact
    const float mag = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -mag : mag;
  }
  const uint32_t bits = sign | (exp == 31 ? 0xffu << 23 : (exp + 112) << 23) | mant << 13;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

int64_t bf16_row_len(int64_t in) { return (in + 31) / 32 * 32; }
int64_t panel_pairs(int64_t in) { return bf16_row_len(in) / 2; }

void pack_panel_bf16(const uint16_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel) {
  const int64_t pairs = panel_pairs(in), tiles_in = bf16_row_len(in) / kBf16TileIn;
  const int64_t tile_rows = (out + kTileRows - 1) / kTileRows;
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t t = o / kTileRows + half;
    for (int64_t p = 0; p < pairs; ++p) {
      uint32_t* dst = panel + p * kPanelOutputs + half * kTileRows;
      if (t >= tile_rows) {
        std::memset(dst, 0, kTileRows * sizeof(uint32_t));
        continue;
      }
      // Tile (t, p / 16), row r, inputs 2 (p % 16) and the next.
      const uint16_t* tile = w + (t * tiles_in + p / 16) * kTileRows * kBf16TileIn + 2 * (p % 16);
      for (int64_t r = 0; r < kTileRows; ++r) std::memcpy(dst + r, tile + r * kBf16TileIn, 4);
    }
  }
}

void pack_panel_i8(const int8_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel) {
  const int64_t pairs = panel_pairs(in), tiles_in = (in + kI8TileIn - 1) / kI8TileIn;
  const int64_t tile_rows = (out + kTileRows - 1) / kTileRows;
  // bf16 of an integer |q| <= 127: the top half of its float32 (the rest is zero).
  auto bf16_of = [](int8_t q) { return float_bits(static_cast<float>(q)) >> 16; };
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t t = o / kTileRows + half;
    for (int64_t p = 0; p < pairs; ++p) {
      uint32_t* dst = panel + p * kPanelOutputs + half * kTileRows;
      const int64_t k = 2 * p;  // < round_up(in, 32) <= round_up(in, 64): inside the zero-padded tiles
      if (t >= tile_rows) {
        std::memset(dst, 0, kTileRows * sizeof(uint32_t));
        continue;
      }
      const int8_t* tile = w + (t * tiles_in + k / kI8TileIn) * kTileRows * kI8TileIn + k % kI8TileIn;
      for (int64_t r = 0; r < kTileRows; ++r)
        dst[r] = bf16_of(tile[r * kI8TileIn]) | bf16_of(tile[r * kI8TileIn + 1]) << 16;
    }
  }
}

void pack_panel_i4(const uint8_t* w, int64_t in, int64_t out, int64_t o, uint32_t* panel) {
  const int64_t len = bf16_row_len(in), blocks = (in + kI4Block - 1) / kI4Block;
  const int64_t tile_rows = (out + kTileRows - 1) / kTileRows;
  for (int64_t half = 0; half < 2; ++half) {
    const int64_t t = o / kTileRows + half;
    if (t >= tile_rows) {
      for (int64_t p = 0; p < len / 2; ++p)
        std::memset(panel + p * kPanelOutputs + half * kTileRows, 0, kTileRows * sizeof(uint32_t));
      continue;
    }
    for (int64_t b = 0; b < blocks && b * kI4Block < len; ++b) {
      const uint8_t* tile = w + (t * blocks + b) * kI4TileBytes;
      for (int64_t r = 0; r < kTileRows; ++r) {
        uint16_t h[2];
        std::memcpy(h, tile + 16 * kI4RowBytes + r * 4, 4);
        const float scale[2] = {half_to_float(h[0]), half_to_float(h[1])};
        // Byte j holds position j (low nibble) and j + 32 (high); position p is input i4_input_of(p).
        uint32_t v[kI4Block];
        for (int64_t j = 0; j < kI4RowBytes; ++j) {
          const uint8_t byte = tile[r * kI4RowBytes + j];
          for (const int64_t p : {j, j + kI4RowBytes}) {
            const int64_t i = i4_input_of(p);
            const int q = (p < kI4RowBytes ? byte & 15 : byte >> 4) - 8;
            v[i] = bf16_round(static_cast<float>(q) * scale[i / kI4Group]);
          }
        }
        const int64_t pairs = std::min<int64_t>(kI4Block, len - b * kI4Block) / 2;
        uint32_t* dst = panel + b * kI4Block / 2 * kPanelOutputs + half * kTileRows + r;
        for (int64_t p = 0; p < pairs; ++p) dst[p * kPanelOutputs] = v[2 * p] | v[2 * p + 1] << 16;
      }
    }
  }
}

}  // namespace gpt2::ops::kernels

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#define GPT2_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace gpt2::ops::kernels {

namespace {

GPT2_AVX512_BF16 inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : n <= 0 ? 0 : static_cast<__mmask16>((1u << n) - 1u);
}

constexpr int kRowBlock = 12;

// Rows [0, R) of xr (row stride `len` bf16) x the panel's 32 outputs.
template <int R>
GPT2_AVX512_BF16 void micro(const uint16_t* xr, int64_t len, const uint32_t* panel, int64_t pairs, __m512 s[2],
                            __m512 b[2], __mmask16 m[2], int64_t out, float* y) {
  __m512 acc[R][2];
  for (int i = 0; i < R; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p, panel += kPanelOutputs) {
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(panel), w1 = (__m512bh)_mm512_loadu_si512(panel + 16);
    for (int i = 0; i < R; ++i) {
      int32_t pair;
      std::memcpy(&pair, xr + i * len + 2 * p, 4);
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(pair);
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], xv, w0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], xv, w1);
    }
  }
  for (int i = 0; i < R; ++i)
    for (int h = 0; h < 2; ++h)
      _mm512_mask_storeu_ps(y + i * out + 16 * h, m[h], _mm512_fmadd_ps(acc[i][h], s[h], b[h]));
}

}  // namespace

GPT2_AVX512_BF16 void to_bf16_rows(const float* x, int64_t m, int64_t in, uint16_t* xb) {
  const int64_t len = bf16_row_len(in);
  for (int64_t r = 0; r < m; ++r) {
    const float* xr = x + r * in;
    for (int64_t k = 0; k < len; k += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(mask16(in - k), xr + std::min(k, in));
      const __m512 hi = _mm512_maskz_loadu_ps(mask16(in - k - 16), xr + std::min(k + 16, in));
      _mm512_storeu_si512(xb + r * len + k, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
  }
}

GPT2_AVX512_BF16 void gemm_panel_bf16(const uint16_t* xb, int64_t m, int64_t in, const uint32_t* panel,
                                      const float* scale, const float* bias, int64_t o, int64_t o1, int64_t out,
                                      float* y) {
  const int64_t len = bf16_row_len(in), pairs = panel_pairs(in);
  __mmask16 mk[2] = {mask16(o1 - o), mask16(o1 - o - 16)};
  __m512 s[2], b[2];
  for (int h = 0; h < 2; ++h) {
    s[h] = scale != nullptr ? _mm512_maskz_loadu_ps(mk[h], scale + o + 16 * h) : _mm512_set1_ps(1.0f);
    b[h] = bias != nullptr ? _mm512_maskz_loadu_ps(mk[h], bias + o + 16 * h) : _mm512_setzero_ps();
  }
  float* yo = y + o;
  int64_t r = 0;
  for (; r + kRowBlock <= m; r += kRowBlock) micro<kRowBlock>(xb + r * len, len, panel, pairs, s, b, mk, out, yo + r * out);
  const uint16_t* xr = xb + r * len;
  float* yr = yo + r * out;
  switch (m - r) {
    case 11: micro<11>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 10: micro<10>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 9: micro<9>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 8: micro<8>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 7: micro<7>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 6: micro<6>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 5: micro<5>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 4: micro<4>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 3: micro<3>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 2: micro<2>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    case 1: micro<1>(xr, len, panel, pairs, s, b, mk, out, yr); break;
    default: break;
  }
}

}  // namespace gpt2::ops::kernels

#else  // not x86-64 GCC/Clang: cpu_features() reports nothing, so ops.cpp never calls these.

namespace gpt2::ops::kernels {
void to_bf16_rows(const float*, int64_t, int64_t, uint16_t*) {
  throw std::logic_error("AVX512_BF16 kernels are not built for this CPU");
}
void gemm_panel_bf16(const uint16_t*, int64_t, int64_t, const uint32_t*, const float*, const float*, int64_t, int64_t,
                     int64_t, float*) {
  throw std::logic_error("AVX512_BF16 kernels are not built for this CPU");
}
}  // namespace gpt2::ops::kernels

#endif
