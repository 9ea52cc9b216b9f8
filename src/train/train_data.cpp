#include "gpt2/train/train_data.hpp"

#include <sys/stat.h>
#include <torch/types.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "gpt2/checkpoint/crc32c.hpp"
#include "gpt2/base/errors.hpp"
#include "gpt2/base/file_io.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace gpt2 {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

std::string identity_of(const std::vector<DataFile>& files, const std::vector<std::string>& contents,
                        const Tokenizer& tok) {
  json inputs = json::array();
  for (size_t i = 0; i < files.size(); ++i)
    inputs.push_back({{"path", fs::absolute(files[i].path).lexically_normal().string()},
                      {"kind", static_cast<int>(files[i].kind)},
                      {"size", contents[i].size()},
                      {"mtime_ns", file_mtime_ns(files[i].path)},
                      {"crc32c", crc32c::value(contents[i].data(), contents[i].size())}});
  uint32_t tc = crc32c::value(tok.encoder_json_text().data(), tok.encoder_json_text().size());
  tc = crc32c::extend(tc, tok.vocab_bpe_text().data(), tok.vocab_bpe_text().size());
  return json{{"version", 1}, {"inputs", inputs}, {"tokenizer_crc32c", tc}}.dump();
}

// The cached stream of `dir` if its sidecar names exactly `identity` and the ids file is intact.
bool read_cache(const fs::path& dir, const std::string& identity, TokenStream& out) {
  std::error_code ec;
  if (!fs::exists(dir / kTokenCacheMeta, ec) || !fs::exists(dir / kTokenCacheFile, ec)) return false;
  try {
    const json meta = json::parse(read_file(dir / kTokenCacheMeta, "token cache"));
    if (meta.at("identity").get<std::string>() != identity) return false;
    const std::string bytes = read_file(dir / kTokenCacheFile, "token cache");
    if (bytes.size() != meta.at("tokens").get<uint64_t>() * 2) return false;
    if (crc32c::value(bytes.data(), bytes.size()) != meta.at("tokens_crc32c").get<uint32_t>()) return false;
    out.tokens.resize(bytes.size() / 2);
    std::memcpy(out.tokens.data(), bytes.data(), bytes.size());
    out.documents = meta.at("documents").get<int64_t>();
    out.identity = identity;
    out.from_cache = true;
    return true;
  } catch (const std::exception&) {
    return false;  // a damaged cache is rebuilt
  }
}

}  // namespace

TokenStream load_token_stream(const std::vector<DataFile>& files, const Tokenizer& tokenizer,
                              const fs::path& cache_dir) {
  if (tokenizer.vocab_size() > 65536) throw UsageError("the token cache holds uint16 ids: vocabulary too large");
  std::vector<std::string> contents;
  for (const DataFile& f : files) contents.push_back(read_file(f.path, "--data file"));
  const std::string identity = identity_of(files, contents, tokenizer);
  TokenStream s;
  if (!cache_dir.empty() && read_cache(cache_dir, identity, s)) return s;

  s.identity = identity;
  const auto eot = static_cast<uint16_t>(tokenizer.eot_id());
  for (size_t i = 0; i < files.size(); ++i) {
    for (const std::string& doc : split_documents(files[i], contents[i])) {
      const std::vector<TokenId> ids = tokenizer.encode_ordinary(doc);
      if (ids.empty()) continue;
      if (s.documents > 0) s.tokens.push_back(eot);
      for (TokenId id : ids) s.tokens.push_back(static_cast<uint16_t>(id));
      ++s.documents;
    }
  }
  if (s.tokens.empty())
    throw FormatError(files.size() == 1 ? "--data " + files[0].path.string() + " is empty (no text to train on)"
                                        : "the --data files hold no text to train on");
  return s;
}

void write_token_cache(const fs::path& dir, const TokenStream& stream) {
  write_file_atomic(dir / kTokenCacheFile,
                    std::string_view(reinterpret_cast<const char*>(stream.tokens.data()), stream.tokens.size() * 2));
  const json meta = {{"identity", stream.identity},
                     {"tokens", stream.tokens.size()},
                     {"documents", stream.documents},
                     {"tokens_crc32c", crc32c::value(stream.tokens.data(), stream.tokens.size() * 2)}};
  write_file_atomic(dir / kTokenCacheMeta, meta.dump(1) + "\n");
}

DataSplit split_validation(const std::vector<uint16_t>& tokens, uint16_t eot, double fraction) {
  DataSplit s;
  const auto n = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> seps;  // positions of the separators
  for (int64_t i = 0; i < n; ++i)
    if (tokens[static_cast<size_t>(i)] == eot) seps.push_back(i);
  const int64_t docs = static_cast<int64_t>(seps.size()) + 1;
  int64_t cut = n;  // val = tokens[cut..)
  int64_t val_docs = 0;
  if (fraction > 0) {
    const double want = fraction * static_cast<double>(n);
    if (docs > 1) {
      // whole documents from the end until they hold `want` tokens, at least one left for training
      for (int64_t k = static_cast<int64_t>(seps.size()) - 1; k >= 0; --k) {
        cut = seps[static_cast<size_t>(k)] + 1;
        ++val_docs;
        if (static_cast<double>(n - cut) >= want) break;
      }
    } else {
      cut = n - std::max<int64_t>(2, static_cast<int64_t>(want));
      if (cut < 2) cut = n;  // too short to split
      else val_docs = 1;
    }
  }
  const int64_t train_end = (val_docs > 0 && docs > 1) ? cut - 1 : cut;  // drop the separator before val
  s.train.assign(tokens.begin(), tokens.begin() + train_end);
  s.val.assign(tokens.begin() + cut, tokens.end());
  s.val_documents = val_docs;
  s.train_documents = docs > 1 ? docs - val_docs : 1;
  return s;
}

WindowSampler::WindowSampler(int64_t stream_tokens, int64_t seq, uint64_t seed)
    : n_(stream_tokens), window_(std::min(seq, stream_tokens - 1)), seed_(seed) {
  if (stream_tokens < 2) throw UsageError("the training data has fewer than 2 tokens");
  if (seq < 1) throw UsageError("--seq must be at least 1");
}

int64_t WindowSampler::offset(int64_t step, int64_t micro, int64_t row) const {
  const uint64_t range = static_cast<uint64_t>(n_ - window_);  // offsets 0 .. n - window - 1
  uint64_t h = splitmix64(seed_);
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  h = splitmix64(h ^ (static_cast<uint64_t>(micro) << 32 | static_cast<uint64_t>(row)));
  return static_cast<int64_t>(h % range);
}

std::pair<torch::Tensor, torch::Tensor> sample_batch(const std::vector<uint16_t>& stream, const WindowSampler& s,
                                                     int64_t step, int64_t micro, int64_t batch,
                                                     int64_t first_row) {
  const int64_t T = s.window();
  torch::Tensor x = torch::empty({batch, T}, torch::kInt64), y = torch::empty({batch, T}, torch::kInt64);
  auto xa = x.accessor<int64_t, 2>();
  auto ya = y.accessor<int64_t, 2>();
  for (int64_t r = 0; r < batch; ++r) {
    const int64_t o = s.offset(step, micro, first_row + r);
    for (int64_t t = 0; t < T; ++t) {
      xa[r][t] = stream[static_cast<size_t>(o + t)];
      ya[r][t] = stream[static_cast<size_t>(o + t + 1)];
    }
  }
  return {x, y};
}

}  // namespace gpt2
