// Prompt files and shard specifications.
#include <gtest/gtest.h>

#include <map>

#include "gpt2/base/errors.hpp"
#include "gpt2/dataset/prompt_file.hpp"
#include "gpt2/dataset/shard.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "support/test_support.hpp"

namespace {

using namespace gpt2;

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error of that type)";
}

TEST(PromptFile, TextLinesWithLineNumbersAsIds) {
  const auto p = parse_prompts("Hello there\r\n\nSecond prompt\n   \nthird", false, "p.txt");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].text, "Hello there");
  EXPECT_EQ(p[0].id, 0);
  EXPECT_EQ(p[1].text, "Second prompt");
  EXPECT_EQ(p[1].id, 2);  // the 0-based line number: blank lines keep their place
  EXPECT_EQ(p[2].id, 4);
  EXPECT_EQ(p[2].line, 5);
}

TEST(PromptFile, JsonlWithAndWithoutIds) {
  const auto p = parse_prompts("{\"id\": \"a-1\", \"prompt\": \"Once\"}\n{\"prompt\": \"Twice\"}\n{\"id\": 7, \"prompt\": \"x\"}\n",
                               true, "p.jsonl");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].id, "a-1");
  EXPECT_EQ(p[1].id, 1);
  EXPECT_EQ(p[1].text, "Twice");
  EXPECT_EQ(p[2].id, 7);
}

TEST(PromptFile, BadLinesNameTheLine) {
  EXPECT_NE(error_of<FormatError>([] { parse_prompts("{\"prompt\": \"a\"}\nnot json\n", true, "p.jsonl"); })
                .find("p.jsonl line 2: not JSON"),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([] { parse_prompts("{\"prompt\": \"a\"}\n\n{\"id\": 3}\n", true, "p.jsonl"); })
                .find("p.jsonl line 3: no string field \"prompt\""),
            std::string::npos);
  EXPECT_NE(error_of<FormatError>([] { parse_prompts("[1, 2]\n", true, "p.jsonl"); }).find("line 1"), std::string::npos);
  EXPECT_NE(error_of<UsageError>([] { parse_prompts("\n \n", false, "p.txt"); }).find("holds no prompt"),
            std::string::npos);
}

TEST(PromptFile, FormatFromExtensionOrFirstCharacter) {
  test::TempDir d("prompts");
  test::write_file(d / "a.txt", "{\"prompt\": \"json in a .txt\"}\n");
  test::write_file(d / "b.jsonl", "{\"prompt\": \"b\"}\n");
  test::write_file(d / "c.txt", "plain\n");
  EXPECT_EQ(read_prompt_file(d / "a.txt")[0].text, "json in a .txt");
  EXPECT_EQ(read_prompt_file(d / "b.jsonl")[0].text, "b");
  EXPECT_EQ(read_prompt_file(d / "c.txt")[0].text, "plain");
  EXPECT_THROW(read_prompt_file(d / "missing.txt"), NotFoundError);
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Shard, ExplicitAndOwnership) {
  const Shard s = parse_shard("2/5", env_of({}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  EXPECT_TRUE(s.owns(2));
  EXPECT_TRUE(s.owns(7));
  EXPECT_FALSE(s.owns(3));
  for (const char* bad : {"5/5", "1/0", "a/2", "1-2", "", "/2", "1/", "-1/3"})
    EXPECT_THROW(parse_shard(bad, env_of({})), UsageError) << bad;
}

TEST(Shard, SlurmArray) {
  // sbatch --array=3-6: ids 3..6, min 3, count 4
  const Shard s = parse_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "5"}, {"SLURM_ARRAY_TASK_MIN", "3"},
                                              {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 4);
  const Shard t = parse_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "0"}, {"SLURM_ARRAY_TASK_COUNT", "2"}}));
  EXPECT_EQ(t.index, 0);
  EXPECT_NE(error_of<UsageError>([] { parse_shard("auto", env_of({{"SLURM_ARRAY_TASK_ID", "1"}})); })
                .find("SLURM_ARRAY_TASK_COUNT is not set"),
            std::string::npos);
}

TEST(Shard, KubernetesIndexedJob) {
  const Shard s = parse_shard("auto", env_of({{"JOB_COMPLETION_INDEX", "3"}, {"GPT2_SHARD_COUNT", "8"}}));
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 8);
  EXPECT_THROW(parse_shard("auto", env_of({{"JOB_COMPLETION_INDEX", "8"}, {"GPT2_SHARD_COUNT", "8"}})), UsageError);
  EXPECT_NE(error_of<UsageError>([] { parse_shard("auto", env_of({{"JOB_COMPLETION_INDEX", "1"}})); })
                .find("GPT2_SHARD_COUNT"),
            std::string::npos);
  EXPECT_NE(error_of<UsageError>([] { parse_shard("auto", env_of({})); }).find("neither Slurm"), std::string::npos);
}

}  // namespace
