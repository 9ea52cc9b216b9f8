// The loss chart of a run directory, as SVG (src/train/loss_plot.cpp).
#pragma once

#include <string>
#include <vector>

#include "gpt2/train/run_dir.hpp"  // LossPoint

namespace gpt2 {

// The loss curve (training loss per step, validation loss where evaluated) as an SVG picture.
std::string loss_curve_svg(const std::vector<LossPoint>& history, const std::string& title);

}  // namespace gpt2
