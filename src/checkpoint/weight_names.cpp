#include "checkpoint/weight_names.hpp"

#include <array>
#include <cctype>

namespace gpt2::detail {
namespace {

struct FieldNames {
  Field field;
  const char* tf;  // after "model/hN/" (or "model/" for globals)
  const char* hf;  // after "h.N." (or nothing for globals)
  bool tf_conv;    // TF stores it as [1, in, out]
};

constexpr std::array<FieldNames, kGlobalFields + kBlockFields> kFields = {{
    {Field::kWte, "wte", "wte.weight", false},
    {Field::kWpe, "wpe", "wpe.weight", false},
    {Field::kLnFG, "ln_f/g", "ln_f.weight", false},
    {Field::kLnFB, "ln_f/b", "ln_f.bias", false},
    {Field::kLn1G, "ln_1/g", "ln_1.weight", false},
    {Field::kLn1B, "ln_1/b", "ln_1.bias", false},
    {Field::kAttnW, "attn/c_attn/w", "attn.c_attn.weight", true},
    {Field::kAttnB, "attn/c_attn/b", "attn.c_attn.bias", false},
    {Field::kAttnProjW, "attn/c_proj/w", "attn.c_proj.weight", true},
    {Field::kAttnProjB, "attn/c_proj/b", "attn.c_proj.bias", false},
    {Field::kLn2G, "ln_2/g", "ln_2.weight", false},
    {Field::kLn2B, "ln_2/b", "ln_2.bias", false},
    {Field::kFcW, "mlp/c_fc/w", "mlp.c_fc.weight", true},
    {Field::kFcB, "mlp/c_fc/b", "mlp.c_fc.bias", false},
    {Field::kMlpProjW, "mlp/c_proj/w", "mlp.c_proj.weight", true},
    {Field::kMlpProjB, "mlp/c_proj/b", "mlp.c_proj.bias", false},
}};

const FieldNames& names_of(Field f) { return kFields[static_cast<size_t>(f)]; }

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

NameMatch match_tf(const std::string& name) {
  NameMatch m;
  if (!starts_with(name, "model/")) return m;
  const std::string rest = name.substr(6);
  for (int g = 0; g < kGlobalFields; ++g)
    if (rest == kFields[g].tf) return {NameKind::kWeight, {-1, kFields[g].field}};
  if (!starts_with(rest, "h")) return m;
  int64_t layer;
  auto after = parse_layer(rest, 1, '/', layer);
  if (!after) return m;
  const std::string field = rest.substr(*after);
  for (size_t f = kGlobalFields; f < kFields.size(); ++f)
    if (field == kFields[f].tf) return {NameKind::kWeight, {layer, kFields[f].field}};
  return m;
}

NameMatch match_hf(std::string name) {
  NameMatch m;
  if (name == "lm_head.weight") return {NameKind::kLmHead, {}};
  if (starts_with(name, "transformer.")) name = name.substr(12);
  for (int g = 0; g < kGlobalFields; ++g)
    if (name == kFields[g].hf) return {NameKind::kWeight, {-1, kFields[g].field}};
  if (!starts_with(name, "h.")) return m;
  int64_t layer;
  auto after = parse_layer(name, 2, '.', layer);
  if (!after) return m;
  const std::string field = name.substr(*after);
  if (field == "attn.bias" || field == "attn.masked_bias") return {NameKind::kIgnored, {layer, Field::kWte}};
  for (size_t f = kGlobalFields; f < kFields.size(); ++f)
    if (field == kFields[f].hf) return {NameKind::kWeight, {layer, kFields[f].field}};
  return m;
}

}  // namespace

int64_t slot_index(const Slot& s) {
  const auto f = static_cast<int64_t>(s.field);
  return s.layer < 0 ? f : kGlobalFields + s.layer * kBlockFields + (f - kGlobalFields);
}

int64_t num_slots(const HParams& hp) { return kGlobalFields + hp.n_layer * kBlockFields; }

Slot slot_at(int64_t index) {
  if (index < kGlobalFields) return {-1, static_cast<Field>(index)};
  const int64_t b = index - kGlobalFields;
  return {b / kBlockFields, static_cast<Field>(kGlobalFields + b % kBlockFields)};
}

NameMatch match_name(const std::string& name, CheckpointFormat format) {
  return format == CheckpointFormat::kTFBundle ? match_tf(name) : match_hf(name);
}

std::string slot_name(const Slot& s, CheckpointFormat format) {
  const FieldNames& n = names_of(s.field);
  if (format == CheckpointFormat::kTFBundle)
    return s.layer < 0 ? std::string("model/") + n.tf : "model/h" + std::to_string(s.layer) + "/" + n.tf;
  return s.layer < 0 ? std::string(n.hf) : "h." + std::to_string(s.layer) + "." + n.hf;
}

std::vector<int64_t> expected_shape(const Slot& s, const HParams& hp, CheckpointFormat format) {
  const int64_t C = hp.n_embd;
  std::vector<int64_t> shape;
  switch (s.field) {
    case Field::kWte: return {hp.n_vocab, C};
    case Field::kWpe: return {hp.n_ctx, C};
    case Field::kLnFG: case Field::kLnFB: case Field::kLn1G: case Field::kLn1B: case Field::kLn2G:
    case Field::kLn2B: case Field::kAttnProjB: case Field::kMlpProjB: return {C};
    case Field::kAttnB: return {3 * C};
    case Field::kFcB: return {4 * C};
    case Field::kAttnW: shape = {C, 3 * C}; break;
    case Field::kAttnProjW: shape = {C, C}; break;
    case Field::kFcW: shape = {C, 4 * C}; break;
    case Field::kMlpProjW: shape = {4 * C, C}; break;
  }
  if (format == CheckpointFormat::kTFBundle) shape.insert(shape.begin(), 1);
  return shape;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace gpt2::detail
