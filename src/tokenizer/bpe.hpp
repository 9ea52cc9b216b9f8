// The byte-pair merge core: a rank table keyed by pairs of token ids, and the
// merge loop of the released encoder's bpe(): repeatedly take the adjacent pair
// with the lowest rank and merge all its occurrences left to right.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <cstdint>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::bpe {

// Open-addressing hash table (pair of ids) -> (rank, merged id). A slot is one
// 64-bit word (left id: 20 bits, right id: 20 bits, rank: 24 bits), so the whole
// GPT-2 table is 1 MiB and stays in cache; merged ids are kept by rank.
class MergeTable {
 public:
  static constexpr uint32_t kNoRank = UINT32_MAX;
  static constexpr TokenId kMaxId = (1 << 20) - 2;       // ids must be <= this (all-ones key marks empty slots)
  static constexpr uint32_t kMaxRank = (1u << 24) - 2;   // ranks must be <= this

  explicit MergeTable(std::size_t expected = 0);
  // Adds or replaces (a, b). A later insert of the same pair wins (as a Python dict does).
  void insert(TokenId a, TokenId b, uint32_t rank, TokenId merged_id);
  std::size_t size() const { return size_; }

  // Rank of the pair (a, b), or kNoRank.
  uint32_t rank(TokenId a, TokenId b) const {
    const uint64_t k = key(a, b);
    for (uint64_t i = slot_of(k);; i = (i + 1) & mask_) {
      const uint64_t s = slots_[i];
      if ((s >> 24) == k) return static_cast<uint32_t>(s & kRankMask);
      if (s == kEmpty) return kNoRank;
    }
  }
  // The token a merge of the given rank makes.
  TokenId merged(uint32_t rank) const { return merged_by_rank_[rank]; }
  // Rank of (a, b), or kNoRank; the merged token's id goes to *merged.
  uint32_t find(TokenId a, TokenId b, TokenId* merged_id) const {
    const uint32_t r = rank(a, b);
    if (r != kNoRank) *merged_id = merged(r);
    return r;
  }

  // Builds a dense table of the ranks of all byte pairs (call after the last
  // insert): every piece's first round of lookups then costs no hashing.
  void index_byte_pairs(const std::array<TokenId, 256>& byte_ids);
  uint32_t byte_pair_rank(unsigned char a, unsigned char b) const { return byte_pair_rank_[(a << 8) | b]; }
  bool has_byte_pairs() const { return !byte_pair_rank_.empty(); }

 private:
  static constexpr uint64_t kRankMask = (uint64_t{1} << 24) - 1;
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // key bits all ones: never a real pair
  static uint64_t key(TokenId a, TokenId b) {
    return (uint64_t{static_cast<uint32_t>(a)} << 20) | static_cast<uint32_t>(b);
  }
  uint64_t slot_of(uint64_t k) const { return (k * 0x9E3779B97F4A7C15ULL) >> shift_; }
  void rehash(std::size_t capacity);

  std::vector<uint64_t> slots_;
  std::vector<TokenId> merged_by_rank_;
  std::vector<uint32_t> byte_pair_rank_;  // 256 x 256, or empty
  uint64_t mask_ = 0;
  int shift_ = 64;
  std::size_t size_ = 0;
};

// Reusable buffers for the merge loops (one per encode call, never shared).
struct Scratch {
  std::vector<uint32_t> ranks;
  std::vector<int32_t> prev, next;
  std::vector<char> alive;
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Candidate> heap;
  std::vector<int32_t> batch, touched;
  // Work done so far: pair ranks looked up and candidates popped (not reset by
  // the merge loops; what the tests count instead of timing).
  uint64_t work = 0;
};

// Pieces up to this many symbols use the simple loop; longer ones the heap.
constexpr std::size_t kHeapThreshold = 48;

// The ids of the BPE encoding of `piece` (non-empty) go to `syms`. Same result
// as the released encoder's bpe() for any input; picks the algorithm by length.
void encode_piece(const MergeTable& table, const std::array<TokenId, 256>& byte_ids, std::string_view piece,
                  std::vector<TokenId>& syms, Scratch& scratch);

// Merges `syms` (initially one id per byte) in place, by either algorithm.
// Both are exposed so the tests can check they agree.
// merge_simple: O(n^2) rescans, fastest for short pieces.
void merge_simple(const MergeTable& table, std::vector<TokenId>& syms, Scratch& scratch);
// merge_heap: linked list + min-heap of candidate pairs, O(n log n) for long pieces.
void merge_heap(const MergeTable& table, std::vector<TokenId>& syms, Scratch& scratch);

}  // namespace gpt2::bpe
