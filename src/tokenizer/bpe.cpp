#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <functional>
#include <string>

#include "gpt2/base/errors.hpp"

namespace gpt2::bpe {

// Up to 80% full: GPT-2's 50000 merges fit 65536 slots (512 KiB), which stays in
// a core's L2 cache; lookups are memory-bound, so small beats sparse here.
MergeTable::MergeTable(std::size_t expected) { rehash(std::max<std::size_t>(16, expected + expected / 4)); }

void MergeTable::rehash(std::size_t capacity) {
  std::size_t cap = 16;
  int bits = 4;
  while (cap < capacity) {
    cap <<= 1;
    ++bits;
  }
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(cap, kEmpty);
  mask_ = cap - 1;
  shift_ = 64 - bits;
  for (const uint64_t s : old) {
    if (s == kEmpty) continue;
    for (uint64_t i = slot_of(s >> 24);; i = (i + 1) & mask_) {
      if (slots_[i] == kEmpty) {
        slots_[i] = s;
        break;
      }
    }
  }
}

void MergeTable::insert(TokenId a, TokenId b, uint32_t rank, TokenId merged_id) {
  if (a < 0 || b < 0 || merged_id < 0 || a > kMaxId || b > kMaxId || merged_id > kMaxId || rank > kMaxRank) {
    throw FormatError("vocabulary too large for the BPE merge table: merge rank " + std::to_string(rank) + " of ids " +
                      std::to_string(a) + " + " + std::to_string(b) + " -> " + std::to_string(merged_id) +
                      " (ids must be 0.." + std::to_string(kMaxId) + ", ranks at most " + std::to_string(kMaxRank) + ")");
  }
  if ((size_ + 1) * 5 > slots_.size() * 4) rehash(slots_.size() * 2);
  if (merged_by_rank_.size() <= rank) merged_by_rank_.resize(std::max<std::size_t>(rank + 1, merged_by_rank_.size() * 2), -1);
  merged_by_rank_[rank] = merged_id;
  byte_pair_rank_.clear();  // stale now; index_byte_pairs() rebuilds it
  const uint64_t k = key(a, b);
  const uint64_t value = (k << 24) | rank;
  for (uint64_t i = slot_of(k);; i = (i + 1) & mask_) {
    uint64_t& s = slots_[i];
    if (s == kEmpty) {
      s = value;
      ++size_;
      return;
    }
    if ((s >> 24) == k) {
      s = value;
      return;
    }
  }
}

namespace {

// The released loop on syms[0..n) whose pair ranks are already in sc.ranks
// (ranks[i]: the pair (syms[i], syms[i+1]); ranks[n-1] = kNoRank).
void merge_loop(const MergeTable& table, std::vector<TokenId>& syms, std::size_t n, Scratch& sc) {
  while (n > 1) {
    uint32_t best = MergeTable::kNoRank;
    for (std::size_t i = 0; i + 1 < n; ++i) best = std::min(best, sc.ranks[i]);
    sc.work += n;  // one rescan of the pairs per round
    if (best == MergeTable::kNoRank) break;
    // Merge every occurrence of the best pair, left to right, non-overlapping
    // (ranks identify pairs, so "rank == best" means "is this pair"). Pairs
    // away from a merge keep their rank; the ones next to it are looked up again.
    const TokenId merged = table.merged(best);
    std::size_t out = 0;
    std::size_t i = 0;
    std::size_t merges = 0;
    while (i < n) {
      if (sc.ranks[i] == best) {  // never true at i == n-1 (kNoRank there)
        syms[out] = merged;
        sc.ranks[out] = best;  // marks "merged here" until fixed up below
        i += 2;
        ++merges;
      } else {
        syms[out] = syms[i];
        sc.ranks[out] = sc.ranks[i];
        i += 1;
      }
      ++out;
    }
    n = out;
    // Fix up: a merged symbol's pair with its right neighbour, and the pair its
    // left neighbour forms with it, changed.
    for (std::size_t k = 0; k < n && merges > 0; ++k) {
      if (sc.ranks[k] != best) continue;
      --merges;
      if (k > 0) sc.ranks[k - 1] = table.rank(syms[k - 1], syms[k]);
      sc.ranks[k] = k + 1 < n ? table.rank(syms[k], syms[k + 1]) : MergeTable::kNoRank;
    }
  }
  syms.resize(n);
}

}  // namespace

void MergeTable::index_byte_pairs(const std::array<TokenId, 256>& byte_ids) {
  byte_pair_rank_.assign(256 * 256, kNoRank);
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) byte_pair_rank_[(a << 8) | b] = rank(byte_ids[a], byte_ids[b]);
  }
}

