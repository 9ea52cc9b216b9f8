#include <gtest/gtest.h>

#include <cstdlib>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/model_names.hpp"
#include "support/test_support.hpp"

using namespace gpt2;

TEST(ModelNames, AliasesMapToCurrentNames) {
  EXPECT_EQ(canonical_model_name("117M"), "124M");
  EXPECT_EQ(canonical_model_name("345M"), "355M");
  EXPECT_EQ(canonical_model_name("774M"), "774M");
  EXPECT_TRUE(is_released_model("117M"));
  EXPECT_TRUE(is_released_model("1558M"));
  EXPECT_FALSE(is_released_model("125M"));
  EXPECT_FALSE(is_released_model("../124M"));
}

TEST(ModelNames, MissingReleasedModelNamesDownloadCommand) {
  test::TempDir dir("names");
  try {
    resolve_model_dir("345M", dir.path());
    FAIL() << "expected NotFoundError";
  } catch (const NotFoundError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gpt2 download 355M"), std::string::npos) << msg;
    EXPECT_NE(msg.find("--models-dir"), std::string::npos) << msg;
    EXPECT_EQ(e.exit_code(), kExitNotFound);
  }
}

TEST(ModelNames, FindsExistingDirectoryByNameOrPath) {
  test::TempDir dir("names");
  std::filesystem::create_directories(dir / "124M");
  EXPECT_EQ(resolve_model_dir("117M", dir.path()), dir.path() / "124M");
  const auto direct = (dir / "124M").string();
  EXPECT_EQ(resolve_model_dir(direct, "/nonexistent"), std::filesystem::path(direct));
  EXPECT_FALSE(find_model_dir("./nope", dir.path()).has_value());
  EXPECT_THROW(resolve_model_dir("unknown", dir.path()), NotFoundError);
}

TEST(ModelNames, EnvironmentOverridesModelsDir) {
  setenv("GPT2_MODELS_DIR", "/tmp/somewhere", 1);
  EXPECT_EQ(default_models_dir(), std::filesystem::path("/tmp/somewhere"));
  setenv("GPT2_MODELS_DIR", "", 1);
  EXPECT_EQ(default_models_dir(), std::filesystem::path("models"));
  unsetenv("GPT2_MODELS_DIR");
}
