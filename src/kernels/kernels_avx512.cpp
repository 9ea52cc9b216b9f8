// AVX-512 kernels for few-row products (see kernels_avx512.hpp). Each function carries
// its own target attribute, so the rest of the project keeps its baseline
// flags; ops.cpp calls them only after cpu_features() said yes.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "kernels/kernels_avx512.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12 warns about _mm512_undefined_* inside its own intrinsic headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#define GPT2_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define GPT2_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace gpt2::ops::kernels {

namespace {

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

GPT2_AVX512 inline __mmask16 tail_mask16(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// ---------------------------------------------------------------------------
// axpy form: part[n, :] += sum_{i in rows} x[n, i] * W[i, :]
// R weight rows are loaded once per 16-column chunk and applied to every x row.
// ---------------------------------------------------------------------------
template <int R>
GPT2_AVX512 void axpy_rows(const float* x, int64_t n_rows, const float* w, int64_t in, int64_t out,
                           int64_t i, float* part) {
  const float* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = w + (i + r) * out;
  const int64_t full = out / 16 * 16;
  auto chunk = [&](int64_t o, __mmask16 m) GPT2_AVX512 {
    __m512 wv[R];
    for (int r = 0; r < R; ++r) wv[r] = _mm512_maskz_loadu_ps(m, wr[r] + o);
    for (int64_t n = 0; n < n_rows; ++n) {
      const float* xn = x + n * in + i;
      float* p = part + n * out + o;
      __m512 acc = _mm512_maskz_loadu_ps(m, p);
      for (int r = 0; r < R; ++r) acc = _mm512_fmadd_ps(wv[r], _mm512_set1_ps(xn[r]), acc);
      _mm512_mask_storeu_ps(p, m, acc);
    }
  };
  for (int64_t o = 0; o < full; o += 16) chunk(o, static_cast<__mmask16>(0xFFFF));
  if (full < out) chunk(full, tail_mask16(out - full));
}

// ---------------------------------------------------------------------------
// dot form: y[n, o] = sum_c x[n, c] * W[o, c]. Four weight rows x NR input rows
// of accumulators; a weight chunk is loaded once and used for NR input rows.
// ---------------------------------------------------------------------------
struct LoadF32 {
  using T = float;
  GPT2_AVX512 static __m512 load(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};

// Weight rows per pass: 16 concurrent row streams at one input row keep more
// memory requests in flight (measured: +15-30% over 4 rows); with several input
// rows, 4 weight rows x 4 input rows of accumulators fit the 32 registers.
constexpr int kRowsSingle = 16;
constexpr int kRowsMulti = 4;

template <class L, int R, int NR>
GPT2_AVX512 void dot_pass(const float* x, int64_t n0, const typename L::T* w, int64_t in, int64_t out,
                          const float* bias, int64_t o, int64_t o1, float* y) {
  const typename L::T* wr[R];
  const int rows = static_cast<int>(std::min<int64_t>(R, o1 - o));
  for (int r = 0; r < R; ++r) wr[r] = w + (o + std::min(r, rows - 1)) * in;  // tail rows repeat
  const float* xr[NR];
  for (int k = 0; k < NR; ++k) xr[k] = x + (n0 + k) * in;
  __m512 acc[R][NR];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_setzero_ps();
  auto chunk = [&](int64_t c, __mmask16 m) GPT2_AVX512 {
    __m512 xv[NR];
    for (int k = 0; k < NR; ++k) xv[k] = _mm512_maskz_loadu_ps(m, xr[k] + c);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = L::load(wr[r] + c, m);
      for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_fmadd_ps(wv, xv[k], acc[r][k]);
    }
  };
  const int64_t full = in / 16 * 16;
  for (int64_t c = 0; c < full; c += 16) chunk(c, static_cast<__mmask16>(0xFFFF));
  if (full < in) chunk(full, tail_mask16(in - full));
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < NR; ++k) {
      float v = _mm512_reduce_add_ps(acc[r][k]);
      if (bias) v += bias[o + r];
      y[(n0 + k) * out + o + r] = v;
    }
}

// Calls pass(std::integral_constant<int, R>{}, n) over rows [0, n_rows): four rows
// at a time, then the 3, 2 or 1 left (R is a template argument of the passes).
template <class Pass>
inline void in_fours(int64_t n_rows, Pass&& pass) {
  int64_t n = 0;
  for (; n + 4 <= n_rows; n += 4) pass(std::integral_constant<int, 4>{}, n);
  switch (n_rows - n) {
    case 3: pass(std::integral_constant<int, 3>{}, n); break;
    case 2: pass(std::integral_constant<int, 2>{}, n); break;
    case 1: pass(std::integral_constant<int, 1>{}, n); break;
    default: break;
  }
}

template <class L>
GPT2_AVX512 void dot_any(const float* x, int64_t n_rows, const typename L::T* w, int64_t in, int64_t out,
                         const float* bias, int64_t o0, int64_t o1, float* y) {
  if (n_rows == 1) {
    for (int64_t o = o0; o < o1; o += kRowsSingle) dot_pass<L, kRowsSingle, 1>(x, 0, w, in, out, bias, o, o1, y);
    return;
  }
  for (int64_t o = o0; o < o1; o += kRowsMulti)
    in_fours(n_rows, [&](auto rows, int64_t n) {
      dot_pass<L, kRowsMulti, decltype(rows)::value>(x, n, w, in, out, bias, o, o1, y);
    });
}

// ---------------------------------------------------------------------------
// int8 dot form with VNNI: |x| (uint8) . (+-w) (int8) per 64-input block.
// ---------------------------------------------------------------------------
// Weights in the tiled layout (kernels_avx512.hpp): `g` points at row r0 of a 16-row
// group; rows r0..r0+R-1 of every 64-input block are read (block stride 1024).
template <int R, int NR>
GPT2_AVX512_VNNI void dot_i8_pass(const QuantizedRows& xq, int64_t n0, const int8_t* g, const float* w_scale,
                                  int64_t out, const float* bias, int64_t o, float* y) {
  const int64_t stride = xq.blocks * kQBlock;
  const int rows = static_cast<int>(std::min<int64_t>(R, out - o));
  __m512 acc[R][NR];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_setzero_ps();
  const __m512i zero = _mm512_setzero_si512();
  for (int64_t b = 0; b < xq.blocks; ++b) {
    const int64_t c = b * kQBlock;
    const int8_t* t = g + b * kI8Tile;
    __m512i xm[NR];
    __mmask64 neg[NR];
    __m512 sx[NR];
    for (int k = 0; k < NR; ++k) {
      const int64_t row = n0 + k;
      xm[k] = _mm512_load_si512(reinterpret_cast<const void*>(xq.mag + row * stride + c));
      neg[k] = static_cast<__mmask64>(xq.neg[row * xq.blocks + b]);
      sx[k] = _mm512_set1_ps(xq.scale[row * xq.blocks + b]);
    }
    for (int r = 0; r < R; ++r) {
      const __m512i wv = _mm512_loadu_si512(t + r * kQBlock);
      for (int k = 0; k < NR; ++k) {
        const __m512i ws = _mm512_mask_sub_epi8(wv, neg[k], zero, wv);  // w * sign(x)
        const __m512i s = _mm512_dpbusd_epi32(zero, xm[k], ws);          // 16 x int32, 4 products each
        acc[r][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sx[k], acc[r][k]);
      }
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < NR; ++k) {
      // One explicit fused multiply-add: left to the compiler, `sum * scale + bias`
      // was contracted in some instantiations of this template and not in others,
      // so a row's result depended on how many rows shared the call.
      const float sum = _mm512_reduce_add_ps(acc[r][k]);
      y[(n0 + k) * out + o + r] = bias ? std::fma(sum, w_scale[o + r], bias[o + r]) : sum * w_scale[o + r];
    }
}

// ---------------------------------------------------------------------------
// int4 dot form with VNNI: unsigned nibbles (q + 8) . signed int8 activations,
// started from the activations' -8 * x lane sums (kernels_avx512.hpp).
// ---------------------------------------------------------------------------
// `g` points at a 16-row group; rows r0..r0+R-1 of every 64-input block are read.
template <int R, int NR>
GPT2_AVX512_VNNI void dot_i4_pass(const QuantizedRowsI4& xq, int64_t n0, const uint8_t* g, int r0, int64_t out,
                                  const float* bias, int64_t o, float* y) {
  const int64_t stride = xq.blocks * kI4Block;
  const int rows = static_cast<int>(std::min<int64_t>(R, out - o));
  __m512 acc[R][NR];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_setzero_ps();
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  for (int64_t b = 0; b < xq.blocks; ++b) {
    const uint8_t* t = g + b * kI4TileBytes;
    __m512i xv[NR], off[NR];
    __m512 sx[NR];
    for (int k = 0; k < NR; ++k) {
      const int64_t row = n0 + k;
      xv[k] = _mm512_loadu_si512(xq.q + row * stride + b * kI4Block);
      off[k] = _mm512_loadu_si512(xq.offset + (row * xq.blocks + b) * 16);
      sx[k] = _mm512_set1_ps(xq.scale[row * xq.blocks + b]);
    }
    for (int r = 0; r < R; ++r) {
      const int rr = r0 + r;
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t + rr * kI4RowBytes));
      const __m512i w = _mm512_and_si512(
          _mm512_inserti64x4(_mm512_castsi256_si512(packed), _mm256_srli_epi16(packed, 4), 1), low4);  // q + 8
      uint32_t pair;
      std::memcpy(&pair, t + 16 * kI4RowBytes + rr * 4, 4);
      const __m512 sw = _mm512_cvtph_ps(_mm256_set1_epi32(static_cast<int>(pair)));  // lane l: scale of group l & 1
      for (int k = 0; k < NR; ++k) {
        const __m512i s = _mm512_dpbusd_epi32(off[k], w, xv[k]);  // per lane: sum of q * x over 4 inputs
        acc[r][k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(sw, sx[k]), acc[r][k]);
      }
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < NR; ++k) {
      const float sum = _mm512_reduce_add_ps(acc[r][k]);
      y[(n0 + k) * out + o + r] = bias ? sum + bias[o + r] : sum;
    }
}

// ---------------------------------------------------------------------------
// bf16 dot form without lane-crossing widening: 32 bf16 weights are loaded as
// one register; a shift gives the even-indexed ones as float32, a mask the
// odd-indexed ones. The activations are pre-arranged to match: per 32-input
// block, the 16 even-indexed values, then the 16 odd-indexed ones.
// ---------------------------------------------------------------------------
int64_t even_odd_len(int64_t in) { return (in + 31) / 32 * 32; }

// dst [n_rows, even_odd_len(in)]: x rearranged per 32-block, zero padded.
GPT2_AVX512 void arrange_even_odd(const float* x, int64_t n_rows, int64_t in, float* dst) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const int64_t len = even_odd_len(in);
  for (int64_t n = 0; n < n_rows; ++n) {
    const float* xn = x + n * in;
    float* d = dst + n * len;
    for (int64_t c = 0; c < in; c += 32) {
      const __m512 a = _mm512_maskz_loadu_ps(tail_mask16(in - c), xn + c);
      const __m512 b = in - c > 16 ? _mm512_maskz_loadu_ps(tail_mask16(in - c - 16), xn + c + 16) : _mm512_setzero_ps();
      _mm512_storeu_ps(d + c, _mm512_permutex2var_ps(a, even, b));
      _mm512_storeu_ps(d + c + 16, _mm512_permutex2var_ps(a, odd, b));
    }
  }
}

