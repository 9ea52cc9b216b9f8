// Writing a complete model directory that this tool and Hugging Face's
// GPT2LMHeadModel.from_pretrained load unchanged:
//   model.safetensors  float32 weights under Hugging Face names, as
//                      GPT2LMHeadModel.save_pretrained writes them
//                      (transformer.h.0.attn.c_attn.weight ..., Conv1D [in, out],
//                      the tied lm_head left out), metadata {"format": "pt"}
//   config.json        HParams::to_hf_config()
//   hparams.json       the released format
//   encoder.json, vocab.bpe   the tokenizer's own files, byte for byte
// Every file is written atomically (temporary name, fsync, rename); the weights
// file last, so a directory with model.safetensors has all the others.
#pragma once

#include <filesystem>

#include "gpt2/tokenizer/tokenizer.hpp"
#include "gpt2/checkpoint/weights.hpp"

namespace gpt2 {

// Creates `dir` if needed. Weights may live anywhere (any device, any layout):
// each is written as contiguous float32 after check_model_weights(weights).
// IoError (naming the file) when a write fails; files already in place stay valid.
void save_model_dir(const std::filesystem::path& dir, const ModelWeights& weights, const Tokenizer& tokenizer);

}  // namespace gpt2
