#include "gpt2/checkpoint/save_model.hpp"

#include <torch/torch.h>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/checkpoint/safetensors.hpp"
#include "gpt2/checkpoint/safetensors_writer.hpp"

namespace fs = std::filesystem;

namespace gpt2 {

void save_model_dir(const fs::path& dir, const ModelWeights& weights, const Tokenizer& tokenizer) {
  check_model_weights(weights);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create model directory " + dir.string() + ": " + ec.message());

  write_file_atomic(dir / "encoder.json", tokenizer.encoder_json_text());
  write_file_atomic(dir / "vocab.bpe", tokenizer.vocab_bpe_text());
  write_file_atomic(dir / "hparams.json", weights.hp.to_json() + "\n");
  write_file_atomic(dir / "config.json", weights.hp.to_hf_config());

  // Contiguous float32 CPU copies (no copy for tensors that already are), by HF name.
  std::map<std::string, torch::Tensor> named;
  for_each_weight(weights.hp, [&](const WeightId& id) {
    named[weight_hf_name(id)] = weights.at(id).detach().to(torch::kCPU, torch::kFloat32).contiguous();
  });
  std::vector<st::TensorData> tensors;  // name order, as the safetensors library lays them out
  for (const auto& [name, t] : named)
    tensors.push_back({name, "F32", t.sizes().vec(), t.data_ptr(), static_cast<uint64_t>(t.nbytes())});
  st::write_file(dir / "model.safetensors", tensors, {{"format", "pt"}});
}

}  // namespace gpt2
