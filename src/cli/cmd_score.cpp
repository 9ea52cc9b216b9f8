// `gpt2 score`: per-token log-probabilities, ranks and entropies, perplexity
// and bits per byte of texts, GLTR rank buckets, an HTML report, and the
// divergence between two precisions. The scoring itself is gpt2::Scorer
// (include/gpt2/score.hpp); this file reads the input, maps the flags and
// writes text / jsonl / tsv.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/model_options.hpp"
#include "cli/score_html.hpp"
#include "gpt2/base/format.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/model/model.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/score/score.hpp"
#include "gpt2/score/score_record.hpp"
#include "gpt2/tokenizer/text_chunks.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gpt2::cli {

namespace {

struct ScoreCliOptions {
  ModelCliOptions model;
  std::string text;
  std::string file;
  std::string jsonl;
  bool allow_special = false;
  bool no_eot_prefix = false;
  int64_t window = 0;
  int64_t stride = 0;
  int64_t top = 0;
  bool tokens = false;
  std::string format = "text";
  std::string html;
  bool skip_bad = false;
  std::string compare_dtype;
  bool verbose = false;

  CLI::Option* text_opt = nullptr;
  CLI::Option* stride_opt = nullptr;
  CLI::Option* window_opt = nullptr;
};

enum class Format { kText, kJsonl, kTsv };

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

struct Loaded {
  GPT2 model{nullptr};
  std::shared_ptr<const Tokenizer> tokenizer;
  std::string name;  // the model directory
};

// The model with projection weights `dtype` (random weights to benchmark with:
// `gpt2 bench --random 124M --save-random DIR`, then --model DIR).
Loaded load(const ScoreCliOptions& o, const std::string& dtype, std::ostream& err) {
  ModelCliOptions mo = o.model;
  mo.dtype = dtype;
  LoadedModel m = load_model(mo.spec());
  if (o.verbose) err << "gpt2: " << m.describe() << "\n";
  return {m.model, m.tokenizer, m.dir.string()};
}

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

void check_input_file(const std::string& path, const std::string& option) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw NotFoundError(option + " " + path + " does not exist");
  if (fs::is_directory(path, ec)) throw UsageError(option + " " + path + " is a directory");
}

