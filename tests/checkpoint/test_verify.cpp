// Every corruption named in the issue gives a clear, named error when loading and
// a problem line from verify_model_dir.
#include <gtest/gtest.h>

#include "checkpoint_test_util.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/checkpoint/tf_bundle.hpp"

namespace {

using namespace gpt2::test;
using gpt2::CheckpointFormat;
namespace fs = std::filesystem;

const char* kData = "model.ckpt.data-00000-of-00001";

template <class E = gpt2::FormatError>
std::string load_error(const fs::path& dir, gpt2::LoadOptions opt = {}) {
  try {
    gpt2::load_model_weights(dir, opt);
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error loading " << dir;
  return "";
}

std::string all_problems(const gpt2::VerifyReport& r) {
  std::string s;
  for (const auto& p : r.problems) s += p.file.filename().string() + "|" + p.tensor + "|" + p.message + "\n";
  return s;
}

int64_t tensor_offset(const fs::path& dir, const std::string& name) {
  const auto idx = gpt2::tf::read_bundle_index(dir / "model.ckpt.index");
  return idx.find(name)->offset;
}

TEST(VerifyModelDir, GoodFixtures) {
  const auto tf = gpt2::verify_model_dir(tiny_ref_dir());
  EXPECT_TRUE(tf.ok()) << all_problems(tf);
  EXPECT_EQ(tf.format, CheckpointFormat::kTFBundle);
  EXPECT_EQ(tf.tensors_checked, 40);
  EXPECT_EQ(tf.bytes_checked, 4917696);  // the whole data file
  const auto st = gpt2::verify_model_dir(tiny_ref_dir(), CheckpointFormat::kSafetensors);
  EXPECT_TRUE(st.ok()) << all_problems(st);
  EXPECT_EQ(st.format, CheckpointFormat::kSafetensors);
  EXPECT_EQ(st.tensors_checked, 40);
  const auto hf = gpt2::verify_model_dir(hf_tiny_dir());
  EXPECT_TRUE(hf.ok()) << all_problems(hf);
}

TEST(VerifyModelDir, MissingDirectoryThrows) {
  EXPECT_THROW(gpt2::verify_model_dir(data_dir() / "no-such-model"), gpt2::NotFoundError);
  EXPECT_THROW(gpt2::load_model_weights(data_dir() / "no-such-model"), gpt2::NotFoundError);
}

TEST(VerifyModelDir, Real124MIndexAgainstTruncatedDownload) {
  TempDir d("124m");
  copy_files(tf_index_124m_dir(), d.path(), {"hparams.json", "model.ckpt.index"});
  fs::copy_file(tf_index_124m_dir() / "model.ckpt.data-00000-of-00001.first3MiB", d / kData);
  const auto r = gpt2::verify_model_dir(d.path());
  // The only problems: the truncation, and the tensors beyond it. The first tensor
  // (model/h0/attn/c_attn/b) and everything else within 3 MiB verify.
  const std::string all = all_problems(r);
  ASSERT_EQ(r.problems.size(), 2u) << all;
  EXPECT_TRUE(contains(all, std::string(kData) + "||truncated: 3145728 bytes, the index needs 497759232")) << all;
  EXPECT_TRUE(contains(all, "tensor(s) lie beyond the end of the file")) << all;
  EXPECT_GE(r.tensors_checked, 1);
  EXPECT_LT(r.tensors_checked, 148);
  EXPECT_TRUE(contains(load_error(d.path()), "truncated: 3145728 bytes"));
}

TEST(Corruption, TruncatedDataFile) {
  TempDir d("trunc");
  copy_tiny_tf(d.path());
  truncate_file(d / kData, 4917696 - 100);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, (d / kData).string() + ": truncated: 4917596 bytes, the index needs 4917696")) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(all_problems(r), "truncated")) << all_problems(r);
  EXPECT_TRUE(contains(all_problems(r), "1 tensor(s) lie beyond the end")) << all_problems(r);
}

TEST(Corruption, ExtraBytesInDataFile) {
  TempDir d("extra");
  copy_tiny_tf(d.path());
  write_file(d / kData, read_file(d / kData) + "xx");
  const auto r = gpt2::verify_model_dir(d.path());
  EXPECT_TRUE(contains(all_problems(r), "has 2 bytes beyond the last tensor")) << all_problems(r);
}

