#include "gpt2/checkpoint/tf_bundle.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "checkpoint/protobuf_wire.hpp"
#include "checkpoint/tf_table.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"

namespace gpt2::tf {
namespace {

// Shapes of any real model stay far below this; it keeps products from overflowing.
constexpr int64_t kMaxElements = int64_t{1} << 40;
constexpr size_t kMaxRank = 32;

int32_t to_int32(pb::Reader& r, uint64_t v, const char* field) {
  const auto s = static_cast<int64_t>(v);  // protobuf encodes negative int32 as 10-byte varints
  if (s < std::numeric_limits<int32_t>::min() || s > std::numeric_limits<int32_t>::max())
    r.fail(std::string(field) + " out of range");
  return static_cast<int32_t>(s);
}

void expect_wire(pb::Reader& r, int got, int want, const char* field) {
  if (got != want) r.fail(std::string("field ") + field + " has wire type " + std::to_string(got));
}

BundleHeader parse_header(std::string_view bytes, const std::string& source) {
  pb::Reader r(bytes, source + ": bundle header");
  BundleHeader h;
  uint32_t field;
  int wt;
  while (r.next_field(field, wt)) {
    switch (field) {
      case 1:
        expect_wire(r, wt, pb::kVarint, "num_shards");
        h.num_shards = to_int32(r, r.varint64(), "num_shards");
        break;
      case 2: {
        expect_wire(r, wt, pb::kVarint, "endianness");
        const uint64_t e = r.varint64();
        if (e > 1) r.fail("unknown endianness " + std::to_string(e));
        h.endianness = static_cast<Endianness>(e);
        break;
      }
      case 3: {
        expect_wire(r, wt, pb::kLengthDelimited, "version");
        pb::Reader v(r.length_delimited(), r.what() + ": version");
        uint32_t vf;
        int vwt;
        while (v.next_field(vf, vwt)) {
          if (vf == 1 && vwt == pb::kVarint) h.producer = to_int32(v, v.varint64(), "producer");
          else v.skip(vwt);
        }
        break;
      }
      default: r.skip(wt);
    }
  }
  if (h.num_shards <= 0 || h.num_shards > 100000)
    r.fail("num_shards " + std::to_string(h.num_shards) + " out of range");
  return h;
}

std::vector<int64_t> parse_shape(std::string_view bytes, const std::string& what) {
  pb::Reader r(bytes, what + ": shape");
  std::vector<int64_t> dims;
  uint32_t field;
  int wt;
  while (r.next_field(field, wt)) {
    if (field == 2 && wt == pb::kLengthDelimited) {
      pb::Reader d(r.length_delimited(), what + ": shape dim");
      int64_t size = 0;
      uint32_t df;
      int dwt;
      while (d.next_field(df, dwt)) {
        if (df == 1 && dwt == pb::kVarint) size = static_cast<int64_t>(d.varint64());
        else d.skip(dwt);
      }
      if (size < 0) r.fail("unknown or negative dimension " + std::to_string(size));
      if (dims.size() >= kMaxRank) r.fail("rank above " + std::to_string(kMaxRank));
      dims.push_back(size);
    } else if (field == 3 && wt == pb::kVarint) {
      if (r.varint64() != 0) r.fail("unknown rank");
    } else {
      r.skip(wt);
    }
  }
  return dims;
}

BundleEntry parse_entry(const std::string& name, std::string_view bytes, const std::string& source) {
  const std::string what = source + ": tensor '" + name + "'";
  pb::Reader r(bytes, what);
  BundleEntry e;
  e.name = name;
  uint32_t field;
  int wt;
  while (r.next_field(field, wt)) {
    switch (field) {
      case 1:
        expect_wire(r, wt, pb::kVarint, "dtype");
        e.dtype = to_int32(r, r.varint64(), "dtype");
        break;
      case 2:
        expect_wire(r, wt, pb::kLengthDelimited, "shape");
        e.shape = parse_shape(r.length_delimited(), what);
        break;
      case 3:
        expect_wire(r, wt, pb::kVarint, "shard_id");
        e.shard_id = to_int32(r, r.varint64(), "shard_id");
        break;
      case 4:
        expect_wire(r, wt, pb::kVarint, "offset");
        e.offset = static_cast<int64_t>(r.varint64());
        break;
      case 5:
        expect_wire(r, wt, pb::kVarint, "size");
        e.size = static_cast<int64_t>(r.varint64());
        break;
      case 6:
        expect_wire(r, wt, pb::kFixed32, "crc32c");
        e.crc32c = gpt2::crc32c::unmask(r.fixed32());
        e.has_crc = true;
        break;
      case 7:
        expect_wire(r, wt, pb::kLengthDelimited, "slices");
        r.length_delimited();
        e.sliced = true;
        break;
      default: r.skip(wt);
    }
  }
  return e;
}

void validate_entry(const BundleEntry& e, const BundleHeader& h, const std::string& source) {
  const std::string what = source + ": tensor '" + e.name + "'";
  if (e.shard_id < 0 || e.shard_id >= h.num_shards)
    throw FormatError(what + ": shard " + std::to_string(e.shard_id) + " out of range (bundle has " +
                      std::to_string(h.num_shards) + ")");
  if (e.offset < 0 || e.size < 0 || e.offset > std::numeric_limits<int64_t>::max() - e.size)
    throw FormatError(what + ": bad offset/size " + std::to_string(e.offset) + "/" + std::to_string(e.size));
  int64_t n = 1;
  for (int64_t d : e.shape) {
    if (d != 0 && n > kMaxElements / d)
      throw FormatError(what + ": shape has too many elements");
    n *= d;
  }
  const int64_t elt = dtype_size(e.dtype);
  if (!e.sliced && elt > 0 && n * elt != e.size)
    throw FormatError(what + ": " + std::to_string(e.size) + " bytes for " + std::to_string(n) + " " +
                      dtype_name(e.dtype) + " elements (expected " + std::to_string(n * elt) + ")");
}

}  // namespace

std::string dtype_name(int dtype) {
  switch (dtype) {
    case DT_FLOAT: return "float32";
    case DT_DOUBLE: return "float64";
    case DT_INT32: return "int32";
    case DT_UINT8: return "uint8";
    case DT_INT16: return "int16";
    case DT_INT8: return "int8";
    case DT_STRING: return "string";
    case DT_COMPLEX64: return "complex64";
    case DT_INT64: return "int64";
    case DT_BOOL: return "bool";
    case DT_QINT8: return "qint8";
    case DT_QUINT8: return "quint8";
    case DT_QINT32: return "qint32";
    case DT_BFLOAT16: return "bfloat16";
    case DT_QINT16: return "qint16";
    case DT_QUINT16: return "quint16";
    case DT_UINT16: return "uint16";
    case DT_COMPLEX128: return "complex128";
    case DT_HALF: return "float16";
    case DT_RESOURCE: return "resource";
    case DT_VARIANT: return "variant";
    case DT_UINT32: return "uint32";
    case DT_UINT64: return "uint64";
    default: return "dtype(" + std::to_string(dtype) + ")";
  }
}

int64_t dtype_size(int dtype) {
  switch (dtype) {
    case DT_BOOL: case DT_UINT8: case DT_INT8: case DT_QINT8: case DT_QUINT8: return 1;
    case DT_INT16: case DT_UINT16: case DT_QINT16: case DT_QUINT16: case DT_HALF: case DT_BFLOAT16: return 2;
    case DT_FLOAT: case DT_INT32: case DT_UINT32: case DT_QINT32: return 4;
    case DT_DOUBLE: case DT_INT64: case DT_UINT64: case DT_COMPLEX64: return 8;
    case DT_COMPLEX128: return 16;
    default: return 0;
  }
}

int64_t BundleEntry::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // bounded by parse_bundle_index
  return n;
}

