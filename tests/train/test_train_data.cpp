// Training data: documents from text / JSONL / directories, the token cache
// (reused while inputs are unchanged, rebuilt when content or mtime change),
// the validation split and the window sampler.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gpt2/base/errors.hpp"
#include "gpt2/train/train_data.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using gpt2::test::write_file;

TEST(TrainData, TextFilesSplitAtEndOfText) {
  auto docs = gpt2::split_documents({"a.txt", gpt2::DataFileKind::kText}, "one<|endoftext|>two\n<|endoftext|><|endoftext|>");
  EXPECT_EQ(docs, (std::vector<std::string>{"one", "two\n"}));
  docs = gpt2::split_documents({"d/x.txt", gpt2::DataFileKind::kDocument}, "whole <|endoftext|> file");
  EXPECT_EQ(docs, (std::vector<std::string>{"whole <|endoftext|> file"}));
}

TEST(TrainData, JsonlTextFieldAndBadLineNamed) {
  auto docs = gpt2::split_documents({"a.jsonl", gpt2::DataFileKind::kJsonl},
                                    "{\"text\": \"first\"}\n\n{\"text\": \"second\", \"id\": 2}\n");
  EXPECT_EQ(docs, (std::vector<std::string>{"first", "second"}));
  try {
    gpt2::split_documents({"a.jsonl", gpt2::DataFileKind::kJsonl}, "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n");
    FAIL() << "expected FormatError";
  } catch (const gpt2::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("a.jsonl:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gpt2::split_documents({"b.jsonl", gpt2::DataFileKind::kJsonl}, "not json\n"), gpt2::FormatError);
}

TEST(TrainData, SplitDocumentsEdgeCases) {
  using gpt2::DataFileKind;
  using Docs = std::vector<std::string>;
  for (DataFileKind k : {DataFileKind::kText, DataFileKind::kJsonl, DataFileKind::kDocument})
    EXPECT_EQ(gpt2::split_documents({"empty", k}, ""), Docs{});  // an empty file has no document
  EXPECT_EQ(gpt2::split_documents({"a.txt", DataFileKind::kText}, "no separator"), Docs{"no separator"});
  EXPECT_EQ(gpt2::split_documents({"a.txt", DataFileKind::kText}, "<|endoftext|>a<|endoftext|"), Docs{"a<|endoftext|"});
  // JSONL: CRLF lines, blank lines of spaces/tabs/'\r', a last line without '\n', empty texts dropped.
  EXPECT_EQ(gpt2::split_documents({"a.jsonl", DataFileKind::kJsonl},
                                  "{\"text\": \"a\"}\r\n \t\r\n{\"text\": \"\"}\n{\"text\": \"b\\n\"}"),
            (Docs{"a", "b\n"}));
  // Line numbers count blank lines; a non-object, a non-string text and a truncated line are named.
  for (const auto& [bytes, where] : std::vector<std::pair<std::string, std::string>>{
           {"\n\n[1]\n", "c.jsonl:3"}, {"{\"text\": \"a\"}\n{\"text\": 1}", "c.jsonl:2"}, {"{\"text\": \"a", "c.jsonl:1"}}) {
    try {
      gpt2::split_documents({"c.jsonl", DataFileKind::kJsonl}, bytes);
      ADD_FAILURE() << "expected FormatError for " << bytes;
    } catch (const gpt2::FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(where + ":"), std::string::npos) << e.what();
    }
  }
}

TEST(TrainData, ExpandInputs) {
  gpt2::test::TempDir dir("data");
  fs::create_directories(dir / "docs");
  write_file(dir / "docs" / "b.txt", "B");
  write_file(dir / "docs" / "a.txt", "A");
  write_file(dir / "docs" / "skip.md", "x");
  write_file(dir / "c.jsonl", "{\"text\":\"C\"}\n");
  auto files = gpt2::expand_data_inputs({(dir / "docs").string(), (dir / "c.jsonl").string()});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].path.filename(), "a.txt");
  EXPECT_EQ(files[0].kind, gpt2::DataFileKind::kDocument);
  EXPECT_EQ(files[2].kind, gpt2::DataFileKind::kJsonl);
  EXPECT_THROW(gpt2::expand_data_inputs({}), gpt2::UsageError);
  EXPECT_THROW(gpt2::expand_data_inputs({(dir / "missing.txt").string()}), gpt2::NotFoundError);
  fs::create_directories(dir / "empty");
  EXPECT_THROW(gpt2::expand_data_inputs({(dir / "empty").string()}), gpt2::NotFoundError);
}

TEST(TrainData, StreamJoinsDocumentsWithEndOfText) {
  gpt2::test::TempDir dir("data");
  write_file(dir / "a.txt", "hello world<|endoftext|>good night");
  auto tok = gpt2::Tokenizer::builtin();
  auto s = gpt2::load_token_stream(gpt2::expand_data_inputs({(dir / "a.txt").string()}), *tok, {});
  std::vector<uint16_t> want = {31373, 995, 50256};
  for (auto id : tok->encode_ordinary("good night")) want.push_back(static_cast<uint16_t>(id));
  EXPECT_EQ(s.tokens, want);
  EXPECT_EQ(s.documents, 2);
  write_file(dir / "empty.txt", "");
  EXPECT_THROW(gpt2::load_token_stream(gpt2::expand_data_inputs({(dir / "empty.txt").string()}), *tok, {}),
               gpt2::FormatError);
}

