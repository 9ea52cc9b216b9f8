// Per-prompt settings through the real binary: a --prompts JSONL file whose
// records carry their own sampling settings, seeds, lengths and stop strings.
// Rows with different settings share one batch, and each prompt's samples are
// byte for byte what a run of that prompt alone with the same flags prints.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/in_process.hpp"
#include "support/test_support.hpp"

using gpt2::test::run_gpt2;
using gpt2::test::TempDir;
using nlohmann::json;

namespace {

using gpt2::test::tiny_ref;

std::vector<json> records_of(const std::string& out) {
  std::vector<json> v;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) v.push_back(json::parse(l));
  return v;
}

struct Prompt {
  const char* record;             // the JSONL line
  const char* text;               // its prompt
  std::vector<std::string> flags; // the same settings as flags, for the run alone
};

// Four prompts of four tokens each (so with --batch-size 8 every row shares one batch).
const std::vector<Prompt> kPrompts = {
    {R"({"id": "a", "prompt": "Hello, my dog", "temperature": 0.7, "top_k": 5, "seed": 11})", "Hello, my dog",
     {"--temperature", "0.7", "--top-k", "5", "--seed", "11"}},
    {R"({"prompt": "The cat sat on", "top_p": 0.9, "repetition_penalty": 1.3, "length": 6, "seed": 12})",
     "The cat sat on", {"--top-p", "0.9", "--repetition-penalty", "1.3", "--length", "6", "--seed", "12"}},
    {R"({"prompt": "One two three four", "temperature": 0, "logit_bias": {"13": -100}, "max_tokens": 9, "seed": 13})",
     "One two three four", {"--temperature", "0", "--logit-bias", "13=-100", "--length", "9", "--seed", "13"}},
    {R"({"prompt": "Hello, my cat", "min_p": 0.1, "presence_penalty": 0.5, "frequency_penalty": 0.3, "typical_p": 0.8, "stop": ["e"], "seed": 3})",
     "Hello, my cat",
     {"--min-p", "0.1", "--presence-penalty", "0.5", "--frequency-penalty", "0.3", "--typical-p", "0.8", "--stop", "e",
      "--seed", "3"}},
};

TEST(PromptSettingsE2E, MixedSettingsShareABatchAndEqualEachPromptAlone) {
  TempDir d("prompt-settings");
  std::string file;
  for (const Prompt& p : kPrompts) file += std::string(p.record) + "\n";
  gpt2::test::write_file(d / "p.jsonl", file);
  auto all = run_gpt2({"generate", "--model", tiny_ref(), "--prompts", (d / "p.jsonl").string(), "--nsamples", "2",
                       "--length", "12", "--seed", "4", "--batch-size", "8", "--format", "jsonl", "-v"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const auto recs = records_of(all.out);
  ASSERT_EQ(recs.size(), 8u);
  // One batch: the verbose line reports all 8 rows' prompts in one pass.
  EXPECT_NE(all.err.find("prompt 32 tokens"), std::string::npos) << all.err;
  bool some_differ = false;
  for (size_t p = 0; p < kPrompts.size(); ++p) {
    std::vector<std::string> args = {"generate", "--model", tiny_ref(), "--prompt", kPrompts[p].text, "--nsamples", "2",
                                     "--format", "jsonl"};
    args.insert(args.end(), kPrompts[p].flags.begin(), kPrompts[p].flags.end());
    if (std::find(args.begin(), args.end(), "--length") == args.end()) args.insert(args.end(), {"--length", "12"});
    auto alone = run_gpt2(args);
    ASSERT_EQ(alone.exit_code, 0) << alone.err;
    const auto solo = records_of(alone.out);
    ASSERT_EQ(solo.size(), 2u);
    for (size_t k = 0; k < 2; ++k) {
      const json& r = recs[p * 2 + k];
      EXPECT_EQ(r["text"], solo[k]["text"]) << "prompt " << p << " sample " << k;
      EXPECT_EQ(r["tokens"], solo[k]["tokens"]) << "prompt " << p << " sample " << k;
      EXPECT_EQ(r["finish_reason"], solo[k]["finish_reason"]) << "prompt " << p << " sample " << k;
      EXPECT_EQ(r["seed"], solo[k]["seed"]);
      for (const char* key : {"temperature", "top_k", "top_p", "min_p", "typical_p", "repetition_penalty",
                              "presence_penalty", "frequency_penalty", "logit_bias", "length", "stop"})
        EXPECT_EQ(r["settings"][key], solo[k]["settings"][key]) << "prompt " << p << ": " << key;
    }
    if (recs[p * 2]["text"] != recs[0]["text"]) some_differ = true;
  }
  EXPECT_TRUE(some_differ);
  EXPECT_LE(recs[2]["tokens"].size(), 6u);  // its own length
  EXPECT_EQ(recs[4]["tokens"].size(), 9u);  // greedy, 9 tokens (token 13 banned)
  for (const auto& t : recs[4]["tokens"]) EXPECT_NE(t, 13);
  EXPECT_EQ(recs[0]["prompt_id"], "a");
}

TEST(PromptSettingsE2E, BadSettingsNameTheFileAndLine) {
  TempDir d("prompt-settings-bad");
  bool first = true;  // the real binary once, then in-process (the same run_cli() main() calls)
  auto err_of = [&](const std::string& second) {
    gpt2::test::write_file(d / "p.jsonl", "{\"prompt\": \"ok\"}\n" + second + "\n");
    const std::vector<std::string> args = {"generate", "--model", tiny_ref(), "--prompts", (d / "p.jsonl").string(),
                                           "--length", "4", "--format", "jsonl"};
    auto r = first ? run_gpt2(args) : gpt2::test::run_in_process(args);
    first = false;
    EXPECT_EQ(r.exit_code, 2) << r.err;
    return r.err;
  };
  const std::string f = (d / "p.jsonl").string();
  EXPECT_NE(err_of(R"({"prompt": "x", "top_p": 2})").find(f + " line 2: top_p must be in (0, 1]"), std::string::npos);
  EXPECT_NE(err_of(R"({"prompt": "x", "temperature": "hot"})").find(f + " line 2: temperature must be a number"),
            std::string::npos);
  EXPECT_NE(err_of(R"({"prompt": "x", "max_tokens": 0})").find(f + " line 2: max_tokens must be at least 1"),
            std::string::npos);
  EXPECT_NE(err_of(R"({"prompt": "x", "logit_bias": {"99999": 1}})").find("outside the vocabulary"), std::string::npos);
  EXPECT_NE(err_of(R"({"prompt": "x", "length": 5000})").find(f + " line 2:"), std::string::npos);
}

}  // namespace