std::ifstream open_input(const std::string& path, const std::string& option) {
  check_input_file(path, option);
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open " + option + " " + path);
  return f;
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

std::string tsv_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Per-document context the writer needs once the document is done.
struct DocInfo {
  json id;                         // from the input record (null: none)
  std::vector<TokenScore> tokens;  // kept only when needed (--tokens with jsonl, --html)
  std::vector<TokenId> sequence;   // kept only for --html
};

class ScoreWriter {
 public:
  ScoreWriter(std::ostream& out, Format format, const Tokenizer& tok, int64_t top, bool with_tokens)
      : out_(out), format_(format), tok_(tok), top_(top), with_tokens_(with_tokens) {}

  bool keeps_tokens() const { return with_tokens_ && format_ == Format::kJsonl; }

  void header(bool compared) {
    if (format_ != Format::kTsv) return;
    out_ << "doc\tindex\tid\ttext\tlogprob\trank\tentropy" << (compared ? "\tkl\ttop1_agree" : "")
         << (top_ > 0 ? "\ttop" : "") << '\n';
  }

  void token(int64_t doc, const TokenScore& t) {
    if (format_ == Format::kTsv) {
      std::string row = std::to_string(doc + 1) + '\t' + std::to_string(t.index) + '\t' + std::to_string(t.id) +
                        '\t' + tsv_escape(tok_.token_bytes(t.id)) + '\t' + strprintf("%.9g", t.logprob) + '\t' +
                        std::to_string(t.rank) + '\t' + strprintf("%.9g", t.entropy);
      if (compared_) row += '\t' + strprintf("%.9g", t.kl) + '\t' + (t.top1_agree ? "1" : "0");
      if (top_ > 0) {
        row += '\t';
        for (size_t k = 0; k < t.top.size() && static_cast<int64_t>(k) < top_; ++k)
          row += (k ? " " : "") + std::to_string(t.top[k].id) + ":" + strprintf("%.6g", t.top[k].logprob);
      }
      out_ << row << '\n';
    } else if (format_ == Format::kText && with_tokens_) {
      out_ << strprintf("%6.0f", static_cast<double>(t.index)) << "  " << strprintf("%10.4f", t.logprob) << "  rank "
           << strprintf("%6.0f", static_cast<double>(t.rank)) << "  entropy " << strprintf("%7.3f", t.entropy) << "  "
           << dump(json(tok_.token_bytes(t.id))) << '\n';
    }
  }

  void document(int64_t doc, const DocInfo& info, const ScoreTotals& t) {
    if (format_ == Format::kJsonl) {
      json j;
      if (!info.id.is_null()) j["id"] = info.id;
      j["tokens_scored"] = t.tokens_scored;
      j["nll"] = t.nll;
      j["mean_nll"] = t.mean_nll();
      j["perplexity"] = t.perplexity();
      j["bits_per_byte"] = t.bits_per_byte();
      j["bytes"] = t.text_bytes;
      j["buckets"] = {{"10", t.bucket_fraction(0)},
                      {"100", t.bucket_fraction(1)},
                      {"1000", t.bucket_fraction(2)},
                      {"rest", t.bucket_fraction(3)}};
      if (t.compared) {
        j["kl_divergence"] = t.kl_divergence();
        j["top1_agreement"] = t.top1_agreement();
        j["perplexity_delta"] = t.perplexity_delta();
        j["reference_perplexity"] = t.reference_perplexity();
      }
      if (keeps_tokens()) {
        json arr = json::array();
        for (const TokenScore& s : info.tokens) arr.push_back(token_json(s));
        j["tokens"] = std::move(arr);
      }
      out_ << dump(j) + "\n";  // one whole line per write
    } else if (format_ == Format::kText) {
      std::string s = "document " + std::to_string(doc + 1);
      if (!info.id.is_null()) s += " (id " + dump(info.id) + ")";
      s += ": " + std::to_string(t.tokens_scored) + " tokens scored, " + std::to_string(t.text_bytes) + " bytes\n";
      s += "  nll " + strprintf("%.4f", t.nll) + " nats, mean " + strprintf("%.4f", t.mean_nll()) + ", perplexity " +
           strprintf("%.4f", t.perplexity()) + ", " + strprintf("%.4f", t.bits_per_byte()) + " bits/byte\n";
      s += "  ranks: <=10 " + strprintf("%.1f", 100 * t.bucket_fraction(0)) + "%, <=100 " +
           strprintf("%.1f", 100 * t.bucket_fraction(1)) + "%, <=1000 " + strprintf("%.1f", 100 * t.bucket_fraction(2)) +
           "%, >1000 " + strprintf("%.1f", 100 * t.bucket_fraction(3)) + "%\n";
      if (t.compared)
        s += "  vs reference: KL " + strprintf("%.6f", t.kl_divergence()) + " nats, top-1 agreement " +
             strprintf("%.2f", 100 * t.top1_agreement()) + "%, perplexity delta " + strprintf("%+.4f", t.perplexity_delta()) +
             " (reference " + strprintf("%.4f", t.reference_perplexity()) + ")\n";
      out_ << s;
    }
    out_.flush();
  }

  void set_compared(bool c) { compared_ = c; }

 private:
  json token_json(const TokenScore& s) const {
    json j = {{"index", s.index}, {"id", s.id}, {"text", tok_.token_bytes(s.id)}, {"logprob", s.logprob},
              {"rank", s.rank}, {"entropy", s.entropy}};
    if (compared_) {
      j["kl"] = s.kl;
      j["top1_agree"] = s.top1_agree;
    }
    if (top_ > 0) {
      json top = json::array();
      for (size_t k = 0; k < s.top.size() && static_cast<int64_t>(k) < top_; ++k)
        top.push_back({{"id", s.top[k].id}, {"text", tok_.token_bytes(s.top[k].id)}, {"logprob", s.top[k].logprob}});
      j["top"] = std::move(top);
    }
    return j;
  }

  std::ostream& out_;
  Format format_;
  const Tokenizer& tok_;
  int64_t top_;
  bool with_tokens_;
  bool compared_ = false;
};

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

Format validate(const ScoreCliOptions& o) {
  const int sources = (o.text_opt->count() > 0) + !o.file.empty() + !o.jsonl.empty();
  if (sources > 1) throw UsageError("give the input with one of --text, --file or --jsonl");
  if (o.stride_opt->count() > 0 && o.stride < 1)
    throw UsageError("--stride must be at least 1, got " + std::to_string(o.stride));
  if (o.window_opt->count() > 0 && o.window < 2)
    throw UsageError("--window must be at least 2 (a window's first token is never scored), got " +
                     std::to_string(o.window));
  if (o.top < 0) throw UsageError("--top must be >= 0, got " + std::to_string(o.top));
  if (!o.html.empty() && !o.jsonl.empty())
    throw UsageError("--html reports one document: use it with --text, --file or stdin, not --jsonl");
  o.model.spec();  // --dtype, --threads
  if (!o.compare_dtype.empty()) ops::parse_weight_type(o.compare_dtype);
  if (o.format == "text") return Format::kText;
  if (o.format == "jsonl") return Format::kJsonl;
  if (o.format == "tsv") return Format::kTsv;
  throw UsageError("--format must be text, jsonl or tsv, got '" + o.format + "'");
}

// First pass over a JSONL file: the numbers of its bad lines (throws on the
// first one unless --skip-bad), so that nothing is written for a bad file.
std::set<int64_t> check_jsonl(const ScoreCliOptions& o, const Scorer& scorer, const Tokenizer& tok) {
  std::ifstream f = open_input(o.jsonl, "--jsonl");
  std::set<int64_t> bad;
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (is_blank_line(line)) continue;
    ScoreRecord r = parse_score_record(line);
    // Without the prefix one token is not enough; only a short text can be one token.
    if (r.error.empty() && r.text.size() < 4096 &&
        scorer.scored_count(static_cast<int64_t>(tok.encode(r.text, o.allow_special).size())) == 0)
      r.error = "nothing to score (one token and no <|endoftext|> prefix)";
    if (r.error.empty()) continue;
    if (!o.skip_bad) throw FormatError(o.jsonl + ":" + std::to_string(n) + ": " + r.error + " (--skip-bad skips such lines)");
    bad.insert(n);
  }
  if (f.bad()) throw IoError("cannot read --jsonl " + o.jsonl);
  return bad;
}