TEST(Corruption, MissingDataFile) {
  TempDir d("nodata");
  copy_files(tiny_ref_dir(), d.path(), {"hparams.json", "model.ckpt.index"});
  const std::string err = load_error<gpt2::NotFoundError>(d.path());
  EXPECT_TRUE(contains(err, kData)) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  EXPECT_TRUE(contains(all_problems(r), "data file is missing")) << all_problems(r);
}

TEST(Corruption, FlippedDataByteIsCaughtByChecksums) {
  TempDir d("flip");
  copy_tiny_tf(d.path());
  const int64_t off = tensor_offset(d.path(), "model/h1/mlp/c_fc/w");
  flip_byte(d / kData, static_cast<size_t>(off + 1000), 0x40);
  // Plain loading does not read every byte ...
  EXPECT_NO_THROW(gpt2::load_model_weights(d.path()));
  // ... loading with checksums and verify do.
  gpt2::LoadOptions opt;
  opt.verify_checksums = true;
  const std::string err = load_error(d.path(), opt);
  EXPECT_TRUE(contains(err, "tensor 'model/h1/mlp/c_fc/w': crc32c mismatch")) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_EQ(r.problems[0].tensor, "model/h1/mlp/c_fc/w");
  EXPECT_EQ(r.problems[0].file, d / kData);
  EXPECT_TRUE(contains(r.problems[0].message, "crc32c mismatch")) << r.problems[0].message;
}

TEST(Corruption, GarbageIndex) {
  TempDir d("garbage");
  copy_tiny_tf(d.path());
  std::string g(1324, '\0');
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<char>((i * 2654435761u) >> 13);
  write_file(d / "model.ckpt.index", g);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, (d / "model.ckpt.index").string() + ": bad table magic")) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_EQ(r.problems[0].file, d / "model.ckpt.index");
}

TEST(Corruption, FlippedIndexByte) {
  TempDir d("flipidx");
  copy_tiny_tf(d.path());
  flip_byte(d / "model.ckpt.index", 100);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, "model.ckpt.index: data block 0: block checksum mismatch")) << err;
}

TEST(Corruption, SafetensorsHeaderLiesAboutOffsets) {
  TempDir d("st-lie");
  copy_tiny_st(d.path());
  auto parts = read_safetensors(d / "model.safetensors");
  parts.header["wte.weight"]["data_offsets"][1] = parts.data.size() + 4096;
  write_safetensors(d / "model.safetensors", parts);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, "model.safetensors: tensor 'wte.weight'")) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_TRUE(contains(r.problems[0].message, "tensor 'wte.weight'")) << all_problems(r);
}

TEST(Corruption, SafetensorsEnormousHeaderLength) {
  TempDir d("st-huge");
  copy_tiny_st(d.path());
  std::string f = read_file(d / "model.safetensors");
  f[7] = '\x7f';  // header length ~ 2^63
  write_file(d / "model.safetensors", f);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, "model.safetensors: header length")) << err;
  EXPECT_TRUE(contains(err, "exceeds")) << err;
}

TEST(Corruption, SafetensorsTruncated) {
  TempDir d("st-trunc");
  copy_tiny_st(d.path());
  truncate_file(d / "model.safetensors", 4921232 - 4);
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, "beyond the")) << err;
}

TEST(Corruption, HparamsDisagreeWithTensors) {
  struct Case {
    const char* hparams;
    const char* message;
  };
  const std::vector<Case> cases = {
      {R"({"n_vocab":50257,"n_ctx":64,"n_embd":32,"n_head":4,"n_layer":3})",
       "tensor 'model/h0/attn/c_attn/b': shape [72], expected [96]"},
      {R"({"n_vocab":50257,"n_ctx":128,"n_embd":24,"n_head":3,"n_layer":3})",
       "tensor 'model/wpe': shape [64, 24], expected [128, 24]"},
      {R"({"n_vocab":50000,"n_ctx":64,"n_embd":24,"n_head":3,"n_layer":3})",
       "tensor 'model/wte': shape [50257, 24], expected [50000, 24]"},
      {R"({"n_vocab":50257,"n_ctx":64,"n_embd":24,"n_head":3,"n_layer":4})", "tensor 'model/h3/ln_1/g': missing"},
      {R"({"n_vocab":50257,"n_ctx":64,"n_embd":24,"n_head":3,"n_layer":2})",
       "tensor 'model/h2/attn/c_attn/b': unexpected tensor: block 2"},
  };
  for (const auto& c : cases) {
    TempDir d("hp-bad");
    copy_tiny_tf(d.path());
    write_file(d / "hparams.json", c.hparams);
    const std::string err = load_error(d.path());
    EXPECT_TRUE(contains(err, (d / "model.ckpt.index").string() + ": " + c.message)) << err;
    const auto r = gpt2::verify_model_dir(d.path());
    EXPECT_FALSE(r.ok());
    // The same problem as a verify line: "file|tensor|message".
    const std::string m = c.message;
    const size_t q = m.find("': ");
    const std::string line = m.substr(8, q - 8) + "|" + m.substr(q + 3);
    EXPECT_TRUE(contains(all_problems(r), line)) << line << "\n" << all_problems(r);
  }
}

