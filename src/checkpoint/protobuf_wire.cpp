#include "checkpoint/protobuf_wire.hpp"

#include <cstring>

#include "gpt2/base/errors.hpp"

namespace gpt2::pb {

void Reader::fail(const std::string& why) const { throw FormatError(what_ + ": " + why); }

uint64_t Reader::varint64() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p_ == end_) fail("truncated varint");
    const uint8_t b = static_cast<uint8_t>(*p_++);
    if (shift == 63 && (b & 0x7e) != 0) fail("varint overflows 64 bits");
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail("varint longer than 10 bytes");
}

uint32_t Reader::varint32() {
  const uint64_t v = varint64();
  if (v > 0xffffffffull) fail("varint32 out of range");
  return static_cast<uint32_t>(v);
}

uint32_t Reader::fixed32() {
  if (remaining() < 4) fail("truncated fixed32");
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
  p_ += 4;
  return v;
}

uint64_t Reader::fixed64() {
  if (remaining() < 8) fail("truncated fixed64");
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p_[i]);
  p_ += 8;
  return v;
}

std::string_view Reader::bytes(size_t n) {
  if (remaining() < n) fail("truncated: needs " + std::to_string(n) + " bytes, has " + std::to_string(remaining()));
  std::string_view s(p_, n);
  p_ += n;
  return s;
}

std::string_view Reader::length_delimited() {
  const uint64_t n = varint64();
  if (n > remaining()) fail("length-delimited field of " + std::to_string(n) + " bytes overruns its message");
  return bytes(static_cast<size_t>(n));
}

bool Reader::next_field(uint32_t& field, int& wire_type) {
  if (done()) return false;
  const uint64_t tag = varint64();
  field = static_cast<uint32_t>(tag >> 3);
  wire_type = static_cast<int>(tag & 7);
  if (field == 0 || (tag >> 3) > 0x1fffffff) fail("invalid field number");
  return true;
}

void Reader::skip(int wire_type) {
  switch (wire_type) {
    case kVarint: varint64(); return;
    case kFixed64: bytes(8); return;
    case kLengthDelimited: length_delimited(); return;
    case kFixed32: bytes(4); return;
    default: fail("unsupported wire type " + std::to_string(wire_type));
  }
}

}  // namespace gpt2::pb