// Weights in the tiled layout (kernels_avx512.hpp): `g` points at row r0 of a 16-row
// group; rows r0..r0+R-1 of every 32-input chunk are read (chunk stride 512).
template <int R, int NR>
GPT2_AVX512 void dot_bf16_pass(const float* xa, int64_t n0, const uint16_t* g, int64_t in, int64_t out,
                               const float* bias, int64_t o, float* y) {
  const int64_t len = even_odd_len(in), chunks = len / 32;
  const int rows = static_cast<int>(std::min<int64_t>(R, out - o));
  const float* xr[NR];
  for (int k = 0; k < NR; ++k) xr[k] = xa + (n0 + k) * len;
  __m512 acc[R][NR];
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_setzero_ps();
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t c = ch * 32;
    const uint16_t* t = g + ch * kBf16Tile;
    __m512 xe[NR], xo[NR];
    for (int k = 0; k < NR; ++k) {
      xe[k] = _mm512_loadu_ps(xr[k] + c);
      xo[k] = _mm512_loadu_ps(xr[k] + c + 16);
    }
    for (int r = 0; r < R; ++r) {
      const __m512i wv = _mm512_loadu_si512(t + r * 32);
      const __m512 we = _mm512_castsi512_ps(_mm512_slli_epi32(wv, 16));
      const __m512 wo = _mm512_castsi512_ps(_mm512_and_si512(wv, high));
      for (int k = 0; k < NR; ++k) acc[r][k] = _mm512_fmadd_ps(wo, xo[k], _mm512_fmadd_ps(we, xe[k], acc[r][k]));
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int k = 0; k < NR; ++k) {
      float v = _mm512_reduce_add_ps(acc[r][k]);
      if (bias) v += bias[o + r];
      y[(n0 + k) * out + o + r] = v;
    }
}