TEST(TrainData, CacheReusedWhileInputsUnchangedAndRebuiltWhenTheyChange) {
  gpt2::test::TempDir dir("data");
  const fs::path in = dir / "corpus.txt", cache = dir / "run";
  fs::create_directories(cache);
  write_file(in, "The first version of the corpus.");
  auto tok = gpt2::Tokenizer::builtin();
  const auto files = gpt2::expand_data_inputs({in.string()});
  auto a = gpt2::load_token_stream(files, *tok, cache);
  EXPECT_FALSE(a.from_cache);
  gpt2::write_token_cache(cache, a);
  EXPECT_EQ(fs::file_size(cache / gpt2::kTokenCacheFile), a.tokens.size() * 2);
  auto b = gpt2::load_token_stream(files, *tok, cache);
  EXPECT_TRUE(b.from_cache);
  EXPECT_EQ(b.tokens, a.tokens);

  // same size, same mtime, different content: rebuilt (the content hash)
  const auto mtime = fs::last_write_time(in);
  write_file(in, "The other version of the corpus.");
  ASSERT_EQ(fs::file_size(in), 32u);
  fs::last_write_time(in, mtime);
  auto c = gpt2::load_token_stream(files, *tok, cache);
  EXPECT_FALSE(c.from_cache);
  EXPECT_NE(c.tokens, a.tokens);
  gpt2::write_token_cache(cache, c);
  EXPECT_TRUE(gpt2::load_token_stream(files, *tok, cache).from_cache);

  // same content, new mtime: rebuilt
  fs::last_write_time(in, mtime + std::chrono::seconds(5));
  EXPECT_FALSE(gpt2::load_token_stream(files, *tok, cache).from_cache);

  // a damaged cache file is rebuilt, never trusted
  gpt2::write_token_cache(cache, c);
  write_file(cache / gpt2::kTokenCacheFile, std::string(c.tokens.size() * 2, 'x'));
  auto d = gpt2::load_token_stream(files, *tok, cache);
  EXPECT_FALSE(d.from_cache);
  EXPECT_EQ(d.tokens, c.tokens);
}

TEST(TrainData, ValidationSplitTakesWholeDocumentsOrTheTail) {
  const uint16_t E = 9;
  // four documents of 4, 4, 2, 2 tokens
  const std::vector<uint16_t> t = {1, 1, 1, 1, E, 2, 2, 2, 2, E, 3, 3, E, 4, 4};
  auto s = gpt2::split_validation(t, E, 0.2);  // 15 * 0.2 = 3 tokens: the last two documents
  EXPECT_EQ(s.val, (std::vector<uint16_t>{3, 3, E, 4, 4}));
  EXPECT_EQ(s.train, (std::vector<uint16_t>{1, 1, 1, 1, E, 2, 2, 2, 2}));
  EXPECT_EQ(s.val_documents, 2);
  EXPECT_EQ(s.train_documents, 2);
  auto all = gpt2::split_validation(t, E, 0.99);  // at least one document stays for training
  EXPECT_EQ(all.train, (std::vector<uint16_t>{1, 1, 1, 1}));
  auto none = gpt2::split_validation(t, E, 0);
  EXPECT_EQ(none.train, t);
  EXPECT_TRUE(none.val.empty());
  std::vector<uint16_t> one(100, 5);
  auto tail = gpt2::split_validation(one, E, 0.1);
  EXPECT_EQ(tail.train.size(), 90u);
  EXPECT_EQ(tail.val.size(), 10u);
}

TEST(TrainData, SamplerIsAPureFunctionOfSeedStepMicroRow) {
  const gpt2::WindowSampler a(1000, 64, 42), b(1000, 64, 42), c(1000, 64, 43);
  std::set<int64_t> seen;
  for (int64_t s = 0; s < 50; ++s) {
    const int64_t o = a.offset(s, 1, 2);
    EXPECT_EQ(o, b.offset(s, 1, 2));
    EXPECT_GE(o, 0);
    EXPECT_LE(o + 64, 999);
    seen.insert(o);
  }
  EXPECT_GT(seen.size(), 40u);
  EXPECT_NE(a.offset(0, 0, 0), c.offset(0, 0, 0));
  EXPECT_NE(a.offset(0, 0, 0), a.offset(0, 1, 0));
  EXPECT_NE(a.offset(0, 0, 0), a.offset(0, 0, 1));
  // a stream shorter than the window is used whole
  const gpt2::WindowSampler small(10, 64, 1);
  EXPECT_EQ(small.window(), 9);
  EXPECT_EQ(small.offset(5, 0, 0), 0);
  std::vector<uint16_t> stream = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  auto [x, y] = gpt2::sample_batch(stream, small, 0, 0, 2);
  EXPECT_EQ(x.sizes(), (std::vector<int64_t>{2, 9}));
  EXPECT_TRUE(torch::equal(y, x + 1));
  EXPECT_THROW(gpt2::WindowSampler(1, 8, 0), gpt2::UsageError);
}
