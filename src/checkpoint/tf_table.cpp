#include "checkpoint/tf_table.hpp"

#include <snappy.h>

#include <cstring>
#include <string_view>

#include "checkpoint/protobuf_wire.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2::tf {
namespace {

enum BlockType : uint8_t { kNoCompression = 0, kSnappyCompression = 1 };

// Largest block we accept after decompression. TF writes ~8 KiB blocks; a
// compressed block cannot legitimately expand more than ~32x.
constexpr size_t kMaxBlockBytes = size_t{64} << 20;

struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;
};

BlockHandle decode_handle(pb::Reader& r) {
  BlockHandle h;
  h.offset = r.varint64();
  h.size = r.varint64();
  return h;
}

uint32_t load_le32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

class TableReader {
 public:
  TableReader(const uint8_t* data, size_t size, const std::string& source)
      : data_(reinterpret_cast<const char*>(data)), size_(size), source_(source) {}

  std::vector<TableEntry> read_all() {
    if (size_ < kFooterSize)
      fail("file is " + std::to_string(size_) + " bytes, too short for a table footer (48 bytes)");
    const char* footer = data_ + size_ - kFooterSize;
    pb::Reader magic_reader(std::string_view(footer + 40, 8), source_ + ": footer");
    const uint64_t magic = magic_reader.fixed64();
    if (magic != kTableMagic) fail("bad table magic number (not a TensorFlow checkpoint index)");
    pb::Reader fr(std::string_view(footer, 40), source_ + ": footer");
    const BlockHandle metaindex = decode_handle(fr);
    const BlockHandle index = decode_handle(fr);
    // TF writes the metaindex empty and never uses it; checking it still catches
    // corruption there.
    std::vector<TableEntry> meta_entries;
    parse_block(read_block(metaindex, "metaindex block"), "metaindex block", meta_entries);

    std::vector<TableEntry> index_entries;
    const std::string index_block = read_block(index, "index block");
    parse_block(index_block, "index block", index_entries);

    std::vector<TableEntry> out;
    for (size_t i = 0; i < index_entries.size(); ++i) {
      const std::string what = "data block " + std::to_string(i);
      pb::Reader hr(index_entries[i].value, source_ + ": index entry for " + what);
      const BlockHandle h = decode_handle(hr);
      const std::string block = read_block(h, what);
      const size_t before = out.size();
      parse_block(block, what, out);
      // Index keys separate blocks: every key in block i is <= index key i.
      if (out.size() > before && out.back().key > index_entries[i].key)
        fail(what + ": key beyond its index separator");
    }
    for (size_t i = 1; i < out.size(); ++i)
      if (!(out[i - 1].key < out[i].key)) fail("keys out of order or duplicated near '" + out[i].key + "'");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw FormatError(source_ + ": " + why); }

  std::string read_block(const BlockHandle& h, const std::string& what) const {
    const uint64_t limit = size_ - kFooterSize;
    if (h.offset > limit || h.size > limit - h.offset || kBlockTrailerSize > limit - h.offset - h.size)
      fail(what + " (offset " + std::to_string(h.offset) + ", size " + std::to_string(h.size) +
           ") lies outside the file");
    const char* p = data_ + h.offset;
    const size_t n = static_cast<size_t>(h.size);
    const uint8_t type = static_cast<uint8_t>(p[n]);
    const uint32_t stored = crc32c::unmask(load_le32(p + n + 1));
    const uint32_t actual = crc32c::extend(crc32c::value(p, n), p + n, 1);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (stored != actual) fail(what + ": block checksum mismatch (corrupt index)");
#else
    (void)stored;  // fuzz builds skip the crc so that mutated blocks reach the parsers below
    (void)actual;
#endif
    if (type == kNoCompression) return std::string(p, n);
    if (type != kSnappyCompression) fail(what + ": unknown block compression type " + std::to_string(type));
    size_t ulen = 0;
    if (!snappy::GetUncompressedLength(p, n, &ulen)) fail(what + ": corrupt Snappy block header");
    if (ulen > kMaxBlockBytes || ulen > n * 64 + 1024)
      fail(what + ": Snappy block claims " + std::to_string(ulen) + " bytes uncompressed (too large)");
    std::string out;
    if (!snappy::Uncompress(p, n, &out)) fail(what + ": corrupt Snappy block");
    return out;
  }

  void parse_block(const std::string& block, const std::string& what, std::vector<TableEntry>& out) const {
    if (block.size() < 4) fail(what + ": too short for a restart count");
    const uint32_t num_restarts = load_le32(block.data() + block.size() - 4);
    const uint64_t max_restarts = (block.size() - 4) / 4;
    if (num_restarts > max_restarts || (num_restarts == 0 && block.size() > 4))
      fail(what + ": bad restart count " + std::to_string(num_restarts));
    const size_t entries_end = block.size() - 4 - size_t{num_restarts} * 4;
    const char* restarts = block.data() + entries_end;
    for (uint32_t i = 0; i < num_restarts; ++i) {
      const uint32_t off = load_le32(restarts + 4 * i);
      if (off >= entries_end && !(entries_end == 0 && off == 0))
        fail(what + ": restart point " + std::to_string(i) + " out of range");
    }
    pb::Reader r(std::string_view(block.data(), entries_end), source_ + ": " + what);
    std::string key;
    uint32_t next_restart = 0;
    while (!r.done()) {
      const size_t pos = entries_end - r.remaining();
      const bool at_restart = next_restart < num_restarts && load_le32(restarts + 4 * next_restart) == pos;
      const uint32_t shared = r.varint32();
      const uint32_t non_shared = r.varint32();
      const uint32_t value_len = r.varint32();
      if (at_restart) {
        if (shared != 0) fail(what + ": entry at a restart point shares a key prefix");
        ++next_restart;
      }
      if (shared > key.size()) fail(what + ": key shares " + std::to_string(shared) + " bytes of a " +
                                    std::to_string(key.size()) + "-byte key");
      key.resize(shared);
      key.append(r.bytes(non_shared));
      out.push_back({key, std::string(r.bytes(value_len))});
    }
    if (entries_end > 0 && next_restart != num_restarts) fail(what + ": restart points do not match entry boundaries");
  }

  const char* data_;
  size_t size_;
  const std::string& source_;
};

}  // namespace

std::vector<TableEntry> read_table(const uint8_t* data, size_t size, const std::string& source) {
  return TableReader(data, size, source).read_all();
}

}  // namespace gpt2::tf
