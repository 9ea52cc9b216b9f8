// Reader for the LevelDB-style sorted string table TensorFlow uses for a tensor
// bundle's .index file:
//   [data block]* [metaindex block] [index block] [footer: 48 bytes]
// footer   = metaindex handle, index handle (varint offset + varint size each),
//            zero padding to 40 bytes, magic 0xdb4775248b80fb57 (fixed64 LE)
// block    = contents (uncompressed or Snappy) + 1-byte type + masked crc32c of
//            contents+type
// contents = entries (varint shared, varint non_shared, varint value_len,
//            key delta, value), uint32 restart offsets, uint32 restart count
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gpt2::tf {

struct TableEntry {
  std::string key;
  std::string value;
};

constexpr uint64_t kTableMagic = 0xdb4775248b80fb57ull;
constexpr size_t kFooterSize = 48;
constexpr size_t kBlockTrailerSize = 5;

// Every key/value of the table in `data` (the whole file), in key order.
// Checks the footer, every block handle, block crc, restart array and that keys
// strictly increase. Throws FormatError naming `source` on any problem.
std::vector<TableEntry> read_table(const uint8_t* data, size_t size, const std::string& source);

}  // namespace gpt2::tf
