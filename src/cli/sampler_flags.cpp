#include "cli/sampler_flags.hpp"

#include "gpt2/generate/sampler_table.hpp"

namespace gpt2::cli {

void SamplerFlags::add_to(CLI::App* app) {
  for (const SamplerSpec& spec : sampler_table()) {
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(values.*member)>;
          if constexpr (std::is_same_v<T, LogitBias>) {
            app->add_option(spec.flag, texts[spec.key], spec.help);
          } else {
            app->add_option(spec.flag, values.*member, spec.help)->capture_default_str();
          }
        },
        spec.field);
  }
}

SamplingOptions SamplerFlags::resolve() const {
  SamplingOptions s = values;
  for (const SamplerSpec& spec : sampler_table()) {
    if (spec.parse_flag == nullptr) continue;
    const auto it = texts.find(spec.key);
    if (it == texts.end()) continue;
    for (const std::string& text : it->second) spec.parse_flag(text, s);
  }
  return s;
}

}  // namespace gpt2::cli
