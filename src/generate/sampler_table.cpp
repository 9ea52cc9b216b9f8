// The samplers: each one a small stage plus one row of the spec table
// (sampler_table.hpp). The row order is the chain order.
#include "gpt2/generate/sampler_table.hpp"

#include <torch/types.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gpt2/base/errors.hpp"

namespace gpt2 {

namespace {

std::string num(double v) {
  std::ostringstream ss;
  ss << v;
  return ss.str();
}

using Problem = std::optional<std::string>;

// ---- the stages ----------------------------------------------------------

class RepetitionPenalty final : public SamplerStage {
 public:
  explicit RepetitionPenalty(double r) : r_(r) {}
  torch::Tensor apply(torch::Tensor row, const RowHistory& h) const override {
    std::vector<int64_t> context = *h.prompt;
    context.insert(context.end(), h.generated->begin(), h.generated->end());
    apply_repetition_penalty(row.data_ptr<float>(), row.size(1), context, r_);
    return row;
  }

 private:
  double r_;
};

class PresenceFrequencyPenalty final : public SamplerStage {
 public:
  PresenceFrequencyPenalty(double presence, double frequency) : presence_(presence), frequency_(frequency) {}
  torch::Tensor apply(torch::Tensor row, const RowHistory& h) const override {
    apply_presence_frequency(row.data_ptr<float>(), row.size(1), *h.generated, presence_, frequency_);
    return row;
  }

 private:
  double presence_, frequency_;
};

class LogitBiasStage final : public SamplerStage {
 public:
  explicit LogitBiasStage(LogitBias bias) : bias_(std::move(bias)) {}
  torch::Tensor apply(torch::Tensor row, const RowHistory&) const override {
    apply_logit_bias(row.data_ptr<float>(), row.size(1), bias_);
    return row;
  }

 private:
  LogitBias bias_;
};

class Temperature final : public SamplerStage {
 public:
  explicit Temperature(double t) : t_(t) {}
  torch::Tensor apply(torch::Tensor row, const RowHistory&) const override { return row / t_; }

 private:
  double t_;
};

// A filter on [1, V] logits with one parameter (top_k_filter, top_p_filter, ...).
template <typename P>
class Filter final : public SamplerStage {
 public:
  using Fn = torch::Tensor (*)(const torch::Tensor&, P);
  Filter(Fn fn, P p) : fn_(fn), p_(p) {}
  torch::Tensor apply(torch::Tensor row, const RowHistory&) const override { return fn_(row, p_); }

