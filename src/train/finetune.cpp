#include "gpt2/train/finetune.hpp"

#include "gpt2/base/file_io.hpp"
#include "gpt2/base/format.hpp"

#include <torch/types.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>

#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/inspect.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/base/model_names.hpp"
#include "gpt2/train/train_data.hpp"
#include "gpt2/train/train_memory.hpp"
#include "gpt2/train/trainer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gpt2 {

namespace {

void validate(const FinetuneOptions& o) {
  auto positive = [](int64_t v, const char* name) {
    if (v < 1) throw UsageError(std::string(name) + " must be at least 1, got " + std::to_string(v));
  };
  auto non_negative = [](double v, const char* name) {
    if (!(v >= 0)) throw UsageError(std::string(name) + " must be >= 0, got " + std::to_string(v));
  };
  positive(o.steps, "--steps");
  positive(o.batch, "--batch");
  positive(o.accumulate, "--accumulate");
  positive(o.sample_length, "--sample-length");
  positive(o.dist_timeout_s, "--dist-timeout");
  if (o.seq < 0) throw UsageError("--seq must be at least 1 (0: min(n_ctx, 1024)), got " + std::to_string(o.seq));
  if (!(o.lr > 0)) throw UsageError("--lr must be > 0, got " + std::to_string(o.lr));
  non_negative(static_cast<double>(o.warmup), "--warmup");
  non_negative(o.weight_decay, "--weight-decay");
  non_negative(o.clip, "--clip");
  non_negative(static_cast<double>(o.eval_every), "--eval-every");
  non_negative(static_cast<double>(o.sample_every), "--sample-every");
  non_negative(static_cast<double>(o.save_every), "--save-every");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1))
    throw UsageError("--val-fraction must be in [0, 1), got " + std::to_string(o.val_fraction));
  if (o.base.weight_type != ops::WeightType::kFloat32)
    throw UsageError("finetune trains float32 weights: --dtype must be float32");
  if (o.run.empty()) throw UsageError("--run NAME is required (the run directory under --models-dir)");
  if (is_released_model(o.run) || is_released_model(fs::path(o.run).filename().string()))
    throw UsageError("--run " + o.run + " is a released model name: downloaded weights are never overwritten; " +
                     "choose another name");
}

fs::path absolute_path(const fs::path& p) { return fs::absolute(p).lexically_normal(); }

bool same_dir(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return absolute_path(a) == absolute_path(b);
}

// The base model's identity: its directory, hparams and checkpoint file.
json base_identity(const FinetuneOptions& o, const fs::path& base_dir) {
  const ModelInfo info = inspect_model_dir(base_dir, o.base.format);
  std::error_code ec;
  return {{"model", o.base.model},
          {"dir", absolute_path(base_dir).string()},
          {"hparams", json::parse(info.hp.to_json())},
          {"format", to_string(info.format)},
          {"checkpoint_file", info.checkpoint_file.filename().string()},
          {"checkpoint_size", static_cast<int64_t>(fs::file_size(info.checkpoint_file, ec))},
          {"checkpoint_mtime_ns", file_mtime_ns(info.checkpoint_file)}};
}

json settings_json(const FinetuneOptions& o, int64_t seq, const std::string& device, int world_size) {
  json data = json::array();
  for (const auto& d : o.data) data.push_back(absolute_path(d).string());
  return {{"data", data},           {"steps", o.steps},
          {"seq", seq},             {"batch", o.batch},
          {"accumulate", o.accumulate}, {"lr", o.lr},
          {"warmup", o.warmup},     {"schedule", to_string(o.schedule)},
          {"weight_decay", o.weight_decay}, {"clip", o.clip},
          {"val_fraction", o.val_fraction}, {"eval_every", o.eval_every},
          {"sample_every", o.sample_every}, {"save_every", o.save_every},
          {"device", device},       {"threads", o.base.threads},
          {"world_size", world_size}};  // data-parallel processes; "batch" is per process
}

// A new run's directory before its first checkpoint: the token cache, written at once.
bool holds_only_token_cache(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name != kTokenCacheFile && name != kTokenCacheMeta) return false;
  }
  return !ec;
}

