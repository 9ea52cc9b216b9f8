#include "gpt2/generate/row_settings.hpp"

#include <nlohmann/json.hpp>

#include "gpt2/base/errors.hpp"
#include "gpt2/generate/sampler_table.hpp"

namespace gpt2 {

namespace {

bool names_a_sampler(const nlohmann::json& record) {
  for (const SamplerSpec& spec : sampler_table())
    if (record.contains(spec.key)) return true;
  return false;
}

int64_t integer(const nlohmann::json& v, const std::string& key) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() && std::abs(v.get<double>()) < 9.0e15)
    return static_cast<int64_t>(v.get<double>());
  throw UsageError(key + " must be an integer, got " + v.dump());
}

}  // namespace

std::shared_ptr<const RowSettings> row_settings_from_json(const nlohmann::json& record, const SamplingOptions& base,
                                                          int64_t vocab) {
  if (!record.is_object()) throw UsageError("settings must be a JSON object, got " + record.dump());
  auto s = std::make_shared<RowSettings>();
  bool any = false;
  if (names_a_sampler(record)) {
    SamplingOptions sampling = base;
    apply_sampling_json(record, sampling, vocab);
    s->sampling = sampling;
    any = true;
  }
  if (record.contains("length") && record.contains("max_tokens"))
    throw UsageError("give \"length\" or \"max_tokens\", not both");
  for (const char* key : {"length", "max_tokens"}) {
    const auto it = record.find(key);
    if (it == record.end()) continue;
    const int64_t n = integer(*it, key);
    if (n < 1) throw UsageError(std::string(key) + " must be at least 1, got " + std::to_string(n));
    s->length = n;
    any = true;
  }
  if (const auto it = record.find("seed"); it != record.end()) {
    const int64_t seed = integer(*it, "seed");
    if (seed < 0) throw UsageError("seed must be >= 0, got " + std::to_string(seed));
    s->seed = static_cast<uint64_t>(seed);
    any = true;
  }
  if (const auto it = record.find("stop"); it != record.end()) {
    std::vector<std::string> stop;
    if (it->is_string()) {
      stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_string()) throw UsageError("stop must be a string or a list of strings, got " + it->dump());
        stop.push_back(e.get<std::string>());
      }
    } else if (!it->is_null()) {
      throw UsageError("stop must be a string or a list of strings, got " + it->dump());
    }
    for (const std::string& x : stop)
      if (x.empty()) throw UsageError("stop must not hold an empty string");
    s->stop = stop;
    any = true;
  }
  return any ? s : nullptr;
}

nlohmann::json row_settings_json(const RowSettings& s) {
  nlohmann::json j = s.sampling ? sampling_json(*s.sampling) : nlohmann::json::object();
  if (s.length) j["length"] = *s.length;
  if (s.stop) j["stop"] = *s.stop;
  if (s.seed) j["seed"] = *s.seed;
  return j;
}

}  // namespace gpt2
