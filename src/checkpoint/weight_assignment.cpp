#include "checkpoint/weight_assignment.hpp"

#include "gpt2/base/format.hpp"

namespace gpt2::detail {

Assignment assign_tensors(const CheckpointFiles& ck, const HParams& hp) {
  Assignment a;
  a.slots.assign(static_cast<size_t>(weight_count(hp)), nullptr);
  const auto& file = ck.index_file;
  auto problem = [&](const std::string& tensor, const std::string& msg) { a.problems.push_back({file, tensor, msg}); };
  const std::string hp_text = "hparams (n_vocab " + std::to_string(hp.n_vocab) + ", n_ctx " + std::to_string(hp.n_ctx) +
                              ", n_embd " + std::to_string(hp.n_embd) + ", n_layer " + std::to_string(hp.n_layer) + ")";

  for (const TensorRef& t : ck.tensors) {
    const NameMatch m = match_name(t.name, ck.format);
    if (m.kind == NameKind::kIgnored) continue;
    if (m.kind == NameKind::kUnknown) {
      problem(t.name, "unexpected tensor (not a GPT-2 weight)");
      continue;
    }
    if (m.id.layer >= hp.n_layer) {
      problem(t.name, "unexpected tensor: block " + std::to_string(m.id.layer) + " but " + hp_text + " has " +
                          std::to_string(hp.n_layer) + " blocks");
      continue;
    }
    if (t.type == ElemType::kOther) {
      problem(t.name, "dtype " + t.dtype + " is not supported (float32, float16 or bfloat16)");
      continue;
    }
    if (m.kind == NameKind::kLmHead) {
      const auto want = expected_shape({-1, WeightField::kWte}, hp, ck.format);
      if (t.shape != want)
        problem(t.name, "shape " + shape_string(t.shape) + ": only an output head tied to wte " +
                            shape_string(want) + " is supported");
      else
        a.lm_head = &t;
      continue;
    }
    const auto want = expected_shape(m.id, hp, ck.format);
    if (t.shape != want) {
      problem(t.name, "shape " + shape_string(t.shape) + ", expected " + shape_string(want) + " from " + hp_text);
      continue;
    }
    const TensorRef*& slot = a.slots[static_cast<size_t>(weight_index(m.id))];
    if (slot != nullptr) {
      problem(t.name, "duplicate of tensor '" + slot->name + "'");
      continue;
    }
    slot = &t;
    a.parameter_count += t.num_elements();
  }
  for (size_t i = 0; i < a.slots.size(); ++i)
    if (a.slots[i] == nullptr) {
      // Only report names whose tensor was not reported for something else already.
      const std::string name = weight_name(weight_at(static_cast<int64_t>(i)), ck.format);
      bool mentioned = false;
      for (const auto& p : a.problems) {
        const NameMatch pm = match_name(p.tensor, ck.format);
        mentioned |= pm.kind == NameKind::kWeight && weight_index(pm.id) == static_cast<int64_t>(i);
      }
      if (!mentioned) problem(name, "missing");
    }
  return a;
}

}  // namespace gpt2::detail
