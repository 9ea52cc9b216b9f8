#include "cli/model_options.hpp"

#include "gpt2/base/errors.hpp"
#include "gpt2/model/model.hpp"

namespace gpt2::cli {

void ModelCliOptions::add_to(CLI::App* sub) {
  sub->add_option("--model", model, "Released model (124M, 355M, 774M, 1558M; 117M/345M aliases) or a model directory")
      ->capture_default_str();
  sub->add_option("--models-dir", models_dir, "Directory holding the models (default: $GPT2_MODELS_DIR or ./models)");
  sub->add_option("--dtype", dtype, "Projection weights as float32, bfloat16, int8 or int4")->capture_default_str();
  sub->add_option("--device", device, "auto, cpu or cuda")->capture_default_str();
  sub->add_option("--threads", threads, "CPU threads (0: libtorch's default)");
  sub->add_flag("--no-cache", no_cache,
                "bfloat16/int8/int4: convert the weights now instead of using (or writing) the model's weight cache");
}

void ModelCliOptions::add_kv_cache_to(CLI::App* sub) {
  sub->add_option("--kv-cache", kv_cache,
                  "KV cache as float32, or float16 (half the bytes each step reads at a long context)")
      ->capture_default_str();
}

ModelSpec ModelCliOptions::spec() const {
  if (threads < 0) throw UsageError("--threads must be >= 0 (0: libtorch's default), got " + std::to_string(threads));
  ModelSpec s;
  s.model = model;
  s.models_dir = models_dir;
  s.weight_type = ops::parse_weight_type(dtype);
  s.device = device;
  s.threads = threads;
  s.weight_cache = !no_cache;
  s.kv_cache_type = parse_kv_cache_type(kv_cache);
  return s;
}

}  // namespace gpt2::cli
