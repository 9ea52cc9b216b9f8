#include "gpt2/dataset/shard.hpp"

#include <cstdlib>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {

// A non-negative decimal integer, or nullopt.
std::optional<int64_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

int64_t env_number(const EnvLookup& env, const std::string& name, bool required, int64_t fallback) {
  const auto v = env(name);
  if (!v || v->empty()) {
    if (required) throw UsageError("--shard auto: " + name + " is not set");
    return fallback;
  }
  const auto n = parse_count(*v);
  if (!n) throw UsageError("--shard auto: " + name + "='" + *v + "' is not a non-negative integer");
  return *n;
}

Shard checked(int64_t i, int64_t n, const std::string& what) {
  if (n < 1) throw UsageError(what + ": the shard count must be at least 1, got " + std::to_string(n));
  if (i < 0 || i >= n)
    throw UsageError(what + ": shard index " + std::to_string(i) + " is not in 0.." + std::to_string(n - 1));
  return {i, n};
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Shard parse_shard(const std::string& spec, const EnvLookup& env) {
  if (spec == "auto") {
    if (env("SLURM_ARRAY_TASK_ID")) {
      const int64_t id = env_number(env, "SLURM_ARRAY_TASK_ID", true, 0);
      const int64_t min = env_number(env, "SLURM_ARRAY_TASK_MIN", false, 0);
      const int64_t count = env_number(env, "SLURM_ARRAY_TASK_COUNT", true, 0);
      if (id < min) throw UsageError("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN");
      return checked(id - min, count, "--shard auto (Slurm)");
    }
    if (env("JOB_COMPLETION_INDEX")) {
      const int64_t id = env_number(env, "JOB_COMPLETION_INDEX", true, 0);
      const int64_t count = env_number(env, "GPT2_SHARD_COUNT", true, 0);
      return checked(id, count, "--shard auto (Kubernetes)");
    }
    throw UsageError("--shard auto: neither Slurm (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) nor a Kubernetes "
                     "Indexed Job (JOB_COMPLETION_INDEX, GPT2_SHARD_COUNT) is set; give --shard i/n");
  }
  const size_t slash = spec.find('/');
  const auto i = slash == std::string::npos ? std::nullopt : parse_count(spec.substr(0, slash));
  const auto n = slash == std::string::npos ? std::nullopt : parse_count(spec.substr(slash + 1));
  if (!i || !n) throw UsageError("--shard must be i/n (e.g. 0/4) or auto, got '" + spec + "'");
  return checked(*i, *n, "--shard " + spec);
}

}  // namespace gpt2
