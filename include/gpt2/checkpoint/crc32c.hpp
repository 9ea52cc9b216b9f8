// CRC-32C (Castagnoli), as used by LevelDB tables and TensorFlow tensor bundles.
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt2::crc32c {

// Continues `crc` (the crc of the bytes so far, 0 to start) over `n` more bytes.
uint32_t extend(uint32_t crc, const void* data, size_t n);

// The crc32c of `n` bytes.
inline uint32_t value(const void* data, size_t n) { return extend(0, data, n); }

// TensorFlow/LevelDB store crcs "masked" so that a crc of data containing crcs
// stays well distributed.
inline uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t unmask(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

// True when extend() runs on the hardware instruction.
bool hardware_accelerated();

}  // namespace gpt2::crc32c