TEST(Corruption, BadHparamsJson) {
  TempDir d("hp-json");
  copy_tiny_tf(d.path());
  write_file(d / "hparams.json", "{\"n_vocab\": 50257");
  const std::string err = load_error(d.path());
  EXPECT_TRUE(contains(err, "hparams.json: not valid JSON")) << err;
  const auto r = gpt2::verify_model_dir(d.path());
  ASSERT_EQ(r.problems.size(), 1u) << all_problems(r);
  EXPECT_EQ(r.problems[0].file, d / "hparams.json");
  fs::remove(d / "hparams.json");
  EXPECT_TRUE(contains(load_error<gpt2::NotFoundError>(d.path()), "no hparams.json"));
}

TEST(Corruption, NoCheckpointAtAll) {
  TempDir d("empty-model");
  copy_files(tiny_ref_dir(), d.path(), {"hparams.json"});
  EXPECT_THROW(gpt2::detect_checkpoint_format(d.path()), gpt2::NotFoundError);
  EXPECT_TRUE(contains(load_error<gpt2::NotFoundError>(d.path()), "no checkpoint"));
  EXPECT_FALSE(gpt2::verify_model_dir(d.path()).ok());
}

TEST(SafetensorsNames, UnsupportedDtypeUnexpectedIgnoredAndLmHead) {
  TempDir d("st-names");
  copy_tiny_st(d.path());
  const auto base = read_safetensors(d / "model.safetensors");
  const auto st_file = d / "model.safetensors";

  // Mask buffers are ignored; a tied lm_head of wte's shape is accepted.
  auto parts = base;
  add_tensor(parts, "h.0.attn.bias", "F32", {1, 1, 2, 2}, std::string(16, '\0'));
  add_tensor(parts, "h.1.attn.masked_bias", "F32", {}, std::string(4, '\0'));
  const auto& wte = base.header["wte.weight"]["data_offsets"];
  add_tensor(parts, "lm_head.weight", "F32", {50257, 24},
             base.data.substr(wte[0].get<size_t>(), wte[1].get<size_t>() - wte[0].get<size_t>()));
  write_safetensors(st_file, parts);
  EXPECT_NO_THROW(gpt2::load_model_weights(d.path()));
  EXPECT_TRUE(gpt2::verify_model_dir(d.path()).ok()) << all_problems(gpt2::verify_model_dir(d.path()));

  // An lm_head that is not the tied wte is caught by verify.
  parts.data[parts.data.size() - 1] ^= 0x20;
  write_safetensors(st_file, parts);
  EXPECT_TRUE(contains(all_problems(gpt2::verify_model_dir(d.path())), "lm_head.weight|differs from wte"));

  parts = base;
  add_tensor(parts, "lm_head.weight", "F32", {10, 24}, std::string(960, '\0'));
  write_safetensors(st_file, parts);
  EXPECT_TRUE(contains(load_error(d.path()), "tensor 'lm_head.weight': shape [10, 24]"));

  parts = base;
  add_tensor(parts, "h.0.attn.rotary", "F32", {1}, std::string(4, '\0'));
  write_safetensors(st_file, parts);
  EXPECT_TRUE(contains(load_error(d.path()), "tensor 'h.0.attn.rotary': unexpected tensor"));

  parts = base;
  parts.header["ln_f.bias"]["dtype"] = "I32";
  write_safetensors(st_file, parts);
  EXPECT_TRUE(contains(load_error(d.path()), "tensor 'ln_f.bias': dtype I32 is not supported"));

  // The same weight twice (with and without the transformer. prefix).
  parts = base;
  parts.header["transformer.ln_f.bias"] = parts.header["ln_f.bias"];
  parts.header["transformer.ln_f.bias"]["data_offsets"] = {parts.data.size(), parts.data.size() + 96};
  parts.data += std::string(96, '\0');
  write_safetensors(st_file, parts);
  EXPECT_TRUE(contains(load_error(d.path()), "duplicate of tensor")) << load_error(d.path());
}

}  // namespace
