// `gpt2 encode` and `gpt2 decode`: the GPT-2 tokenizer on the command line.
// Both use the built-in vocabulary (no model needed) unless --model names a
// model directory, whose own encoder.json / vocab.bpe are then used.
#include <time.h>

#include <charconv>
#include <cstdint>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/model/model_loader.hpp"
#include "gpt2/base/model_names.hpp"
#include "gpt2/tokenizer/tokenizer.hpp"

namespace gpt2::cli {

namespace {

struct TokenizerSource {
  std::string model;       // empty: the built-in vocabulary
  std::string models_dir;  // empty: gpt2::default_models_dir()
};

struct EncodeOptions {
  TokenizerSource source;
  std::string text;
  bool text_given = false;
  std::string file;
  bool json = false;
  bool count = false;
  bool allow_special = false;
  bool stats = false;
};

struct DecodeOptions {
  TokenizerSource source;
  std::vector<std::string> ids;
};

// CPU time of the calling thread, in seconds (unaffected by other processes' load).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::shared_ptr<const Tokenizer> load_tokenizer(const TokenizerSource& s) {
  if (s.model.empty()) return Tokenizer::builtin();
  ModelSpec spec;
  spec.model = s.model;
  spec.models_dir = s.models_dir;
  return tokenizer_for_model_dir(resolve_model_spec_dir(spec));  // the loader's one vocabulary policy
}

void add_source_options(CLI::App* sub, TokenizerSource& s) {
  sub->add_option("--model", s.model,
                  "Use this model directory's own encoder.json / vocab.bpe (a released name such as "
                  "124M, or a path); default: the built-in GPT-2 vocabulary");
  sub->add_option("--models-dir", s.models_dir,
                  "Directory holding the models (default: $GPT2_MODELS_DIR or ./models)");
}

void append_id(std::string& out, TokenId id) {
  char buf[16];
  const auto res = std::to_chars(buf, buf + sizeof buf, id);
  out.append(buf, res.ptr);
}

void run_encode(const EncodeOptions& o, CliIO& io) {
  if (o.text_given && !o.file.empty()) throw UsageError("encode: give --text or --file, not both");
  const auto tok = load_tokenizer(o.source);

  std::string text;
  if (o.text_given) {
    text = o.text;
  } else if (!o.file.empty() && o.file != "-") {
    text = read_file(o.file, "input file");
  } else {
    if (io.stdin_is_tty) io.err << "gpt2 encode: reading text from stdin (end with Ctrl-D)" << std::endl;
    text = read_stream(io.in, "standard input");
  }

  if (const std::size_t bad = Tokenizer::invalid_utf8_sequences(text); bad > 0) {
    io.err << "gpt2: warning: the input is not valid UTF-8; " << bad
           << " invalid sequence(s) encoded as U+FFFD" << std::endl;
  }

  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = thread_cpu_seconds();
  const std::vector<TokenId> ids = tok->encode(text, o.allow_special);
  const double cpu_seconds = thread_cpu_seconds() - cpu0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::string out;
  if (o.count) {
    out = std::to_string(ids.size()) + "\n";
  } else {
    out.reserve(ids.size() * 6 + 3);
    if (o.json) out.push_back('[');
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (i > 0) out.push_back(o.json ? ',' : ' ');
      append_id(out, ids[i]);
    }
    if (o.json) out.push_back(']');
    out.push_back('\n');
  }
  io.out.write(out.data(), static_cast<std::streamsize>(out.size()));

  if (o.stats) {
    const double mb = static_cast<double>(text.size()) / 1e6;
    char line[256];
    std::snprintf(line, sizeof line,
                  "encode: %zu bytes -> %zu tokens in %.1f ms (%.2f MB/s, one thread; %.2f MB/s of its CPU time)",
                  text.size(), ids.size(), seconds * 1e3, seconds > 0 ? mb / seconds : 0.0,
                  cpu_seconds > 0 ? mb / cpu_seconds : 0.0);
    io.err << line << std::endl;
  }
}

// Ids separated by whitespace and/or commas; a JSON array ("[1, 2]") also works.
std::vector<TokenId> parse_ids(const std::string& s) {
  std::vector<TokenId> ids;
  std::size_t i = 0;
  auto is_sep = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '[' || c == ']'; };
  while (i < s.size()) {
    if (is_sep(s[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !is_sep(s[j])) ++j;
    const std::string word = s.substr(i, j - i);
    long long v = 0;
    const auto res = std::from_chars(word.data(), word.data() + word.size(), v);
    if (res.ec == std::errc::result_out_of_range ||
        (res.ec == std::errc() && res.ptr == word.data() + word.size() &&
         (v < INT32_MIN || v > INT32_MAX))) {
      throw UsageError("decode: token id " + word + " is out of range");
    }
    if (res.ec != std::errc() || res.ptr != word.data() + word.size()) {
      throw UsageError("decode: '" + (word.size() > 40 ? word.substr(0, 40) + "..." : word) +
                       "' is not a token id (expected integers separated by spaces or commas)");
    }
    ids.push_back(static_cast<TokenId>(v));
    i = j;
  }
  return ids;
}

void run_decode(const DecodeOptions& o, CliIO& io) {
  std::string input;
  if (!o.ids.empty()) {
    for (const auto& a : o.ids) {
      input += a;
      input.push_back(' ');
    }
  } else {
    if (io.stdin_is_tty) io.err << "gpt2 decode: reading token ids from stdin (end with Ctrl-D)" << std::endl;
    input = read_stream(io.in, "standard input");
  }
  const std::vector<TokenId> ids = parse_ids(input);
  const auto tok = load_tokenizer(o.source);
  for (TokenId id : ids) {
    if (id < 0 || id >= tok->vocab_size()) {
      throw UsageError("decode: token id " + std::to_string(id) + " is out of range (the vocabulary has ids 0.." +
                       std::to_string(tok->vocab_size() - 1) + ")");
    }
  }
  const std::string bytes = tok->decode(ids);
  io.out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

void register_tokenizer_commands(CLI::App& app, CliIO& io) {
  {
    auto opt = std::make_shared<EncodeOptions>();
    CLI::App* sub = app.add_subcommand("encode", "Turn text into GPT-2 token ids (the released encoder's exact ids)");
    sub->add_option_function<std::string>(
        "-t,--text",
        [opt](const std::string& t) {
          opt->text = t;
          opt->text_given = true;
        },
        "Text to encode (default: read --file, or standard input)");
    sub->add_option("-f,--file", opt->file, "Read the text from this file ('-' for standard input)");
    auto* json = sub->add_flag("--json", opt->json, "Print the ids as a JSON array");
    auto* count = sub->add_flag("--count", opt->count, "Print only the number of tokens");
    json->excludes(count);
    sub->add_flag("--allow-special", opt->allow_special,
                  "Map the literal text <|endoftext|> to its id 50256 (default: ordinary text, 5 tokens)");
    sub->add_flag("--stats", opt->stats, "Print the size, token count and encode throughput (MB/s) on stderr");
    add_source_options(sub, opt->source);
    sub->callback([opt, &io] { run_encode(*opt, io); });
  }
  {
    auto opt = std::make_shared<DecodeOptions>();
    CLI::App* sub = app.add_subcommand("decode", "Turn GPT-2 token ids back into text (writes the raw bytes)");
    sub->add_option("ids", opt->ids,
                    "Token ids, separated by spaces or commas, or a JSON array (default: read standard input)");
    add_source_options(sub, opt->source);
    sub->callback([opt, &io] { run_decode(*opt, io); });
  }
}

}  // namespace gpt2::cli
