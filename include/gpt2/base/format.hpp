// Small text helpers every area uses (src/base/format.cpp): printf into a string,
// sizes, durations, shapes, HTML escaping, and the seed a run picks when none is given.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

// printf into a std::string ("%.3f" etc.); any length.
std::string strprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// 1536 -> "1.5 KiB", 512 -> "512 B", negative -> "?".
std::string format_bytes(int64_t bytes);
// 1234567 -> "1,234,567"
std::string format_grouped(int64_t v);
// "7s", "2m05s", "1h02m"; "--" for a negative or non-finite time.
std::string format_duration(double seconds);
// "[1, 768, 2304]"
std::string shape_string(const std::vector<int64_t>& shape);
// & < > " ' as HTML entities (safe in text and in quoted attributes).
std::string html_escape(std::string_view s);

// A fresh random seed of 53 bits (so it survives a trip through a JSON double),
// for runs that were given no --seed.
uint64_t random_seed53();

}  // namespace gpt2