// Runs pass<R, NR> over the 16-row groups of [o0, o1): one pass per group at
// one input row, else 4-row sub-passes of up to 4 input rows.
// width: the tile's inputs (32 for bf16, 64 for int8).
template <class Pass16, class Pass4>
inline void over_groups(int64_t n_rows, int64_t in, int64_t width, int64_t out, int64_t o0, int64_t o1,
                        const Pass16& pass16, const Pass4& pass4) {
  const int64_t group_len = round_up(in, width) * 16;
  for (int64_t o = o0; o < o1; o += 16) {
    const int64_t gofs = o / 16 * group_len;
    if (n_rows == 1) {
      pass16(gofs, o);
      continue;
    }
    for (int64_t r0 = 0; r0 < 16 && o + r0 < out; r0 += 4) pass4(gofs + r0 * width, o + r0);
  }
}

}  // namespace

GPT2_AVX512 void axpy_f32_avx512(const float* x, int64_t n_rows, const float* w, int64_t in, int64_t out,
                                 int64_t i0, int64_t i1, float* part) {
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) axpy_rows<8>(x, n_rows, w, in, out, i, part);
  for (; i + 4 <= i1; i += 4) axpy_rows<4>(x, n_rows, w, in, out, i, part);
  for (; i < i1; ++i) axpy_rows<1>(x, n_rows, w, in, out, i, part);
}

