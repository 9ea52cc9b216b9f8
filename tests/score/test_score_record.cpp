// `gpt2 score --jsonl` records (gpt2/score_record.hpp): the text and id of a
// line, or the reason it is bad; blank lines. The end-to-end cases (line
// numbers in messages, --skip-bad) are in tests/cli/test_score_e2e.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "gpt2/score/score_record.hpp"

using nlohmann::json;

TEST(ScoreRecord, TextAndIdAreRead) {
  gpt2::ScoreRecord r = gpt2::parse_score_record(R"({"id": "doc-1", "text": "Hello\nworld \u00e9", "extra": 3})");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.text, "Hello\nworld \xc3\xa9");
  EXPECT_EQ(r.id, json("doc-1"));

  r = gpt2::parse_score_record(R"({"text": "no id"})");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.text, "no id");
  EXPECT_TRUE(r.id.is_null());

  r = gpt2::parse_score_record(R"({"text": "x", "id": {"a": [1, 2.5, null]}})" "\r");  // a CRLF line's '\r'
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.id, json::parse(R"({"a": [1, 2.5, null]})"));
}

TEST(ScoreRecord, BadLinesSayWhy) {
  for (const char* line : {"not json", "{\"text\": \"unterminated", "", "{\"text\": \"a\"} trailing",
                           "{\"text\": \"\xff\"}"})  // invalid UTF-8 inside a JSON string
    EXPECT_EQ(gpt2::parse_score_record(line).error, "not valid JSON") << line;
  for (const char* line : {"[\"text\"]", "\"text\"", "42", "{\"id\": 1}", "{\"text\": 5}", "{\"text\": null}",
                           "{\"Text\": \"a\"}"})
    EXPECT_EQ(gpt2::parse_score_record(line).error, "no \"text\" string field") << line;
  EXPECT_EQ(gpt2::parse_score_record(R"({"text": "", "id": 1})").error, "nothing to score (empty \"text\")");
}

TEST(ScoreRecord, BlankLines) {
  for (const char* line : {"", " ", "\t \r", "\n"}) EXPECT_TRUE(gpt2::is_blank_line(line)) << line;
  for (const char* line : {"x", " {}", "\v"}) EXPECT_FALSE(gpt2::is_blank_line(line)) << line;
}
