// End-to-end checks of the binary's global behaviour.
#include <gtest/gtest.h>

#include "support/test_support.hpp"

using gpt2::test::run_gpt2;

TEST(App, VersionPrintsAndExitsZero) {
  auto r = run_gpt2({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("gpt2 "), std::string::npos);
}

TEST(App, NoSubcommandIsAUsageError) {
  auto r = run_gpt2({});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.err.empty());
}

TEST(App, UnknownFlagIsAUsageError) {
  auto r = run_gpt2({"--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(r.err.empty());
}

TEST(App, HelpExitsZero) {
  auto r = run_gpt2({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
}
