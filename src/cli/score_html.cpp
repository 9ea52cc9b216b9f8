#include "cli/score_html.hpp"

#include "gpt2/base/format.hpp"
#include "gpt2/tokenizer/stream_decoder.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

namespace gpt2::cli {

namespace {

// GLTR's colours, one per rank bucket (<= 10, <= 100, <= 1000, beyond).
constexpr std::array<const char*, kBuckets> kColours = {"#ADFF80", "#FFEA80", "#FF9280", "#E5B0FF"};
constexpr std::array<const char*, kBuckets> kBucketNames = {"rank &le; 10", "rank &le; 100", "rank &le; 1000",
                                                             "rank &gt; 1000"};

// A token's piece for a tooltip: its bytes with invalid UTF-8 replaced, quoted.
std::string piece(const Tokenizer& tok, TokenId id) {
  StreamDecoder d(std::shared_ptr<const Tokenizer>(&tok, [](const Tokenizer*) {}), StreamDecoder::Invalid::kReplace);
  std::string s = d.push(id) + d.flush();
  std::string shown;
  for (char c : s) {
    if (c == '\n') shown += "\\n";
    else if (c == '\t') shown += "\\t";
    else shown += c;
  }
  return "'" + shown + "'";
}

std::string tooltip(const Tokenizer& tok, const TokenScore& t) {
  std::string s = piece(tok, t.id) + " (id " + std::to_string(t.id) + ")\n";
  s += "logprob " + strprintf("%.4f", t.logprob) + " (p " + strprintf("%.4g", std::exp(t.logprob)) + ")\n";
  s += "rank " + std::to_string(t.rank) + ", entropy " + strprintf("%.3f", t.entropy) + " nats";
  if (!t.top.empty()) {
    s += "\ntop:";
    for (const TopToken& a : t.top) s += "\n  " + piece(tok, a.id) + " " + strprintf("%.4f", a.logprob);
  }
  return s;
}

// A bar chart as inline SVG: one bar per value, labelled below, counts above.
std::string bar_chart(const std::string& title, const std::vector<std::string>& labels,
                      const std::vector<int64_t>& counts, const std::vector<std::string>& colours) {
  const int bar_w = 38, gap = 6, height = 160, top = 28, bottom = 40;
  const int width = static_cast<int>(labels.size()) * (bar_w + gap) + gap;
  const int64_t max_count = std::max<int64_t>(1, *std::max_element(counts.begin(), counts.end()));
  std::string s = "<figure><figcaption>" + title + "</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                  std::to_string(width) + "\" height=\"" + std::to_string(height + top + bottom) +
                  "\" role=\"img\">";
  s += "<line x1=\"0\" y1=\"" + std::to_string(top + height) + "\" x2=\"" + std::to_string(width) + "\" y2=\"" +
       std::to_string(top + height) + "\" stroke=\"#444\"/>";
  for (size_t i = 0; i < labels.size(); ++i) {
    const int h = static_cast<int>(std::lround(static_cast<double>(counts[i]) / static_cast<double>(max_count) * height));
    const int x = gap + static_cast<int>(i) * (bar_w + gap);
    s += "<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(top + height - h) + "\" width=\"" +
         std::to_string(bar_w) + "\" height=\"" + std::to_string(h) + "\" fill=\"" + colours[i] +
         "\" stroke=\"#555\"/>";
    s += "<text x=\"" + std::to_string(x + bar_w / 2) + "\" y=\"" + std::to_string(top + height - h - 6) +
         "\" text-anchor=\"middle\" font-size=\"12\">" + std::to_string(counts[i]) + "</text>";
    s += "<text x=\"" + std::to_string(x + bar_w / 2) + "\" y=\"" + std::to_string(top + height + 16) +
         "\" text-anchor=\"middle\" font-size=\"10\">" + labels[i] + "</text>";
  }
  return s + "</svg></figure>\n";
}

std::string rank_histogram(const std::vector<TokenScore>& tokens) {
  // Half-decade bins of the rank: 1, 2-3, 4-10, 11-31, ..., > 10000.
  const std::vector<int64_t> upper = {1, 3, 10, 31, 100, 316, 1000, 3162, 10000};
  const std::vector<std::string> labels = {"1", "2-3", "4-10", "11-31", "32-100", "101-316", "317-1k", "1k-3k",
                                           "3k-10k", "&gt;10k"};
  std::vector<int64_t> counts(labels.size(), 0);
  std::vector<std::string> colours;
  for (size_t i = 0; i < labels.size(); ++i)
    colours.push_back(kColours[static_cast<size_t>(rank_bucket(i < upper.size() ? upper[i] : 10001))]);
  for (const TokenScore& t : tokens) {
    size_t b = 0;
    while (b < upper.size() && t.rank > upper[b]) ++b;
    ++counts[b];
  }
  return bar_chart("Ranks of the tokens (coloured by bucket)", labels, counts, colours);
}

std::string probability_histogram(const std::vector<TokenScore>& tokens) {
  std::vector<std::string> labels;
  for (int i = 0; i < 10; ++i) labels.push_back(strprintf("%.1f", i / 10.0) + "-" + strprintf("%.1f", (i + 1) / 10.0));
  std::vector<int64_t> counts(10, 0);
  for (const TokenScore& t : tokens) ++counts[static_cast<size_t>(std::clamp(static_cast<int>(std::exp(t.logprob) * 10), 0, 9))];
  return bar_chart("Probabilities of the tokens", labels, counts, std::vector<std::string>(10, "#7fa7d8"));
}

std::string summary(const HtmlReport& r) {
  const ScoreTotals& t = r.totals;
  std::string s = "<table class=\"summary\">";
  auto row = [&s](const std::string& k, const std::string& v) { s += "<tr><th>" + k + "</th><td>" + v + "</td></tr>"; };
  row("model", html_escape(r.model));
  row("tokens scored", std::to_string(t.tokens_scored));
  row("NLL", strprintf("%.4f", t.nll) + " nats (mean " + strprintf("%.4f", t.mean_nll()) + ")");
  row("perplexity", strprintf("%.4f", t.perplexity()));
  row("bits per byte", strprintf("%.4f", t.bits_per_byte()) + " (" + std::to_string(t.text_bytes) + " bytes)");
  for (int b = 0; b < kBuckets; ++b)
    row(std::string("<span class=\"key\" style=\"background:") + kColours[static_cast<size_t>(b)] + "\">" +
            kBucketNames[static_cast<size_t>(b)] + "</span>",
        std::to_string(t.buckets[static_cast<size_t>(b)]) + " (" + strprintf("%.1f", 100 * t.bucket_fraction(b)) + "%)");
  if (t.compared) {
    row("KL divergence", strprintf("%.6f", t.kl_divergence()) + " nats");
    row("top-1 agreement", strprintf("%.2f", 100 * t.top1_agreement()) + "%");
    row("perplexity delta", strprintf("%+.4f", t.perplexity_delta()));
  }
  return s + "</table>\n";
}

}  // namespace

std::string render_score_html(const HtmlReport& r) {
  const Tokenizer& tok = *r.tokenizer;
  std::map<int64_t, const TokenScore*> by_index;
  for (const TokenScore& t : r.tokens) by_index[t.index] = &t;

  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" + html_escape(r.title) +
      " &mdash; gpt2 score</title>\n<style>\n"
      "body{font-family:sans-serif;margin:24px;max-width:1100px;color:#111;background:#fff}\n"
      ".text{font-family:monospace;font-size:15px;line-height:1.9;white-space:pre-wrap;word-wrap:break-word;"
      "border:1px solid #ccc;padding:12px}\n"
      ".text span{border-radius:2px}\n.text span:hover{outline:2px solid #333}\n"
      ".b0{background:#ADFF80}.b1{background:#FFEA80}.b2{background:#FF9280}.b3{background:#E5B0FF}\n"
      "table.summary th{text-align:left;padding-right:16px;font-weight:normal;color:#444}\n"
      ".key{padding:0 6px}\nfigure{display:inline-block;vertical-align:top;margin:8px 16px 8px 0}\n"
      "figcaption{font-size:14px;margin-bottom:4px}\n</style></head><body>\n<h1>" +
      html_escape(r.title) + "</h1>\n" + summary(r) + "<h2>Text</h2>\n<div class=\"text\">";

  StreamDecoder dec(std::shared_ptr<const Tokenizer>(&tok, [](const Tokenizer*) {}), StreamDecoder::Invalid::kReplace);
  for (int64_t i = r.text_from; i < static_cast<int64_t>(r.sequence.size()); ++i) {
    const std::string text = html_escape(dec.push(r.sequence[static_cast<size_t>(i)]));
    const auto it = by_index.find(i);
    if (it == by_index.end()) {
      h += "<span title=\"not scored (no context in its window)\">" + text + "</span>";
      continue;
    }
    const TokenScore& t = *it->second;
    h += "<span class=\"b" + std::to_string(rank_bucket(t.rank)) + "\" title=\"" + html_escape(tooltip(tok, t)) + "\">" +
         text + "</span>";
  }
  h += html_escape(dec.flush()) + "</div>\n<h2>Histograms</h2>\n" + rank_histogram(r.tokens) +
       probability_histogram(r.tokens) + "\n</body></html>\n";
  return h;
}

}  // namespace gpt2::cli