// The directory checks of item 7: where the run goes and whether it may be written.
void check_run_target(const FinetuneOptions& o, const fs::path& run_dir, const fs::path& base_dir) {
  if (same_dir(run_dir, base_dir))
    throw UsageError("--run " + o.run + " is the base model itself (" + base_dir.string() +
                     "): a run never overwrites its base; choose another name");
  const fs::path parent = run_dir.has_parent_path() ? run_dir.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec || ::access(parent.c_str(), W_OK) != 0)
    throw IoError("models directory " + parent.string() + " is not writable" + (ec ? ": " + ec.message() : ""));
  recover_run_dir(run_dir);  // a save a crash interrupted
  if (!fs::exists(run_dir, ec)) return;
  if (!fs::is_directory(run_dir, ec))
    throw UsageError("--run " + o.run + ": " + run_dir.string() + " exists and is not a directory");
  if (fs::exists(run_dir / "model.ckpt.index", ec))
    throw UsageError("--run " + o.run + ": " + run_dir.string() +
                     " holds a released TensorFlow checkpoint: downloaded weights are never overwritten");
  if (!is_run_dir(run_dir) && !o.overwrite && !fs::is_empty(run_dir, ec) && !holds_only_token_cache(run_dir))
    throw UsageError("--run " + o.run + ": " + run_dir.string() +
                     " exists and is not a run of gpt2 finetune; pass --overwrite to replace it");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

fs::path run_dir_for(const std::string& run, const fs::path& models_dir) {
  if (run.find('/') != std::string::npos) return fs::path(run);
  return models_dir / run;
}

