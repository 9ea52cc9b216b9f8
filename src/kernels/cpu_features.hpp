// Private: what the running CPU (and OS) supports, for choosing the kernels
// (kernels_avx512.hpp). Implemented in cpu_features.cpp.
#pragma once

namespace gpt2::ops::kernels {

// What the running CPU (and OS) supports, detected once.
struct CpuFeatures {
  bool avx512 = false;       // avx512f + bw + vl (the f32 and bf16 kernels)
  bool avx512_vnni = false;  // + avx512_vnni (the int8 kernel)
  bool avx512_bf16 = false;  // reported only (the bf16 kernel widens to f32; see dot_bf16_avx512)
};
const CpuFeatures& cpu_features();

}  // namespace gpt2::ops::kernels
