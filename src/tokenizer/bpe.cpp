#include "tokenizer/bpe.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>

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

void MergeTable::insert(TokenId a, TokenId b, uint32_t rank, TokenId merged) {
  if (a < 0 || b < 0 || merged < 0 || a > kMaxId || b > kMaxId || merged > kMaxId || rank > kMaxRank) {
    throw std::length_error("merge table: id or rank too large");
  }
  if ((size_ + 1) * 5 > slots_.size() * 4) rehash(slots_.size() * 2);
  if (merged_by_rank_.size() <= rank) merged_by_rank_.resize(std::max<std::size_t>(rank + 1, merged_by_rank_.size() * 2), -1);
  merged_by_rank_[rank] = merged;
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

void merge_simple(const MergeTable& table, std::vector<TokenId>& syms, Scratch& sc) {
  std::size_t n = syms.size();
  if (n < 2) return;
  // ranks[i] / merged[i]: the pair (syms[i], syms[i+1]).
  sc.ranks.resize(n);
  sc.merged.resize(n);
  for (std::size_t i = 0; i + 1 < n; ++i) sc.ranks[i] = table.find(syms[i], syms[i + 1], &sc.merged[i]);
  sc.ranks[n - 1] = MergeTable::kNoRank;
  while (n > 1) {
    uint32_t best = MergeTable::kNoRank;
    for (std::size_t i = 0; i + 1 < n; ++i) best = std::min(best, sc.ranks[i]);
    if (best == MergeTable::kNoRank) break;
    // Merge every occurrence of the best pair, left to right, non-overlapping
    // (ranks identify pairs, so "rank == best" means "is this pair"). Pairs
    // away from a merge keep their rank; the ones next to it are looked up again.
    std::size_t out = 0;
    std::size_t i = 0;
    std::size_t merges = 0;
    while (i < n) {
      if (sc.ranks[i] == best) {  // never true at i == n-1 (kNoRank there)
        syms[out] = sc.merged[i];
        sc.ranks[out] = best;  // marks "merged here" until fixed up below
        i += 2;
        ++merges;
      } else {
        syms[out] = syms[i];
        sc.ranks[out] = sc.ranks[i];
        sc.merged[out] = sc.merged[i];
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
      if (k > 0) sc.ranks[k - 1] = table.find(syms[k - 1], syms[k], &sc.merged[k - 1]);
      sc.ranks[k] = k + 1 < n ? table.find(syms[k], syms[k + 1], &sc.merged[k]) : MergeTable::kNoRank;
    }
  }
  syms.resize(n);
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
    TokenId m = -1;
    const uint32_t r = table.find(id[pos], id[next[pos]], &m);
    if (r == MergeTable::kNoRank) return;
    heap.push_back({r, pos});
    std::push_heap(heap.begin(), heap.end(), cmp);
  };
  for (int32_t i = 0; i + 1 < n; ++i) {
    TokenId m = -1;
    const uint32_t r = table.find(id[i], id[i + 1], &m);
    if (r != MergeTable::kNoRank) heap.push_back({r, i});
  }
  std::make_heap(heap.begin(), heap.end(), cmp);

  while (!heap.empty()) {
    // One step of the released loop: all current occurrences of the lowest-rank
    // pair (they share its rank), merged left to right; new pairs wait until
    // the whole step is done.
    const uint32_t rank = heap.front().rank;
    sc.batch.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      sc.batch.push_back(heap.front().pos);
      std::pop_heap(heap.begin(), heap.end(), cmp);
      heap.pop_back();
    }
    std::sort(sc.batch.begin(), sc.batch.end());
    sc.touched.clear();
    for (int32_t pos : sc.batch) {
      if (!alive[pos] || next[pos] < 0) continue;
      TokenId m = -1;
      if (table.find(id[pos], id[next[pos]], &m) != rank) continue;  // stale candidate
      const int32_t right = next[pos];
      id[pos] = m;
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

void merge(const MergeTable& table, std::vector<TokenId>& syms, Scratch& scratch) {
  if (syms.size() <= kHeapThreshold) {
    merge_simple(table, syms, scratch);
  } else {
    merge_heap(table, syms, scratch);
  }
}

}  // namespace gpt2::bpe