namespace {

// ---- step 1: open the run (new, or resumed from its directory) --------------

struct OpenedRun {
  fs::path run_dir, base_dir;
  bool resumed = false;
  RunState state;
  ModelWeights weights;  // where training starts: the base model's, or the run's saved ones
  std::shared_ptr<const Tokenizer> tokenizer;
};

OpenedRun open_run(const FinetuneOptions& o, FinetuneObserver& obs) {
  OpenedRun run;
  const fs::path models_dir = o.base.models_dir.empty() ? default_models_dir() : o.base.models_dir;
  run.run_dir = run_dir_for(o.run, models_dir);
  run.base_dir = resolve_model_spec_dir(o.base);
  check_run_target(o, run.run_dir, run.base_dir);
  run.resumed = is_run_dir(run.run_dir) && !o.overwrite;
  const json base = base_identity(o, run.base_dir);
  RunState& st = run.state;
  if (!run.resumed) {
    st.seed = o.seed_given ? o.seed : random_seed53();
    st.base_json = base.dump();
    LoadOptions lo;
    lo.format = o.base.format;
    run.weights = load_model_weights(run.base_dir, lo);
    run.tokenizer = tokenizer_for_model_dir(run.base_dir);
    return run;
  }
  st = read_run_state(run.run_dir);
  const json saved_base = json::parse(st.base_json);
  if (saved_base.value("dir", "") != base.at("dir").get<std::string>())
    throw UsageError("run " + run.run_dir.string() + " was started from " + saved_base.value("dir", "?") +
                     ", not from " + base.at("dir").get<std::string>() +
                     " (give that --model to continue it, or --overwrite to start over)");
  if (saved_base.value("checkpoint_size", int64_t{-1}) != base.at("checkpoint_size").get<int64_t>() ||
      saved_base.value("checkpoint_mtime_ns", int64_t{-1}) != base.at("checkpoint_mtime_ns").get<int64_t>())
    obs.message("note: the base model's checkpoint changed since this run started; the run continues from its "
                "own saved weights");
  if (o.steps <= st.step)
    throw UsageError("run " + run.run_dir.string() + " is already at step " + std::to_string(st.step) +
                     "; give --steps above " + std::to_string(st.step) + " to continue it");
  if (o.seed_given && o.seed != st.seed)
    obs.message("the run keeps its seed " + std::to_string(st.seed) + " (--seed " + std::to_string(o.seed) +
                " applies to new runs only)");
  run.weights = load_model_weights(run.run_dir);
  run.tokenizer = tokenizer_for_model_dir(run.run_dir);
  return run;
}

// ---- step 2: prepare the data ---------------------------------------------

struct PreparedData {
  int64_t seq = 0;
  TokenStream stream;
  DataSplit split;
};

// Tokens from the run's cache when it matches the inputs; else tokenized, and a new
// run writes its cache at once (a first run stopped before its first checkpoint
// does not tokenize again).
PreparedData prepare_data(const FinetuneOptions& o, const OpenedRun& run, const std::vector<DataFile>& files,
                          bool may_write = true) {
  PreparedData d;
  const HParams& hp = run.weights.hp;
  d.seq = o.seq > 0 ? o.seq : std::min<int64_t>(hp.n_ctx, 1024);
  if (d.seq > hp.n_ctx)
    throw UsageError("--seq " + std::to_string(d.seq) + " exceeds the model's context of " + std::to_string(hp.n_ctx));
  const TrainingMemory need = estimate_training_memory(hp, o.batch, d.seq);
  check_training_memory(need, o.memory_limit > 0 ? o.memory_limit : available_memory_bytes(), o.batch, d.seq);

  std::error_code ec;
  const bool has_dir = fs::is_directory(run.run_dir, ec);
  d.stream = load_token_stream(files, *run.tokenizer, has_dir ? run.run_dir : fs::path());
  if (may_write && !d.stream.from_cache && !is_run_dir(run.run_dir)) {
    fs::create_directories(run.run_dir, ec);
    if (ec) throw IoError("cannot create " + run.run_dir.string() + ": " + ec.message());
    write_token_cache(run.run_dir, d.stream);
  }
  d.split = split_validation(d.stream.tokens, static_cast<uint16_t>(run.tokenizer->eot_id()), o.val_fraction);
  return d;
}

// ---- step 3: the training loop ----------------------------------------------

// forward, loss, backward, clip, AdamW per step (train_step); evaluation, samples
// and checkpoints on their schedules; a last checkpoint when anything changed.
FinetuneResult train_loop(const FinetuneOptions& o, OpenedRun& run, const PreparedData& data, TrainableGPT2& model,
                          AdamW& opt, const WindowSampler& sampler, FinetuneObserver& obs,
                          const std::function<bool()>& should_stop, DataParallel* dp) {
  RunState& st = run.state;
  FinetuneResult res;
  res.run_dir = run.run_dir;
  res.start_step = st.step;
  const auto t0 = std::chrono::steady_clock::now();
  const double elapsed_before = st.elapsed_s;
  auto save = [&] {
    st.elapsed_s = elapsed_before + seconds_since(t0);
    save_run(run.run_dir, *model, opt, *run.tokenizer, st, data.stream);
    obs.saved(st.step, run.run_dir);
  };
  const TrainStepSettings ts{o.batch, o.accumulate, o.clip};
  bool dirty = false;
  // Data-parallel: rank 0 alone evaluates, samples and saves while the others wait.
  const bool root = dp == nullptr || dp->is_root();
  auto on_root = [&](const std::string& what, const std::function<void()>& fn) {
    if (dp != nullptr) dp->root_only(what, fn);
    else fn();
  };
  while (st.step < o.steps) {
    bool stop = should_stop && should_stop();
    if (dp != nullptr) stop = dp->sum({stop ? 1.0 : 0.0}, st.step)[0] > 0;  // one rank's Ctrl-C stops them all
    if (stop) {
      res.interrupted = true;
      break;
    }
    const auto ts0 = std::chrono::steady_clock::now();
    const double lr = learning_rate(o.lr, st.step, o.warmup, o.schedule, o.steps);
    const StepResult r = train_step(*model, opt, data.split.train, sampler, st.step, lr, ts, dp);
    ++st.step;
    dirty = true;
    LossPoint p;
    p.step = st.step;
    p.loss = r.loss;
    p.lr = lr;
    p.tokens_per_s = static_cast<double>(r.tokens) / std::max(1e-9, seconds_since(ts0));
    p.elapsed_s = elapsed_before + seconds_since(t0);
    res.loss = r.loss;
    const bool last = st.step == o.steps;
    const bool eval_due = data.split.val.size() >= 2 && ((o.eval_every > 0 && st.step % o.eval_every == 0) || last);
    const bool sample_due = o.sample_every > 0 && st.step % o.sample_every == 0;
    const bool save_due = o.save_every > 0 && st.step % o.save_every == 0 && !last;
    auto report = [&] {
      if (eval_due) {
        p.val_loss = eval_loss(*model, data.split.val, data.seq);
        res.val_loss = p.val_loss;
      }
      st.history.push_back(p);
      obs.step(p, o.steps);
      if (sample_due)
        obs.sample(st.step, sample_text(*model, run.tokenizer, o.sample_length, st.seed + static_cast<uint64_t>(st.step)));
      if (save_due) save();
    };
    if (eval_due || sample_due || save_due)
      on_root("evaluating, sampling or saving step " + std::to_string(st.step), report);
    else if (root)
      report();
    if (save_due) dirty = false;
  }
  if (dirty) on_root("saving step " + std::to_string(st.step), save);
  if (dp != nullptr) {
    dp->finish();
    res.rank = dp->rank();
    res.allreduce_s = dp->allreduce_seconds();
  }
  res.step = st.step;
  return res;
}

FinetuneStart start_info(const OpenedRun& run, const PreparedData& data, const WindowSampler& sampler,
                         const FinetuneOptions& o, const std::string& device) {
  FinetuneStart s;
  s.run_dir = run.run_dir;
  s.base_dir = run.base_dir;
  s.resumed = run.resumed;
  s.start_step = run.state.step;
  s.total_steps = o.steps;
  s.train_tokens = static_cast<int64_t>(data.split.train.size());
  s.val_tokens = static_cast<int64_t>(data.split.val.size());
  s.train_documents = data.split.train_documents;
  s.val_documents = data.split.val_documents;
  s.tokens_from_cache = data.stream.from_cache;
  s.window = sampler.window();
  s.seed = run.state.seed;
  s.memory = estimate_training_memory(run.weights.hp, o.batch, data.seq).describe(o.batch, data.seq);
  s.device = device;
  s.world_size = o.dist.world_size;
  if (o.dist.active()) s.dist = o.dist.describe();
  return s;
}

// ---- step 4: the model, its optimizer (resumed), and the loop ------------

FinetuneResult train(const FinetuneOptions& o, OpenedRun& run, const PreparedData& data, const torch::Device& device,
                     FinetuneObserver& obs, const std::function<bool()>& should_stop, DataParallel* dp) {
  const WindowSampler sampler(static_cast<int64_t>(data.split.train.size()), data.seq, run.state.seed);
  const FinetuneStart info = start_info(run, data, sampler, o, device.str());

  TrainableGPT2 model(run.weights, torch::kFloat32, device);
  run.weights = ModelWeights{};  // release the memory-mapped base
  AdamWOptions ao;
  ao.weight_decay = o.weight_decay;
  AdamW opt(model->params(), ao);
  if (run.resumed) {
    read_optimizer_state(run.run_dir, *model, opt);
    if (opt.steps() != run.state.step)
      throw FormatError(run.run_dir.string() + ": optimizer state is at step " + std::to_string(opt.steps()) +
                        ", training state at step " + std::to_string(run.state.step));
  }
  if (run.resumed) {
    const json saved = json::parse(run.state.settings_json.empty() ? "{}" : run.state.settings_json);
    const int before = saved.value("world_size", 1);
    if (before != o.dist.world_size)
      obs.message("note: the run continues on " + std::to_string(o.dist.world_size) + " process(es), it was on " +
                  std::to_string(before) + " (the global batch is processes x --batch)");
  }
  run.state.settings_json = settings_json(o, data.seq, device.str(), o.dist.world_size).dump();
  obs.started(info);
  return train_loop(o, run, data, model, opt, sampler, obs, should_stop, dp);
}


}  // namespace