GPT2_AVX512 void dot_f32_avx512(const float* x, int64_t n_rows, const float* w, int64_t in, int64_t out,
                    const float* bias, int64_t o0, int64_t o1, float* y) {
  dot_any<LoadF32>(x, n_rows, w, in, out, bias, o0, o1, y);
}

GPT2_AVX512 void dot_bf16_avx512(const float* x, int64_t n_rows, const uint16_t* w, int64_t in, int64_t out,
                     const float* bias, int64_t o0, int64_t o1, float* y) {
  thread_local std::vector<float> arranged;
  const int64_t len = even_odd_len(in);
  if (static_cast<int64_t>(arranged.size()) < n_rows * len) arranged.resize(static_cast<size_t>(n_rows * len));
  float* xa = arranged.data();
  arrange_even_odd(x, n_rows, in, xa);
  over_groups(
      n_rows, in, 32, out, o0, o1, [&](int64_t g, int64_t o) { dot_bf16_pass<16, 1>(xa, 0, w + g, in, out, bias, o, y); },
      [&](int64_t g, int64_t o) {
        in_fours(n_rows, [&](auto rows, int64_t n) {
          dot_bf16_pass<4, decltype(rows)::value>(xa, n, w + g, in, out, bias, o, y);
        });
      });
}

namespace {
// Inputs [c, c + 64) of a row of `in` values into v[0..3] (zero past the end);
// returns their largest magnitude.
GPT2_AVX512 float load_block64(const float* xn, int64_t in, int64_t c, __m512 v[4]) {
  const __m512 sign_bit = _mm512_set1_ps(-0.0f);
  __m512 mx = _mm512_setzero_ps();
  for (int j = 0; j < 4; ++j) {
    const int64_t left = in - (c + 16 * j);
    v[j] = left > 0 ? _mm512_maskz_loadu_ps(tail_mask16(left), xn + c + 16 * j) : _mm512_setzero_ps();
    mx = _mm512_max_ps(mx, _mm512_andnot_ps(sign_bit, v[j]));
  }
  return _mm512_reduce_max_ps(mx);
}

// Three arrays of a, b and c bytes in one scratch buffer, each 64-byte aligned:
// where the second and third start, and the bytes of all three.
struct ScratchLayout {
  int64_t second, third, total;
};
ScratchLayout scratch_layout(int64_t a, int64_t b, int64_t c) {
  const int64_t second = round_up(a, 64), third = second + round_up(b, 64);
  return {second, third, third + round_up(c, 64)};
}

// Quantized activations: [n_rows, blocks * 64] one-byte values, then per block
// `per_block` bytes (sign masks or lane sums), then [n_rows, blocks] float scales.
ScratchLayout activation_layout(int64_t n_rows, int64_t blocks, int64_t per_block) {
  return scratch_layout(n_rows * blocks * 64, n_rows * blocks * per_block, n_rows * blocks * 4);
}
}  // namespace

