// The GLTR-style HTML report of one scored document: a self-contained page
// (inline CSS and SVG, no scripts, fonts or network) with the text coloured by
// rank bucket, a tooltip per token, the summary and rank/probability histograms.
#pragma once

#include <string>
#include <vector>

#include "gpt2/score/score.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::cli {

struct HtmlReport {
  std::string title;                 // e.g. the input's name
  std::string model;                 // shown in the summary
  const Tokenizer* tokenizer = nullptr;
  std::vector<TokenId> sequence;     // the scored sequence S
  int64_t text_from = 0;             // first index of S that is text (1 after the <|endoftext|> prefix)
  std::vector<TokenScore> tokens;    // every scored token, by index (with `top` alternatives)
  ScoreTotals totals;
};

std::string render_score_html(const HtmlReport& r);

}  // namespace gpt2::cli
