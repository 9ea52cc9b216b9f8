// Reference implementation of the projections on plain libtorch calls.
#include "gpt2/ops.hpp"

#include <torch/torch.h>

#include "gpt2/errors.hpp"

namespace gpt2::ops {

WeightType parse_weight_type(const std::string& s) {
  if (s == "float32" || s == "f32" || s == "fp32") return WeightType::kFloat32;
  if (s == "bfloat16" || s == "bf16") return WeightType::kBFloat16;
  if (s == "int8" || s == "q8") return WeightType::kInt8;
  throw UsageError("unknown weight dtype '" + s + "' (valid: float32, bfloat16, int8)");
}

std::string to_string(WeightType t) {
  switch (t) {
    case WeightType::kFloat32: return "float32";
    case WeightType::kBFloat16: return "bfloat16";
    case WeightType::kInt8: return "int8";
  }
  return "?";
}

namespace {
// Symmetric per-output-channel int8 quantization of rows of m ([rows, cols]).
std::pair<torch::Tensor, torch::Tensor> quantize_rows(const torch::Tensor& m) {
  auto scales = m.abs().amax(1).clamp_min(1e-12) / 127.0;                 // [rows]
  auto q = torch::round(m / scales.unsqueeze(1)).clamp(-127, 127).to(torch::kInt8);  // [rows, cols]
  return {q, scales.to(torch::kFloat32)};
}
}  // namespace

Linear::Linear(const torch::Tensor& w, const torch::Tensor& b, WeightType type)
    : type_(type), in_(w.size(0)), out_(w.size(1)), b_(b) {
  switch (type) {
    case WeightType::kFloat32: w_ = w; break;                              // [in, out]
    case WeightType::kBFloat16: w_ = w.to(torch::kBFloat16); break;        // [in, out]
    case WeightType::kInt8: {
      auto [q, s] = quantize_rows(w.t().contiguous());                     // [out, in], [out]
      w_ = q;
      scales_ = s;
      break;
    }
  }
}

torch::Tensor Linear::operator()(const torch::Tensor& x) const {
  switch (type_) {
    case WeightType::kFloat32: return torch::addmm(b_, x, w_);             // [N, out]
    case WeightType::kBFloat16: return torch::addmm(b_, x, w_.to(torch::kFloat32));
    case WeightType::kInt8:
      return torch::addmm(b_, x, (w_.to(torch::kFloat32) * scales_.unsqueeze(1)).t());
  }
  return {};
}

int64_t Linear::weight_bytes() const {
  int64_t n = w_.numel() * static_cast<int64_t>(w_.element_size()) + b_.numel() * 4;
  if (scales_.defined()) n += scales_.numel() * 4;
  return n;
}

TiedOutput::TiedOutput(const torch::Tensor& wte, WeightType type) : type_(type) {
  switch (type) {
    case WeightType::kFloat32: w_ = wte; break;                            // [V, C]
    case WeightType::kBFloat16: w_ = wte.to(torch::kBFloat16); break;      // [V, C]
    case WeightType::kInt8: {
      auto [q, s] = quantize_rows(wte);                                    // [V, C], [V]
      w_ = q;
      scales_ = s;
      break;
    }
  }
}

torch::Tensor TiedOutput::operator()(const torch::Tensor& x) const {
  switch (type_) {
    case WeightType::kFloat32: return torch::mm(x, w_.t());               // [N, V]
    case WeightType::kBFloat16: return torch::mm(x, w_.to(torch::kFloat32).t());
    case WeightType::kInt8: return torch::mm(x, w_.to(torch::kFloat32).t()) * scales_;
  }
  return {};
}

int64_t TiedOutput::weight_bytes() const {
  int64_t n = w_.numel() * static_cast<int64_t>(w_.element_size());
  if (scales_.defined()) n += scales_.numel() * 4;
  return n;
}

}  // namespace gpt2::ops
