// Minimal protobuf wire-format decoding: just enough for TensorFlow's
// BundleHeaderProto / BundleEntryProto and LevelDB block handles. Every read is
// bounds-checked; malformed input throws FormatError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace gpt2::pb {

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// A cursor over a byte range. `what` names the thing being decoded in errors
// (e.g. "model.ckpt.index: entry 'model/wte'").
class Reader {
 public:
  Reader(std::string_view bytes, std::string what) : p_(bytes.data()), end_(bytes.data() + bytes.size()), what_(std::move(what)) {}

  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  uint64_t varint64();
  uint32_t varint32();  // rejects values above 2^32-1
  uint32_t fixed32();
  uint64_t fixed64();
  std::string_view bytes(size_t n);
  std::string_view length_delimited();

  // Reads a field tag; returns false at end of input.
  bool next_field(uint32_t& field, int& wire_type);
  // Skips a field's value of the given wire type.
  void skip(int wire_type);

  [[noreturn]] void fail(const std::string& why) const;
  const std::string& what() const { return what_; }

 private:
  const char* p_;
  const char* end_;
  std::string what_;
};

}  // namespace gpt2::pb