const BundleEntry* BundleIndex::find(const std::string& name) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const BundleEntry& e, const std::string& n) { return e.name < n; });
  return it != entries.end() && it->name == name ? &*it : nullptr;
}

int64_t BundleIndex::shard_bytes(int32_t shard) const {
  int64_t end = 0;
  for (const auto& e : entries)
    if (e.shard_id == shard && !e.sliced) end = std::max(end, e.offset + e.size);
  return end;
}

BundleIndex parse_bundle_index(const uint8_t* data, size_t size, const std::string& source) {
  const std::vector<TableEntry> table = read_table(data, size, source);
  if (table.empty() || !table.front().key.empty())
    throw FormatError(source + ": no bundle header (the empty key) in the index");
  BundleIndex idx;
  idx.header = parse_header(table.front().value, source);
  idx.entries.reserve(table.size() - 1);
  for (size_t i = 1; i < table.size(); ++i) {
    BundleEntry e = parse_entry(table[i].key, table[i].value, source);
    validate_entry(e, idx.header, source);
    idx.entries.push_back(std::move(e));
  }
  return idx;
}

BundleIndex read_bundle_index(const std::filesystem::path& index_file) {
  const auto file = MappedFile::open(index_file);
  return parse_bundle_index(file->data(), file->size(), index_file.string());
}

std::filesystem::path data_file_path(const std::filesystem::path& prefix, int32_t shard, int32_t num_shards) {
  char suffix[64];
  std::snprintf(suffix, sizeof suffix, ".data-%05d-of-%05d", shard, num_shards);
  std::filesystem::path p = prefix;
  p += suffix;
  return p;
}

}  // namespace gpt2::tf
