// libFuzzer target: a TensorFlow tensor-bundle .index file (LevelDB table with
// Snappy blocks, BundleHeaderProto / BundleEntryProto values).
// Any input must either parse or throw gpt2::FormatError; anything else
// (crash, sanitizer report, other exception, huge allocation) is a bug.
#include <cstddef>
#include <cstdint>

#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gpt2::tf::BundleIndex idx = gpt2::tf::parse_bundle_index(data, size, "fuzz.index");
    int64_t total = 0;
    for (const auto& e : idx.entries) {
      total += e.num_elements() + static_cast<int64_t>(gpt2::tf::dtype_name(e.dtype).size());
      if (idx.find(e.name) == nullptr) __builtin_trap();  // entries are sorted and findable
    }
    for (int32_t s = 0; s < idx.header.num_shards && s < 4; ++s) total += idx.shard_bytes(s);
    (void)total;
  } catch (const gpt2::FormatError&) {
  }
  return 0;
}
