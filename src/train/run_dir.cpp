#include "gpt2/train/run_dir.hpp"

#include "gpt2/base/format.hpp"
#include "gpt2/train/loss_plot.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/checkpoint/mapped_file.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"
#include "gpt2/checkpoint/save_model.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gpt2 {

namespace {

fs::path sibling(const fs::path& run_dir, const char* suffix) {
  fs::path p = run_dir;
  p += suffix;
  return p;
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

// The token cache of `from` into `to`: hard links when possible, else copies.
void link_or_copy(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::create_hard_link(from, to, ec);
  if (!ec) return;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw IoError("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
}

bool cache_matches(const fs::path& dir, const std::string& identity) {
  std::error_code ec;
  if (!fs::exists(dir / kTokenCacheFile, ec) || !fs::exists(dir / kTokenCacheMeta, ec)) return false;
  try {
    return json::parse(read_file(dir / kTokenCacheMeta, "token cache")).at("identity").get<std::string>() == identity;
  } catch (const std::exception&) {
    return false;
  }
}

json to_json(const LossPoint& p) {
  json j = {{"step", p.step}, {"loss", p.loss}, {"lr", p.lr}, {"tokens_per_s", p.tokens_per_s},
            {"elapsed_s", p.elapsed_s}};
  if (p.val_loss >= 0) j["val_loss"] = p.val_loss;
  return j;
}

void write_state_files(const fs::path& dir, const TrainableGPT2Impl& model, const AdamW& opt,
                       const Tokenizer& tokenizer, const RunState& state, const TokenStream& tokens,
                       const fs::path& current) {
  save_model_dir(dir, model.to_weights(), tokenizer);

  // AdamW moments, by HF name, float32 on the CPU.
  std::vector<torch::Tensor> keep;
  std::vector<st::TensorData> tensors;
  const auto& ids = model.weight_ids();
  for (const char* kind : {"exp_avg", "exp_avg_sq"}) {
    const auto& src = std::string(kind) == "exp_avg" ? opt.exp_avg() : opt.exp_avg_sq();
    for (size_t i = 0; i < ids.size(); ++i) {
      keep.push_back(src[i].detach().to(torch::kCPU, torch::kFloat32).contiguous());
      const torch::Tensor& t = keep.back();
      tensors.push_back({std::string(kind) + "." + weight_hf_name(ids[i]), "F32", t.sizes().vec(), t.data_ptr(),
                         static_cast<uint64_t>(t.nbytes())});
    }
  }
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  st::write_file(dir / kOptimizerFile, tensors, {{"format", "pt"}, {"step", std::to_string(opt.steps())}});

  if (cache_matches(current, tokens.identity)) {
    link_or_copy(current / kTokenCacheFile, dir / kTokenCacheFile);
    link_or_copy(current / kTokenCacheMeta, dir / kTokenCacheMeta);
  } else {
    write_token_cache(dir, tokens);
  }
  write_file_atomic(dir / kLossCurveFile, loss_curve_svg(state.history, current.filename().string()));

  json history = json::array();
  for (const auto& p : state.history) history.push_back(to_json(p));
  const json j = {{"tool", kRunTool},
                  {"version", 1},
                  {"step", state.step},
                  {"seed", state.seed},
                  {"sampler", {{"kind", "splitmix64(seed, step, micro-batch, row) window offsets"}, {"seed", state.seed}}},
                  {"elapsed_s", state.elapsed_s},
                  {"settings", json::parse(state.settings_json.empty() ? "{}" : state.settings_json)},
                  {"base", json::parse(state.base_json.empty() ? "{}" : state.base_json)},
                  {"history", history}};
  write_file_atomic(dir / kTrainingStateFile, j.dump(1) + "\n");  // last: the completeness marker
  fsync_directory(dir);
}

}  // namespace

bool is_run_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / kTrainingStateFile, ec)) return false;
  try {
    const json j = json::parse(read_file(dir / kTrainingStateFile, "training state"));
    return j.value("tool", "") == kRunTool;
  } catch (const std::exception&) {
    return false;
  }
}