void write_html(const ScoreCliOptions& o, const Loaded& l, const DocInfo& info, const ScoreTotals& totals) {
  HtmlReport r;
  r.title = !o.file.empty() ? fs::path(o.file).filename().string() : std::string("gpt2 score");
  r.model = l.name + " (" + o.model.dtype + ")";
  r.tokenizer = l.tokenizer.get();
  r.sequence = info.sequence;
  r.text_from = o.no_eot_prefix ? 0 : 1;
  r.tokens = info.tokens;
  r.totals = totals;
  write_file_atomic(o.html, render_score_html(r));
}

// Counts the invalid UTF-8 of a streamed text; warns once, at the first piece that has any.
class Utf8Check {
 public:
  explicit Utf8Check(std::ostream& err) : err_(err) {}
  void piece(const std::string& text, int64_t bytes_so_far) {
    const std::size_t bad = Tokenizer::invalid_utf8_sequences(text);
    if (bad == 0 || warned_) return;
    warned_ = true;
    err_ << "gpt2: warning: the input is not valid UTF-8; " << bad << " invalid sequence(s) in its first "
         << bytes_so_far << " bytes encoded as U+FFFD" << std::endl;
  }

 private:
  std::ostream& err_;
  bool warned_ = false;
};

// Bytes of a streamed document tokenized at a time.
constexpr std::size_t kPieceBytes = std::size_t{64} << 10;