void merge_simple(const MergeTable& table, std::vector<TokenId>& syms, Scratch& sc) {
  const std::size_t n = syms.size();
  if (n < 2) return;
  sc.ranks.resize(n);
  for (std::size_t i = 0; i + 1 < n; ++i) sc.ranks[i] = table.rank(syms[i], syms[i + 1]);
  sc.ranks[n - 1] = MergeTable::kNoRank;
  merge_loop(table, syms, n, sc);
}

void encode_piece(const MergeTable& table, const std::array<TokenId, 256>& byte_ids, std::string_view piece,
                  std::vector<TokenId>& syms, Scratch& sc) {
  const std::size_t n = piece.size();
  syms.resize(n);
  for (std::size_t i = 0; i < n; ++i) syms[i] = byte_ids[static_cast<unsigned char>(piece[i])];
  if (n > kHeapThreshold) {
    merge_heap(table, syms, sc);
    return;
  }
  if (n < 2) return;
  sc.ranks.resize(n);
  if (table.has_byte_pairs()) {
    for (std::size_t i = 0; i + 1 < n; ++i) {
      sc.ranks[i] = table.byte_pair_rank(static_cast<unsigned char>(piece[i]), static_cast<unsigned char>(piece[i + 1]));
    }
  } else {
    for (std::size_t i = 0; i + 1 < n; ++i) sc.ranks[i] = table.rank(syms[i], syms[i + 1]);
  }
  sc.ranks[n - 1] = MergeTable::kNoRank;
  merge_loop(table, syms, n, sc);
}

void merge_heap(const MergeTable& table, std::vector<TokenId>& syms, Scratch& sc) {
  const int32_t n = static_cast<int32_t>(syms.size());
  if (n < 2) return;
  auto& prev = sc.prev;
  auto& next = sc.next;
  prev.resize(n);
  next.resize(n);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = (i + 1 < n) ? i + 1 : -1;
  }
  std::vector<TokenId>& id = syms;  // symbol i's token (dead symbols keep stale ids)
  std::vector<char>& alive = sc.alive;
  alive.assign(n, 1);
  auto& heap = sc.heap;
  heap.clear();
  const auto cmp = std::greater<Scratch::Candidate>();
  auto push_pair = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    ++sc.work;
    const uint32_t r = table.rank(id[pos], id[next[pos]]);
    if (r == MergeTable::kNoRank) return;
    heap.push_back({r, pos});
    std::push_heap(heap.begin(), heap.end(), cmp);
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    const uint32_t r = table.rank(id[i], id[i + 1]);
    if (r != MergeTable::kNoRank) heap.push_back({r, i});
  }
  sc.work += static_cast<uint64_t>(n);
  std::make_heap(heap.begin(), heap.end(), cmp);

  while (!heap.empty()) {
    // One step of the released loop: all current occurrences of the lowest-rank
    // pair (they share its rank), merged left to right; new pairs wait until
    // the whole step is done.
    const uint32_t rank = heap.front().rank;
    sc.batch.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      ++sc.work;
      sc.batch.push_back(heap.front().pos);
      std::pop_heap(heap.begin(), heap.end(), cmp);
      heap.pop_back();
    }
    std::sort(sc.batch.begin(), sc.batch.end());
    sc.touched.clear();
    for (int32_t pos : sc.batch) {
      if (!alive[pos] || next[pos] < 0) continue;
      if (table.rank(id[pos], id[next[pos]]) != rank) continue;  // stale candidate
      const int32_t right = next[pos];
      id[pos] = table.merged(rank);
      alive[right] = 0;
      next[pos] = next[right];
      if (next[right] >= 0) prev[next[right]] = pos;
      sc.touched.push_back(pos);
    }
    for (int32_t pos : sc.touched) {
      if (!alive[pos]) continue;
      if (prev[pos] >= 0) push_pair(prev[pos]);
      push_pair(pos);
    }
  }
  int32_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) syms[out++] = id[i];
  syms.resize(out);
}

}  // namespace gpt2::bpe
