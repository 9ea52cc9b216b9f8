// A bounded cache of BPE results for repeated pieces, keyed by the piece's bytes.
// Keys point into the text being encoded, so a cache lives for one encode call
// (which also keeps it free of locking when a Tokenizer is shared by threads).
// Short pieces (<= 8 bytes) and one-token results, the common case, are stored
// inline in the slot, so a hit touches a single cache line. Pieces longer than
// 255 bytes are not cached.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2 {

class PieceCache {
 public:
  // At most `max_entries` pieces are kept; when full the cache starts over.
  explicit PieceCache(std::size_t max_entries = std::size_t{1} << 15);

  // The cached ids of `piece`: sets *ids / *count and returns true. *ids stays
  // valid until the next insert.
  bool find(std::string_view piece, const TokenId** ids, std::size_t* count);
  // Adds `piece` (which must not be cached yet, and must outlive the cache).
  void insert(std::string_view piece, const TokenId* ids, std::size_t count);
  std::size_t size() const { return size_; }

 private:
  // 16 bytes, so the whole table stays small enough for the CPU's cache.
  struct Slot {
    uint64_t head;   // len <= 8: the bytes, zero padded; else the data pointer
    uint32_t tag;    // high 24 bits of the hash | length (1..255); 0: empty slot
    uint32_t value;  // one id: kSingle | id; more: offset in ids_ of [count, ids...]
  };
  static constexpr uint32_t kSingle = 0x80000000u;
  static uint64_t pack(const char* p, std::size_t n);  // n <= 8
  static uint64_t hash_of(std::string_view piece, uint64_t head);
  static bool matches(const Slot& s, std::string_view piece, uint64_t head);
  static uint32_t tag_of(uint64_t hash, std::size_t len) {
    return (static_cast<uint32_t>(hash >> 32) & 0xFFFFFF00u) | static_cast<uint32_t>(len);
  }
  void grow();
  void clear();

  std::size_t max_entries_;
  std::vector<Slot> slots_;
  std::vector<TokenId> ids_;
  std::size_t size_ = 0;
  TokenId hit_ = 0;
};

}  // namespace gpt2