RunState read_run_state(const fs::path& dir) {
  const fs::path file = dir / kTrainingStateFile;
  try {
    const json j = json::parse(read_file(file, "training state"));
    RunState s;
    s.step = j.at("step").get<int64_t>();
    s.seed = j.at("seed").get<uint64_t>();
    s.elapsed_s = j.value("elapsed_s", 0.0);
    s.settings_json = j.at("settings").dump();
    s.base_json = j.at("base").dump();
    for (const auto& p : j.at("history")) {
      LossPoint lp;
      lp.step = p.at("step").get<int64_t>();
      lp.loss = p.at("loss").get<double>();
      lp.val_loss = p.value("val_loss", -1.0);
      lp.lr = p.value("lr", 0.0);
      lp.tokens_per_s = p.value("tokens_per_s", 0.0);
      lp.elapsed_s = p.value("elapsed_s", 0.0);
      s.history.push_back(lp);
    }
    return s;
  } catch (const json::exception& e) {
    throw FormatError(file.string() + ": bad training state: " + e.what());
  }
}

void read_optimizer_state(const fs::path& dir, const TrainableGPT2Impl& model, AdamW& opt) {
  const fs::path file = dir / kOptimizerFile;
  auto map = MappedFile::open(file);
  const st::Header h = st::parse_header(map->data(), map->size(), file.string());
  std::vector<torch::Tensor> m, v;
  const HParams& hp = model.hparams();
  for (const WeightId& id : model.weight_ids()) {
    for (const char* kind : {"exp_avg", "exp_avg_sq"}) {
      const std::string name = std::string(kind) + "." + weight_hf_name(id);
      const st::TensorInfo* t = h.find(name);
      if (t == nullptr) throw FormatError(file.string() + ": tensor " + name + " missing");
      if (t->dtype != "F32" || t->shape != weight_shape(id, hp))
        throw FormatError(file.string() + ": tensor " + name + " is " + t->dtype + " " + shape_string(t->shape) +
                          ", expected F32 " + shape_string(weight_shape(id, hp)));
      torch::Tensor x = torch::from_blob(const_cast<uint8_t*>(map->data() + t->begin), t->shape, torch::kFloat32)
                            .to(model.device(), model.dtype())
                            .clone();
      (std::string(kind) == "exp_avg" ? m : v).push_back(x);
    }
  }
  const auto it = h.metadata.find("step");
  if (it == h.metadata.end()) throw FormatError(file.string() + ": no step in the metadata");
  opt.load_state(std::stoll(it->second), m, v);
}

void recover_run_dir(const fs::path& run_dir) {
  const fs::path fresh = sibling(run_dir, ".new"), old = sibling(run_dir, ".old");
  std::error_code ec;
  if (!fs::exists(run_dir, ec)) {
    // A crash between the two renames: the new checkpoint if complete, else the old one.
    for (const fs::path& candidate : {fresh, old}) {
      if (is_run_dir(candidate)) {
        fs::rename(candidate, run_dir, ec);
        if (ec) throw IoError("cannot restore " + candidate.string() + " to " + run_dir.string() + ": " + ec.message());
        fsync_directory(run_dir.parent_path().empty() ? fs::path(".") : run_dir.parent_path());
        break;
      }
    }
  }
  remove_tree(fresh);
  remove_tree(old);
}

void save_run(const fs::path& run_dir, const TrainableGPT2Impl& model, const AdamW& opt, const Tokenizer& tokenizer,
              const RunState& state, const TokenStream& tokens) {
  const fs::path fresh = sibling(run_dir, ".new"), old = sibling(run_dir, ".old");
  const fs::path parent = run_dir.parent_path().empty() ? fs::path(".") : run_dir.parent_path();
  std::error_code ec;
  const bool had_previous = fs::exists(run_dir, ec);
  try {
    remove_tree(fresh);
    fs::create_directories(fresh, ec);
    if (ec) throw IoError("cannot create " + fresh.string() + ": " + ec.message());
    write_state_files(fresh, model, opt, tokenizer, state, tokens, run_dir);
  } catch (const Error& e) {
    remove_tree(fresh);
    throw IoError(std::string("saving the checkpoint of step ") + std::to_string(state.step) + " failed: " + e.what() +
                  (had_previous ? "; the previous checkpoint in " + run_dir.string() + " is intact"
                                : "; no checkpoint was written"));
  }
  if (had_previous) {
    fs::rename(run_dir, old, ec);
    if (ec) throw IoError("cannot rename " + run_dir.string() + " to " + old.string() + ": " + ec.message());
  }
  fs::rename(fresh, run_dir, ec);
  if (ec) throw IoError("cannot rename " + fresh.string() + " to " + run_dir.string() + ": " + ec.message());
  fsync_directory(parent);
  remove_tree(old);
}

}  // namespace gpt2