FinetuneResult finetune(const FinetuneOptions& o, FinetuneObserver& obs, const std::function<bool()>& should_stop) {
  validate(o);
  const std::vector<DataFile> files = expand_data_inputs(o.data);  // a missing file fails before anything loads
  if (o.base.threads > 0) at::set_num_threads(o.base.threads);
  const torch::Device device = resolve_device(o.base.device);

  // Data-parallel: rank 0 opens the run (recovering an interrupted save) and
  // writes the token cache first; the others then open the same run from it
  // and take rank 0's seed. Everything else reports through rank 0 alone.
  std::unique_ptr<DataParallel> dp;
  if (o.dist.active()) dp = std::make_unique<DataParallel>(o.dist, std::chrono::seconds(o.dist_timeout_s));
  FinetuneObserver silent;
  FinetuneObserver& out = dp == nullptr || dp->is_root() ? obs : silent;
  try {
    OpenedRun run;
    PreparedData data;
    auto open = [&] {
      run = open_run(o, out);
      data = prepare_data(o, run, files, dp == nullptr || dp->is_root());
    };
    if (dp != nullptr) {
      dp->root_only("opening the run and preparing its data", open);
      const std::string seed = dp->share_from_root("seed", std::to_string(run.state.seed));
      if (!dp->is_root()) {
        open();
        run.state.seed = std::stoull(seed);
      }
    } else {
      open();
    }
    return train(o, run, data, device, out, should_stop, dp.get());
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    if (dp != nullptr) dp->report_failure(e.what());  // the others name this rank and its error
    throw;
  }
}

}  // namespace gpt2
