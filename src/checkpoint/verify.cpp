// Full integrity check of a model directory (gpt2 verify, and the downloader
// after a download): every problem is reported, nothing throws for a bad model.
#include <cstring>

#include "checkpoint/checkpoint_files.hpp"
#include "checkpoint/weight_assignment.hpp"
#include "gpt2/checkpoint/model_dir.hpp"
#include "gpt2/checkpoint/verify.hpp"
#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace fs = std::filesystem;

namespace {

fs::path hparams_file(const fs::path& dir) {
  const fs::path hp = dir / "hparams.json";
  return fs::exists(hp) || !fs::exists(dir / "config.json") ? hp : dir / "config.json";
}

// Error messages from the readers already start with the file name; keep the
// rest as the problem's message.
std::string strip_prefix(const std::string& msg, const fs::path& file) {
  const std::string prefix = file.string() + ": ";
  return msg.compare(0, prefix.size(), prefix) == 0 ? msg.substr(prefix.size()) : msg;
}

}  // namespace

VerifyReport verify_model_dir(const fs::path& model_dir, std::optional<CheckpointFormat> format) {
  if (!fs::is_directory(model_dir)) throw NotFoundError(model_dir.string() + ": no such model directory");
  VerifyReport r;
  auto problem = [&](const fs::path& file, const std::string& tensor, const std::string& msg) {
    r.problems.push_back({file, tensor, msg});
  };

  std::optional<HParams> hp;
  try {
    hp = HParams::load_dir(model_dir);
  } catch (const Error& e) {
    const fs::path f = hparams_file(model_dir);
    problem(f, "", strip_prefix(e.what(), f));
  }

  try {
    r.format = format ? *format : detect_checkpoint_format(model_dir);
  } catch (const Error& e) {
    problem(model_dir, "", strip_prefix(e.what(), model_dir));
    return r;
  }
  const fs::path ckpt_file = r.format == CheckpointFormat::kTFBundle ? detail::tf_index_path(model_dir)
                                                                      : detail::safetensors_path(model_dir);
  detail::CheckpointFiles ck;
  try {
    ck = detail::open_checkpoint(model_dir, r.format, /*strict=*/false, &r.problems);
  } catch (const Error& e) {
    problem(ckpt_file, "", strip_prefix(e.what(), ckpt_file));
    return r;
  }

  if (hp) {
    const detail::Assignment a = detail::assign_tensors(ck, *hp);
    r.problems.insert(r.problems.end(), a.problems.begin(), a.problems.end());
    // A Hugging Face lm_head must be the tied wte, byte for byte.
    const detail::TensorRef* wte = a.slots.empty() ? nullptr : a.slots[0];
    if (a.lm_head != nullptr && wte != nullptr && a.lm_head->in_bounds && wte->in_bounds &&
        a.lm_head->nbytes == wte->nbytes && std::memcmp(a.lm_head->bytes(), wte->bytes(), wte->nbytes) != 0)
      problem(ck.index_file, a.lm_head->name, "differs from wte (untied output heads are not supported)");
  }

  int64_t out_of_bounds = 0;
  fs::path oob_file;
  for (const detail::TensorRef& t : ck.tensors) {
    if (!t.in_bounds) {
      if (t.file != nullptr) {
        ++out_of_bounds;
        oob_file = t.file_path;
      }
      continue;
    }
    ++r.tensors_checked;
    if (!t.has_crc) continue;
    t.file->advise_sequential(t.offset, t.nbytes);
    const uint32_t crc = crc32c::value(t.bytes(), t.nbytes);
    r.bytes_checked += static_cast<int64_t>(t.nbytes);
    if (crc != t.crc) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "crc32c mismatch: data has %08x, index says %08x (corrupt data)",
                    crc32c::mask(crc), crc32c::mask(t.crc));
      problem(t.file_path, t.name, buf);
    }
  }
  if (out_of_bounds > 0)
    problem(oob_file, "", std::to_string(out_of_bounds) + " tensor(s) lie beyond the end of the file (not checked)");
  return r;
}

}  // namespace gpt2
