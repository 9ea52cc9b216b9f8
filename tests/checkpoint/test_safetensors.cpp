#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "checkpoint_test_util.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/safetensors.hpp"

namespace {

using namespace gpt2::test;
namespace st = gpt2::st;

std::string make_file(const std::string& header_json, const std::string& data, uint64_t declared_len = ~0ull) {
  const uint64_t n = declared_len == ~0ull ? header_json.size() : declared_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header_json + data;
}

std::string parse_error(const std::string& bytes) {
  try {
    st::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.safetensors");
  } catch (const gpt2::FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, TinyRefHeader) {
  const st::Header h = st::read_header(tiny_ref_dir() / "model.safetensors");
  EXPECT_EQ(h.header_bytes, 3528u);
  EXPECT_EQ(h.data_start, 3536u);
  EXPECT_EQ(h.tensors.size(), 40u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
  const st::TensorInfo* w = h.find("h.0.attn.c_attn.weight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, "F32");
  EXPECT_EQ(w->shape, (std::vector<int64_t>{24, 72}));
  EXPECT_EQ(w->begin, 3536u + 288u);
  EXPECT_EQ(w->nbytes(), 24u * 72u * 4u);
}

TEST(Safetensors, HfTinyGpt2Header) {
  const st::Header h = st::read_header(hf_tiny_dir() / "model.safetensors");
  EXPECT_EQ(h.tensors.size(), 28u);
  const st::TensorInfo* wte = h.find("transformer.wte.weight");
  ASSERT_NE(wte, nullptr);
  EXPECT_EQ(wte->shape, (std::vector<int64_t>{50257, 2}));
}

TEST(Safetensors, ValidHandMadeFile) {
  const std::string f = make_file(
      R"({"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})",
      std::string(12, '\0'));
  const st::Header h = st::parse_header(reinterpret_cast<const uint8_t*>(f.data()), f.size(), "x");
  ASSERT_EQ(h.tensors.size(), 2u);
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[1].name, "b");
  EXPECT_EQ(h.metadata.at("k"), "v");
}

struct BadCase {
  const char* what;
  std::string file;
  const char* message;
};

TEST(SafetensorsCorrupt, EachBadHeaderHasANamedError) {
  const std::string ok_data(8, '\0');
  const std::vector<BadCase> cases = {
      {"too short", "abc", "too short"},
      {"enormous header", make_file("{}", "", uint64_t{1} << 40), "exceeds"},
      {"header past eof", make_file("{}", "", 1000), "runs past the end"},
      {"not json", make_file("{not json", ok_data), "not valid JSON"},
      {"not object", make_file("\"abc\"", ok_data), "header is not a JSON object"},
      {"array", make_file("[1,2]", ok_data), "entry is not a JSON object"},
      {"offsets lie", make_file(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", ok_data),
       "tensor 't': data_offsets end 80 beyond"},
      {"size mismatch", make_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", ok_data),
       "tensor 't': 8 bytes for 3 F32 elements"},
      {"reversed", make_file(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", ok_data), "reversed"},
      {"bad dtype", make_file(R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", ok_data),
       "tensor 't': unknown dtype 'Q7'"},
      {"negative dim", make_file(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", ok_data),
       "negative dimension"},
      {"huge shape", make_file(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", ok_data),
       "too many elements"},
      {"overlap",
       make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 ok_data),
       "overlap"},
      {"missing offsets", make_file(R"({"t":{"dtype":"F32","shape":[2]}})", ok_data), "data_offsets"},
      {"entry not object", make_file(R"({"t":3})", ok_data), "tensor 't': entry is not a JSON object"},
  };
  for (const auto& c : cases) {
    const std::string err = parse_error(c.file);
    EXPECT_TRUE(contains(err, "m.safetensors: ")) << c.what << ": " << err;
    EXPECT_TRUE(contains(err, c.message)) << c.what << ": " << err;
  }
}

TEST(SafetensorsCorrupt, TruncatedRealFile) {
  const std::string good = read_file(tiny_ref_dir() / "model.safetensors");
  for (size_t n : {size_t{0}, size_t{7}, size_t{100}, size_t{3536}, good.size() - 1}) {
    const std::string err = parse_error(good.substr(0, n));
    EXPECT_FALSE(err.empty()) << n;
  }
  EXPECT_TRUE(contains(parse_error(good.substr(0, good.size() - 1)), "truncated?"));
}

}  // namespace

namespace {

TEST(SafetensorsCorrupt, HostileJsonShapesAreRejectedWhileParsing) {
  const std::string deep = make_file("{\"t\":{\"shape\":" + std::string(1000, '[') + std::string(1000, ']') + "}}", "");
  EXPECT_TRUE(contains(parse_error(deep), "m.safetensors: header nests deeper")) << parse_error(deep);
  std::string wide = "{\"__metadata__\":{\"a\":[";
  for (int i = 0; i < 5000; ++i) wide += "0,";
  wide += "0]}}";
  EXPECT_TRUE(contains(parse_error(make_file(wide, "")), "more than 4096 items")) << parse_error(make_file(wide, ""));
  std::string flat = "{";
  for (int i = 0; i < 100; ++i) flat += "\"k" + std::to_string(i) + "\":0,";
  flat += "\"z\":0}";
  EXPECT_TRUE(contains(parse_error(make_file(flat, "")), "tensor 'k0': entry is not a JSON object"));
}

}  // namespace
