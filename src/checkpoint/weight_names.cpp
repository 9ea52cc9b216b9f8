#include "checkpoint/weight_names.hpp"

#include <cctype>
#include <optional>

namespace gpt2::detail {
namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

// Parses a decimal layer number at s[pos..] up to `term`; returns the position after it.
std::optional<size_t> parse_layer(const std::string& s, size_t pos, char term, int64_t& layer) {
  size_t i = pos;
  layer = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (i - pos >= 6) return std::nullopt;
    layer = layer * 10 + (s[i] - '0');
    ++i;
  }
  if (i == pos || i >= s.size() || s[i] != term) return std::nullopt;
  if (s[pos] == '0' && i - pos > 1) return std::nullopt;  // no leading zeros
  return i + 1;
}

// The field whose per-format suffix (tf or hf) equals `suffix`, among globals or per-block ones.
std::optional<WeightField> field_named(const std::string& suffix, bool tf, bool per_layer) {
  const int first = per_layer ? kGlobalWeights : 0;
  const int last = per_layer ? kGlobalWeights + kWeightsPerLayer : kGlobalWeights;
  for (int f = first; f < last; ++f) {
    const WeightKind& k = weight_kind(static_cast<WeightField>(f));
    if (suffix == (tf ? k.tf : k.hf)) return k.field;
  }
  return std::nullopt;
}

NameMatch match_tf(const std::string& name) {
  NameMatch m;
  if (!starts_with(name, "model/")) return m;
  const std::string rest = name.substr(6);
  if (auto f = field_named(rest, true, false)) return {NameKind::kWeight, {-1, *f}};
  if (!starts_with(rest, "h")) return m;
  int64_t layer;
  auto after = parse_layer(rest, 1, '/', layer);
  if (!after) return m;
  if (auto f = field_named(rest.substr(*after), true, true)) return {NameKind::kWeight, {layer, *f}};
  return m;
}

NameMatch match_hf(std::string name) {
  NameMatch m;
  if (name == "lm_head.weight") return {NameKind::kLmHead, {}};
  if (starts_with(name, "transformer.")) name = name.substr(12);
  if (auto f = field_named(name, false, false)) return {NameKind::kWeight, {-1, *f}};
  if (!starts_with(name, "h.")) return m;
  int64_t layer;
  auto after = parse_layer(name, 2, '.', layer);
  if (!after) return m;
  const std::string field = name.substr(*after);
  if (field == "attn.bias" || field == "attn.masked_bias") return {NameKind::kIgnored, {layer, WeightField::kWte}};
  if (auto f = field_named(field, false, true)) return {NameKind::kWeight, {layer, *f}};
  return m;
}

}  // namespace

NameMatch match_name(const std::string& name, CheckpointFormat format) {
  return format == CheckpointFormat::kTFBundle ? match_tf(name) : match_hf(name);
}

std::string weight_name(const WeightId& id, CheckpointFormat format) {
  return format == CheckpointFormat::kTFBundle ? weight_tf_name(id) : weight_hf_name(id, false);
}

std::vector<int64_t> expected_shape(const WeightId& id, const HParams& hp, CheckpointFormat format) {
  std::vector<int64_t> shape = weight_shape(id, hp);
  if (format == CheckpointFormat::kTFBundle && weight_kind(id.field).role == WeightRole::kProjection)
    shape.insert(shape.begin(), 1);
  return shape;
}

}  // namespace gpt2::detail
