#include "tokenizer/piece_cache.hpp"

#include <cstring>

namespace gpt2 {
namespace {

constexpr std::size_t kInitialSlots = 256;
constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;

inline uint64_t mix(uint64_t x) {
  x ^= x >> 32;
  x *= 0xD6E8FEB86659FD93ULL;
  x ^= x >> 32;
  return x;
}

inline uint64_t load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

inline uint64_t load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

}  // namespace

PieceCache::PieceCache(std::size_t max_entries) : max_entries_(max_entries < 16 ? 16 : max_entries) {}

uint64_t PieceCache::pack(const char* p, std::size_t n) {
  if (n >= 8) return load64(p);
  if (n >= 4) return load32(p) | (load32(p + n - 4) << ((n - 4) * 8));  // the overlap agrees
  uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) w |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return w;
}

uint64_t PieceCache::hash_of(std::string_view piece, uint64_t head) {
  uint64_t h = mix((head ^ piece.size()) * kMul);
  const char* p = piece.data() + 8;
  std::size_t n = piece.size();
  if (n <= 8) return h;
  n -= 8;
  while (n >= 8) {
    h = mix((h ^ load64(p)) * kMul);
    p += 8;
    n -= 8;
  }
  return mix((h ^ pack(p, n) ^ (uint64_t{n} << 59)) * kMul);
}

bool PieceCache::matches(const Slot& s, std::string_view piece, uint64_t head) {
  if (piece.size() <= 8) return s.head == head;
  return std::memcmp(reinterpret_cast<const char*>(s.head), piece.data(), piece.size()) == 0;
}

bool PieceCache::find(std::string_view piece, const TokenId** ids, std::size_t* count) {
  if (slots_.empty() || piece.empty() || piece.size() > 255) return false;
  const uint64_t head = pack(piece.data(), piece.size() < 8 ? piece.size() : 8);
  const uint64_t h = hash_of(piece, head);
  const uint32_t tag = tag_of(h, piece.size());
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.tag == 0) return false;
    if (s.tag == tag && matches(s, piece, head)) {
      if (s.value & kSingle) {
        hit_ = static_cast<TokenId>(s.value & ~kSingle);
        *ids = &hit_;
        *count = 1;
      } else {
        *count = static_cast<std::size_t>(ids_[s.value]);
        *ids = ids_.data() + s.value + 1;
      }
      return true;
    }
  }
}

void PieceCache::clear() {
  slots_.assign(slots_.size(), Slot{0, 0, 0});
  ids_.clear();
  size_ = 0;
}

void PieceCache::grow() {
  std::vector<Slot> old;
  old.swap(slots_);
  slots_.assign(old.empty() ? kInitialSlots : old.size() * 2, Slot{0, 0, 0});
  const std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.tag == 0) continue;
    const std::size_t len = s.tag & 0xFF;
    uint64_t h;
    if (len <= 8) {
      char bytes[8];
      std::memcpy(bytes, &s.head, 8);
      h = hash_of(std::string_view(bytes, len), s.head);
    } else {
      const char* p = reinterpret_cast<const char*>(s.head);
      h = hash_of(std::string_view(p, len), pack(p, 8));
    }
    std::size_t i = h & mask;
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void PieceCache::insert(std::string_view piece, const TokenId* ids, std::size_t count) {
  if (piece.empty() || piece.size() > 255 || count == 0) return;
  if (size_ >= max_entries_) clear();
  if ((size_ + 1) * 2 > slots_.size()) grow();
  const uint64_t head = pack(piece.data(), piece.size() < 8 ? piece.size() : 8);
  const uint64_t h = hash_of(piece, head);
  Slot s{piece.size() <= 8 ? head : reinterpret_cast<uint64_t>(piece.data()), tag_of(h, piece.size()), 0};
  if (count == 1 && ids[0] >= 0) {
    s.value = kSingle | static_cast<uint32_t>(ids[0]);
  } else {
    s.value = static_cast<uint32_t>(ids_.size());
    ids_.push_back(static_cast<TokenId>(count));
    ids_.insert(ids_.end(), ids, ids + count);
  }
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i].tag != 0) i = (i + 1) & mask;
  slots_[i] = s;
  ++size_;
}

}  // namespace gpt2