void run_score(const ScoreCliOptions& o, CliIO& io) {
  const Format format = validate(o);

  // A single document: --text whole; --file and stdin streamed in pieces that
  // encode independently (memory for a piece and a window, not the document).
  // Its first piece is read (and checked) before the slow model load.
  const bool single = o.jsonl.empty();
  const bool streamed = single && o.text_opt->count() == 0;
  std::ifstream file;
  std::unique_ptr<TextChunkReader> reader;
  std::string text;  // --text, or the first piece of a streamed document
  Utf8Check utf8(io.err);
  if (streamed) {
    std::istream* in = &io.in;
    std::string what = "standard input";
    if (!o.file.empty()) {
      file = open_input(o.file, "--file");
      in = &file;
      what = "--file " + o.file;
    } else if (io.stdin_is_tty) {
      io.err << "gpt2 score: reading text from stdin (end with Ctrl-D)" << std::endl;
    }
    reader = std::make_unique<TextChunkReader>(*in, what, kPieceBytes);
    reader->next(text);
  } else if (single) {
    text = o.text;
  } else {
    check_input_file(o.jsonl, "--jsonl");
  }
  if (single) {
    if (text.empty()) throw UsageError("nothing to score: the text is empty");
    utf8.piece(text, static_cast<int64_t>(text.size()));
  }

  Loaded loaded = load(o, o.model.dtype, io.err);
  Loaded reference;
  if (!o.compare_dtype.empty()) reference = load(o, o.compare_dtype, io.err);
  const Tokenizer& tok = *loaded.tokenizer;

  ScoreOptions so;
  so.window = o.window;
  so.stride = o.stride;
  so.eot_prefix = !o.no_eot_prefix;
  so.top = o.html.empty() ? o.top : std::max<int64_t>(o.top, 5);  // the report's tooltips show 5
  so.eot_id = tok.eot_id();
  so = resolve_score_options(so, loaded.model->hparams());
  Scorer scorer(*loaded.model, so, reference.model ? reference.model.get() : nullptr);

  ScoreWriter writer(io.out, format, tok, o.top, o.tokens);
  writer.set_compared(!o.compare_dtype.empty());
  const bool keep_tokens = writer.keeps_tokens() || !o.html.empty();
  std::deque<DocInfo> pending;  // documents queued in the scorer, oldest first
  scorer.on_token([&](int64_t doc, const TokenScore& t) {
    writer.token(doc, t);
    if (keep_tokens) pending.front().tokens.push_back(t);
  });
  scorer.on_document([&](int64_t doc, const ScoreTotals& totals) {
    writer.document(doc, pending.front(), totals);
    if (!o.html.empty()) write_html(o, loaded, pending.front(), totals);
    pending.pop_front();
  });

  // One document's ids: scored (queued), its context kept until it is written.
  auto add = [&](const std::string& t, json id) {
    const std::vector<TokenId> ids = tok.encode(t, o.allow_special);
    pending.push_back(DocInfo{std::move(id), {}, {}});
    if (!o.html.empty()) pending.back().sequence = scorer.sequence(ids);
    scorer.add(ids, static_cast<int64_t>(t.size()));
  };

  if (single) {
    std::vector<TokenId> ids = tok.encode(text, o.allow_special);
    const bool whole = !streamed || reader->at_end();
    if (whole && scorer.scored_count(static_cast<int64_t>(ids.size())) == 0)
      throw UsageError("nothing to score: one token and --no-eot-prefix gives no token a context");
    writer.header(!o.compare_dtype.empty());
    pending.push_back(DocInfo{json(), {}, {}});
    if (!o.html.empty()) pending.back().sequence = scorer.sequence({});
    int64_t bytes = 0;
    scorer.begin_document();
    for (;;) {
      bytes += static_cast<int64_t>(text.size());
      if (!o.html.empty()) pending.back().sequence.insert(pending.back().sequence.end(), ids.begin(), ids.end());
      scorer.feed(ids);
      if (!streamed || !reader->next(text)) break;
      utf8.piece(text, reader->bytes_read());
      ids = tok.encode(text, o.allow_special);
    }
    scorer.end_document(bytes);
  } else {
    const std::set<int64_t> bad = check_jsonl(o, scorer, tok);
    writer.header(!o.compare_dtype.empty());
    std::ifstream f = open_input(o.jsonl, "--jsonl");
    std::string line;
    for (int64_t n = 1; std::getline(f, line); ++n) {
      if (is_blank_line(line) || bad.count(n) > 0) continue;
      ScoreRecord r = parse_score_record(line);
      add(r.text, std::move(r.id));
    }
    if (f.bad()) throw IoError("cannot read --jsonl " + o.jsonl);
    if (!bad.empty()) io.err << "gpt2: skipped " << bad.size() << " bad line(s) of " << o.jsonl << '\n';
  }
  scorer.flush();
  io.out.flush();
  if (o.verbose) {
    const double s = scorer.seconds();
    io.err << "gpt2: scored " << scorer.tokens_scored() << " tokens (" << scorer.tokens_forwarded()
           << " window positions) in " << strprintf("%.2f", s) << " s: "
           << strprintf("%.1f", s > 0 ? static_cast<double>(scorer.tokens_scored()) / s : 0) << " scored tokens/s, "
           << strprintf("%.1f", s > 0 ? static_cast<double>(scorer.tokens_forwarded()) / s : 0) << " forwarded tokens/s\n";
  }
}

}  // namespace