 private:
  Fn fn_;
  P p_;
};

template <typename P>
std::unique_ptr<SamplerStage> filter(torch::Tensor (*fn)(const torch::Tensor&, P), P p) {
  return std::make_unique<Filter<P>>(fn, p);
}

// ---- the range checks ----------------------------------------------------

Problem in_unit_open_closed(double v, const char* off) {  // (0, 1]
  if (v > 0 && v <= 1) return std::nullopt;
  return "must be in (0, 1] (" + std::string(off) + "), got " + num(v);
}

Problem penalty_range(double v) {
  if (v >= -2 && v <= 2) return std::nullopt;
  return "must be in [-2, 2] (0 = off), got " + num(v);
}

Problem logit_bias_problem(const LogitBias& bias, int64_t vocab) {
  for (const auto& [id, b] : bias) {
    if (std::isnan(b) || b == std::numeric_limits<double>::infinity())
      return std::to_string(id) + "=" + num(b) + ": the bias must be a number or -inf";
    if (id < 0 || (vocab > 0 && id >= vocab))
      return ": token id " + std::to_string(id) + " is outside the vocabulary (0.." +
             (vocab > 0 ? std::to_string(vocab - 1) : std::string("n_vocab-1")) + ")";
  }
  return std::nullopt;
}

// "top_p must be ..." / "logit_bias: token id ..." (problems starting with ':' attach to the name).
std::string named(const std::string& name, const std::string& problem) {
  return name + (!problem.empty() && problem.front() == ':' ? "" : " ") + problem;
}

void parse_bias_flag(const std::string& text, SamplingOptions& opt) { opt.logit_bias.push_back(parse_logit_bias(text)); }

// ---- the table -----------------------------------------------------------

const std::vector<SamplerSpec> kSamplerTable = {
    {"repetition_penalty", "--repetition-penalty",
     "Hugging Face's repetition penalty over every context token, prompt included: logit/R where logit > 0, "
     "else logit*R (1 = off)",
     &SamplingOptions::repetition_penalty,
     [](const SamplingOptions& o, int64_t) -> Problem {
       if (o.repetition_penalty > 0 && std::isfinite(o.repetition_penalty)) return std::nullopt;
       return "must be a finite number > 0 (1 = off), got " + num(o.repetition_penalty);
     },
     SamplerPhase::kLogits,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       if (o.repetition_penalty == 1.0) return nullptr;
       return std::make_unique<RepetitionPenalty>(o.repetition_penalty);
     },
     nullptr},
    {"presence_penalty", "--presence-penalty",
     "OpenAI's presence penalty A over the generated tokens: logit - A*[count > 0], in [-2, 2] (0 = off)",
     &SamplingOptions::presence_penalty,
     [](const SamplingOptions& o, int64_t) { return penalty_range(o.presence_penalty); }, SamplerPhase::kLogits,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       if (o.presence_penalty == 0.0 && o.frequency_penalty == 0.0) return nullptr;
       return std::make_unique<PresenceFrequencyPenalty>(o.presence_penalty, o.frequency_penalty);
     },
     nullptr},
    // The frequency penalty shares the presence penalty's stage (OpenAI's one formula).
    {"frequency_penalty", "--frequency-penalty",
     "OpenAI's frequency penalty B over the generated tokens: logit - B*count, in [-2, 2] (0 = off)",
     &SamplingOptions::frequency_penalty,
     [](const SamplingOptions& o, int64_t) { return penalty_range(o.frequency_penalty); }, SamplerPhase::kLogits,
     [](const SamplingOptions&) -> std::unique_ptr<SamplerStage> { return nullptr; }, nullptr},
    {"logit_bias", "--logit-bias",
     "ID=BIAS: add BIAS to token ID's logit before sampling; -inf or <= -100 bans it (repeatable)",
     &SamplingOptions::logit_bias,
     [](const SamplingOptions& o, int64_t vocab) { return logit_bias_problem(o.logit_bias, vocab); },
     SamplerPhase::kLogits,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       if (o.logit_bias.empty()) return nullptr;
       return std::make_unique<LogitBiasStage>(o.logit_bias);
     },
     parse_bias_flag},
    {"temperature", "--temperature", "Divide the logits by this before the filters (0 = greedy)",
     &SamplingOptions::temperature,
     [](const SamplingOptions& o, int64_t) -> Problem {
       if (std::isfinite(o.temperature) && o.temperature >= 0) return std::nullopt;
       return "must be a finite number >= 0 (0 = greedy), got " + num(o.temperature);
     },
     SamplerPhase::kFilter,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> { return std::make_unique<Temperature>(o.temperature); },
     nullptr},
    {"top_k", "--top-k", "Keep the k most likely tokens, ties with the k-th kept (0 = off; the samples used 40)",
     &SamplingOptions::top_k,
     [](const SamplingOptions& o, int64_t) -> Problem {
       if (o.top_k >= 0) return std::nullopt;
       return "must be >= 0 (0 = off), got " + std::to_string(o.top_k);
     },
     SamplerPhase::kFilter,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       return o.top_k > 0 ? filter(top_k_filter, o.top_k) : nullptr;
     },
     nullptr},
    {"top_p", "--top-p", "Nucleus sampling with the released rule: the smallest set of mass <= p (1 = off)",
     &SamplingOptions::top_p, [](const SamplingOptions& o, int64_t) { return in_unit_open_closed(o.top_p, "1 = off"); },
     SamplerPhase::kFilter,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       return o.top_p < 1.0 ? filter(top_p_filter, o.top_p) : nullptr;
     },
     nullptr},
    {"min_p", "--min-p", "Keep tokens with probability >= P x the top token's, after the temperature (0 = off)",
     &SamplingOptions::min_p,
     [](const SamplingOptions& o, int64_t) -> Problem {
       if (o.min_p >= 0 && o.min_p < 1) return std::nullopt;
       return "must be in [0, 1) (0 = off), got " + num(o.min_p);
     },
     SamplerPhase::kFilter,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       return o.min_p > 0 ? filter(min_p_filter, o.min_p) : nullptr;
     },
     nullptr},
    {"typical_p", "--typical-p", "Locally typical sampling with mass P, as Hugging Face's TypicalLogitsWarper (1 = off)",
     &SamplingOptions::typical_p,
     [](const SamplingOptions& o, int64_t) { return in_unit_open_closed(o.typical_p, "1 = off"); },
     SamplerPhase::kFilter,
     [](const SamplingOptions& o) -> std::unique_ptr<SamplerStage> {
       return o.typical_p < 1.0 ? filter(typical_filter, o.typical_p) : nullptr;
     },
     nullptr},
};

