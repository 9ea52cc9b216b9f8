// Published GPT-2 token ids (tests/data/tokenizer/vectors.json: tiktoken,
// llama.cpp, gpt-tokenizer, GPT-3-Encoder and minGPT test vectors) and llm.c's
// token count of tinyshakespeare.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "gpt2/tokenizer/tokenizer.hpp"
#include "support/test_support.hpp"
#include "tokenizer/pretokenize.hpp"

using gpt2::TokenId;
using gpt2::Tokenizer;

namespace {

const nlohmann::json& vectors() {
  static const nlohmann::json doc =
      nlohmann::json::parse(gpt2::test::read_file(gpt2::test::data_dir() / "tokenizer" / "vectors.json"));
  return doc;
}

}  // namespace

TEST(TokenizerVectors, AllPublishedVectorsMatch) {
  const auto tok = Tokenizer::builtin();
  const gpt2::Pretokenizer pretok;
  const auto& list = vectors().at("tokenizer_vectors");
  ASSERT_EQ(list.size(), 139u);
  int checked = 0;
  for (const auto& v : list) {
    const std::string text = v.at("text").get<std::string>();
    const auto expected = v.at("ids").get<std::vector<TokenId>>();
    const bool special = v.contains("allowed_special");
    const auto ids = special ? tok->encode(text, true) : tok->encode_ordinary(text);
    EXPECT_EQ(ids, expected) << "text: " << text << " (" << v.at("source").at("repo") << ")";
    if (v.value("decode_roundtrip", false)) {
      EXPECT_EQ(tok->decode(ids), text);
    }
    if (v.contains("pretokens")) {
      const auto pieces = pretok.split(text);
      EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()),
                v.at("pretokens").get<std::vector<std::string>>());
    }
    ++checked;
  }
  EXPECT_EQ(checked, 139);
}

// llm.c's tinyshakespeare preparation: sections split on "\n\n", each preceded
// by <|endoftext|> and encoded as ordinary text (with its "\n\n" but the last).
TEST(TokenizerVectors, TinyShakespeareTokenCount) {
  const auto tok = Tokenizer::builtin();
  const auto& check = vectors().at("corpus_checks").at(0);
  const std::string text = check.at("text").get<std::string>();
  ASSERT_EQ(text.size(), check.at("text_source").at("bytes").get<std::size_t>());
  std::vector<std::string> sections;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t hit = text.find("\n\n", pos);
    if (hit == std::string::npos) {
      sections.push_back(text.substr(pos));
      break;
    }
    sections.push_back(text.substr(pos, hit - pos));
    pos = hit + 2;
  }
  std::size_t total = 0;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const std::string s = sections[i] + (i + 1 < sections.size() ? "\n\n" : "");
    total += 1 + tok->encode_ordinary(s).size();
  }
  EXPECT_EQ(total, check.at("expected_total_tokens").get<std::size_t>());
}
