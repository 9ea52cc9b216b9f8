// GPT-2 hyper-parameters, as in a model directory's hparams.json.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace gpt2 {

struct HParams {
  int64_t n_vocab = 50257;
  int64_t n_ctx = 1024;
  int64_t n_embd = 768;
  int64_t n_head = 12;
  int64_t n_layer = 12;

  int64_t head_dim() const { return n_embd / n_head; }
  // Parameters of the model these describe (tied output projection counted once).
  int64_t num_parameters() const;

  // Parses hparams.json text. `source` names the file in error messages.
  // Throws FormatError on bad JSON, missing/non-integer/non-positive fields, or
  // n_embd not divisible by n_head.
  static HParams from_json(const std::string& text, const std::string& source = "hparams.json");
  // Reads and parses a file; NotFoundError if it does not exist.
  static HParams load(const std::filesystem::path& file);
  // Parses a Hugging Face GPT-2 config.json: n_embd, n_layer, n_head, vocab_size
  // and n_positions (or n_ctx). Throws FormatError for missing/bad fields and for
  // settings this implementation does not support (n_inner != 4*n_embd, an
  // activation other than the tanh GELU, a model_type other than gpt2).
  static HParams from_hf_config(const std::string& text, const std::string& source = "config.json");
  // The hparams of a model directory: its hparams.json if present, else its
  // Hugging Face config.json. NotFoundError if it has neither.
  static HParams load_dir(const std::filesystem::path& model_dir);
  // The hparams of a released size (124M, 355M, 774M, 1558M, or an alias).
  // Throws UsageError for any other name.
  static HParams released(const std::string& name);

  std::string to_json() const;
  // A Hugging Face GPT-2 config.json for these hparams, as
  // GPT2LMHeadModel.save_pretrained writes it (model_type gpt2, gelu_new,
  // layer_norm_epsilon 1e-5, tied embeddings; eot id = n_vocab - 1).
  std::string to_hf_config() const;
  bool operator==(const HParams& o) const {
    return n_vocab == o.n_vocab && n_ctx == o.n_ctx && n_embd == o.n_embd && n_head == o.n_head &&
           n_layer == o.n_layer;
  }
};

}  // namespace gpt2
