// The loss curve of a run as a small self-contained SVG picture.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "gpt2/train/run_dir.hpp"
#include "gpt2/train/loss_plot.hpp"

namespace gpt2 {

namespace {
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}
}  // namespace

std::string loss_curve_svg(const std::vector<LossPoint>& history, const std::string& title) {
  const double W = 640, H = 400, L = 60, R = 20, T = 40, B = 50;  // size and margins
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << W / 2 << "\" y=\"20\" text-anchor=\"middle\">" << escape(title) << ": loss per step</text>\n";
  if (history.empty()) {
    s << "<text x=\"" << W / 2 << "\" y=\"" << H / 2 << "\" text-anchor=\"middle\">no steps yet</text>\n</svg>\n";
    return s.str();
  }
  double lo = 1e300, hi = -1e300;
  for (const auto& p : history) {
    lo = std::min(lo, p.loss);
    hi = std::max(hi, p.loss);
    if (p.val_loss >= 0) {
      lo = std::min(lo, p.val_loss);
      hi = std::max(hi, p.val_loss);
    }
  }
  if (hi - lo < 1e-9) hi = lo + 1;
  const double s0 = static_cast<double>(history.front().step), s1 = std::max(s0 + 1, static_cast<double>(history.back().step));
  auto x = [&](double step) { return L + (step - s0) / (s1 - s0) * (W - L - R); };
  auto y = [&](double v) { return T + (hi - v) / (hi - lo) * (H - T - B); };
  s << "<line x1=\"" << L << "\" y1=\"" << H - B << "\" x2=\"" << W - R << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n"
    << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << H - B << "\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4;
    s << "<text x=\"" << L - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">" << num(v) << "</text>\n";
    const double st = s0 + (s1 - s0) * i / 4;
    s << "<text x=\"" << x(st) << "\" y=\"" << H - B + 16 << "\" text-anchor=\"middle\">" << num(std::round(st)) << "</text>\n";
  }
  s << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 10 << "\" text-anchor=\"middle\">step</text>\n";
  s << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"";
  for (const auto& p : history) s << num(x(static_cast<double>(p.step))) << "," << num(y(p.loss)) << " ";
  s << "\"/>\n";
  bool any_val = false;
  for (const auto& p : history) {
    if (p.val_loss < 0) continue;
    any_val = true;
    s << "<circle cx=\"" << num(x(static_cast<double>(p.step))) << "\" cy=\"" << num(y(p.val_loss)) << "\" r=\"3\" fill=\"#d62728\"/>\n";
  }
  s << "<text x=\"" << W - R - 150 << "\" y=\"" << T << "\" fill=\"#1f77b4\">training loss</text>\n";
  if (any_val) s << "<text x=\"" << W - R - 150 << "\" y=\"" << T + 16 << "\" fill=\"#d62728\">validation loss</text>\n";
  s << "</svg>\n";
  return s.str();
}

}  // namespace gpt2