void register_score_command(CLI::App& app, CliIO& io) {
  auto o = std::make_shared<ScoreCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "score", "Per-token log-probabilities, perplexity, bits per byte and GLTR rank buckets of texts");
  o->text_opt = sub->add_option("--text", o->text, "The text to score");
  sub->add_option("--file", o->file, "Score this file's text (default: stdin)");
  sub->add_option("--jsonl", o->jsonl, "Score each line's \"text\" field (one result per line; \"id\" is kept)");
  sub->add_flag("--skip-bad", o->skip_bad, "With --jsonl: skip lines that are not JSON or have no text (counted)");
  o->model.add_to(sub);
  sub->add_flag("--allow-special", o->allow_special, "Read <|endoftext|> in the text as the special token");
  sub->add_flag("--no-eot-prefix", o->no_eot_prefix,
                "Score the text's tokens alone (default: after <|endoftext|>, so every token is scored)");
  o->window_opt = sub->add_option("--window", o->window, "Tokens per window (default: n_ctx; at most n_ctx)");
  o->stride_opt = sub->add_option("--stride", o->stride, "Window start step, 1..window (default: window/2)");
  sub->add_option("--top", o->top, "Also list the N most likely tokens per position")->capture_default_str();
  sub->add_flag("--tokens", o->tokens, "Per-token records: a \"tokens\" array (jsonl) or one line per token (text)");
  sub->add_option("--format", o->format, "text (summary), jsonl (one object per document) or tsv (one row per token)")
      ->capture_default_str();
  sub->add_option("--html", o->html, "Write a GLTR-style HTML report of the document to this file");
  sub->add_option("--compare-dtype", o->compare_dtype,
                  "Also score with these weights (e.g. float32) and report KL(P_compare || P_dtype), top-1 "
                  "agreement and the perplexity delta");
  sub->add_flag("-v,--verbose", o->verbose, "Print load time and scoring speed (tokens/s) to stderr");
  sub->callback([o, &io] { run_score(*o, io); });
}

}  // namespace gpt2::cli