int64_t quantized_rows_bytes(int64_t n_rows, int64_t in) {
  return activation_layout(n_rows, (in + kQBlock - 1) / kQBlock, 8).total;
}

GPT2_AVX512 QuantizedRows quantize_rows(const float* x, int64_t n_rows, int64_t in, void* scratch) {
  QuantizedRows q;
  q.n_rows = n_rows;
  q.in = in;
  q.blocks = (in + kQBlock - 1) / kQBlock;
  auto* base = static_cast<uint8_t*>(scratch);
  const ScratchLayout at = activation_layout(n_rows, q.blocks, 8);
  q.mag = base;
  q.neg = reinterpret_cast<uint64_t*>(base + at.second);
  q.scale = reinterpret_cast<float*>(base + at.third);
  const __m512 sign_bit = _mm512_set1_ps(-0.0f);
  for (int64_t n = 0; n < n_rows; ++n) {
    const float* xn = x + n * in;
    for (int64_t b = 0; b < q.blocks; ++b) {
      const int64_t c = b * kQBlock;
      __m512 v[4];
      const float amax = load_block64(xn, in, c, v);
      const float scale = amax > 0.0f ? amax / 127.0f : 0.0f;
      const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      uint64_t neg = 0;
      uint8_t* dst = q.mag + (n * q.blocks + b) * kQBlock;
      for (int j = 0; j < 4; ++j) {
        const __mmask16 s = _mm512_cmp_ps_mask(v[j], _mm512_setzero_ps(), _CMP_LT_OQ);
        neg |= static_cast<uint64_t>(s) << (16 * j);
        const __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_andnot_ps(sign_bit, v[j]), inv));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16 * j), _mm512_cvtusepi32_epi8(qi));
      }
      q.neg[n * q.blocks + b] = neg;
      q.scale[n * q.blocks + b] = scale;
    }
  }
  return q;
}

GPT2_AVX512_VNNI void dot_i8_avx512(const QuantizedRows& xq, const int8_t* w, const float* w_scale, int64_t out,
                                    const float* bias, int64_t o0, int64_t o1, float* y) {
  const int64_t n_rows = xq.n_rows;
  over_groups(
      n_rows, xq.in, kQBlock, out, o0, o1,
      [&](int64_t g, int64_t o) { dot_i8_pass<16, 1>(xq, 0, w + g, w_scale, out, bias, o, y); },
      [&](int64_t g, int64_t o) {
        in_fours(n_rows, [&](auto rows, int64_t n) {
          dot_i8_pass<4, decltype(rows)::value>(xq, n, w + g, w_scale, out, bias, o, y);
        });
      });
}


int64_t quantized_rows_i4_bytes(int64_t n_rows, int64_t in) {
  return activation_layout(n_rows, (in + kI4Block - 1) / kI4Block, 16 * 4).total;
}