// ---- logit bias as JSON ----------------------------------------------------

nlohmann::json bias_json(const LogitBias& bias) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [id, b] : bias) out.push_back({id, std::isinf(b) ? nlohmann::json("-inf") : nlohmann::json(b)});
  return out;
}

double bias_value(const nlohmann::json& v, const std::string& key) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && (v == "-inf" || v == "-infinity")) return -std::numeric_limits<double>::infinity();
  throw UsageError(key + ": a bias must be a number or \"-inf\", got " + v.dump());
}

int64_t bias_id(const std::string& text, const std::string& key) {
  size_t used = 0;
  int64_t id = -1;
  try {
    id = std::stoll(text, &used);
  } catch (const std::logic_error&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw UsageError(key + ": token id must be an integer, got '" + text + "'");
  return id;
}

LogitBias bias_from_json(const nlohmann::json& v, const std::string& key) {
  LogitBias out;
  if (v.is_object()) {  // OpenAI: {"50256": -100}
    for (const auto& [id, b] : v.items()) out.push_back({bias_id(id, key), bias_value(b, key)});
  } else if (v.is_array()) {  // [[50256, -100], ...] (the settings form) or ["50256=-inf", ...]
    for (const auto& e : v) {
      if (e.is_string()) {
        out.push_back(parse_logit_bias(e.get<std::string>()));
      } else if (e.is_array() && e.size() == 2 && e[0].is_number_integer()) {
        out.push_back({e[0].get<int64_t>(), bias_value(e[1], key)});
      } else {
        throw UsageError(key + ": each entry must be [ID, BIAS] or \"ID=BIAS\", got " + e.dump());
      }
    }
  } else {
    throw UsageError(key + " must be an object {\"ID\": BIAS} or a list of [ID, BIAS], got " + v.dump());
  }
  return out;
}

}  // namespace

const std::vector<SamplerSpec>& sampler_table() { return kSamplerTable; }

nlohmann::json sampling_json(const SamplingOptions& opt) {
  nlohmann::json j = nlohmann::json::object();
  for (const SamplerSpec& spec : kSamplerTable) {
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(opt.*member)>;
          if constexpr (std::is_same_v<T, LogitBias>) j[spec.key] = bias_json(opt.*member);
          else j[spec.key] = opt.*member;
        },
        spec.field);
  }
  return j;
}

void apply_sampling_json(const nlohmann::json& record, SamplingOptions& opt, int64_t vocab) {
  if (!record.is_object()) throw UsageError("sampling settings must be a JSON object");
  for (const SamplerSpec& spec : kSamplerTable) {
    const auto it = record.find(spec.key);
    if (it == record.end()) continue;
    const nlohmann::json& v = *it;
    const std::string key = spec.key;
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(opt.*member)>;
          if constexpr (std::is_same_v<T, LogitBias>) {
            opt.*member = bias_from_json(v, key);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            if (!v.is_number_integer() && !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()))
              throw UsageError(key + " must be an integer, got " + v.dump());
            opt.*member = v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(v.get<double>());
          } else {
            if (!v.is_number()) throw UsageError(key + " must be a number, got " + v.dump());
            opt.*member = v.get<double>();
          }
        },
        spec.field);
    if (auto problem = spec.check(opt, vocab)) throw UsageError(named(key, *problem));
  }
}

std::optional<std::string> sampling_problem(const SamplingOptions& opt, int64_t vocab, bool by_key) {
  for (const SamplerSpec& spec : kSamplerTable) {
    if (auto problem = spec.check(opt, vocab)) {
      return named(by_key ? spec.key : spec.flag, *problem);
    }
  }
  return std::nullopt;
}

}  // namespace gpt2
