// Shared by the `gpt2 score` end-to-end tests: the tiny-ref fixture and its
// float64 reference (tests/tools/score_reference.py -> score_expected.json).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "support/test_support.hpp"

namespace gpt2::test {

inline const nlohmann::json& score_reference() {
  static const nlohmann::json j = nlohmann::json::parse(read_file(data_dir() / "tiny-ref" / "score_expected.json"));
  return j;
}

}  // namespace gpt2::test