GPT2_AVX512_VNNI QuantizedRowsI4 quantize_rows_i4(const float* x, int64_t n_rows, int64_t in, void* scratch) {
  QuantizedRowsI4 q;
  q.n_rows = n_rows;
  q.in = in;
  q.blocks = (in + kI4Block - 1) / kI4Block;
  auto* base = static_cast<uint8_t*>(scratch);
  const ScratchLayout at = activation_layout(n_rows, q.blocks, 16 * 4);
  q.q = reinterpret_cast<int8_t*>(base);
  q.offset = reinterpret_cast<int32_t*>(base + at.second);
  q.scale = reinterpret_cast<float*>(base + at.third);
  // Lane l takes input dword (l & 1) * 8 + (l >> 1): inputs i4_input_of(4 l + j).
  const __m512i perm = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const __m512i eight = _mm512_set1_epi8(8);
  const __m512i zero = _mm512_setzero_si512();
  alignas(64) int8_t natural[kI4Block];
  for (int64_t n = 0; n < n_rows; ++n) {
    const float* xn = x + n * in;
    for (int64_t b = 0; b < q.blocks; ++b) {
      const int64_t c = b * kI4Block;
      __m512 v[4];
      const float amax = load_block64(xn, in, c, v);
      const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      for (int j = 0; j < 4; ++j)
        _mm_store_si128(reinterpret_cast<__m128i*>(natural + 16 * j),
                        _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(v[j], inv))));
      const __m512i qv = _mm512_permutexvar_epi32(perm, _mm512_load_si512(natural));
      const int64_t at = n * q.blocks + b;
      _mm512_storeu_si512(q.q + at * kI4Block, qv);
      _mm512_storeu_si512(q.offset + at * 16, _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, eight, qv)));
      q.scale[at] = amax > 0.0f ? amax / 127.0f : 0.0f;
    }
  }
  return q;
}

GPT2_AVX512_VNNI void dot_i4_avx512(const QuantizedRowsI4& xq, const uint8_t* w, int64_t out, const float* bias,
                                    int64_t o0, int64_t o1, float* y) {
  const int64_t n_rows = xq.n_rows, group_bytes = xq.blocks * kI4TileBytes;
  for (int64_t o = o0; o < o1; o += 16) {
    const uint8_t* g = w + o / 16 * group_bytes;
    if (n_rows == 1) {
      dot_i4_pass<16, 1>(xq, 0, g, 0, out, bias, o, y);
      continue;
    }
    for (int r0 = 0; r0 < 16 && o + r0 < out; r0 += 4)
      in_fours(n_rows, [&](auto rows, int64_t n) {
        dot_i4_pass<4, decltype(rows)::value>(xq, n, g, r0, out, bias, o + r0, y);
      });
  }
}

}  // namespace gpt2::ops::kernels

#else  // not x86-64 GCC/Clang: cpu_features() reports nothing, so ops.cpp never calls these.

namespace gpt2::ops::kernels {
namespace {
[[noreturn]] void unavailable() { throw std::logic_error("AVX-512 kernels are not built for this CPU"); }
}  // namespace
void axpy_f32_avx512(const float*, int64_t, const float*, int64_t, int64_t, int64_t, int64_t, float*) {
  unavailable();
}
void dot_f32_avx512(const float*, int64_t, const float*, int64_t, int64_t, const float*, int64_t, int64_t,
                    float*) {
  unavailable();
}
void dot_bf16_avx512(const float*, int64_t, const uint16_t*, int64_t, int64_t, const float*, int64_t, int64_t,
                     float*) {
  unavailable();
}
int64_t quantized_rows_bytes(int64_t, int64_t) { unavailable(); }
QuantizedRows quantize_rows(const float*, int64_t, int64_t, void*) { unavailable(); }
void dot_i8_avx512(const QuantizedRows&, const int8_t*, const float*, int64_t, const float*, int64_t, int64_t,
                   float*) {
  unavailable();
}
int64_t quantized_rows_i4_bytes(int64_t, int64_t) { unavailable(); }
QuantizedRowsI4 quantize_rows_i4(const float*, int64_t, int64_t, void*) { unavailable(); }
void dot_i4_avx512(const QuantizedRowsI4&, const uint8_t*, int64_t, const float*, int64_t, int64_t, float*) {
  unavailable();
}
}  // namespace gpt2::ops::kernels

#endif
