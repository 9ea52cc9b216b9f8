// Console progress rendering: bar line, plain lines off a TTY (the size and
// duration helpers it uses are tested in tests/base/test_format.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "gpt2/base/format.hpp"
#include "gpt2/base/file_io.hpp"
#include "gpt2/download/progress.hpp"

using namespace gpt2;

TEST(ProgressFormat, BarLine) {
  const std::string line = render_progress_line("model.ckpt.index", 512, 1024, 256, 10);
  EXPECT_EQ(line, "model.ckpt.index [#####.....]  50% 512 B / 1.0 KiB  256 B/s  ETA 2s");
  const std::string unknown = render_progress_line("f", 2048, -1, 0, 10);
  EXPECT_EQ(unknown, "f 2.0 KiB / ?");
}

TEST(ConsoleProgress, PlainLinesWhenNotATerminal) {
  std::ostringstream err;
  auto p = make_console_progress(err, false);
  p->file_started("vocab.bpe", 0, 100);
  for (int i = 1; i <= 10; ++i) p->file_progress("vocab.bpe", i * 10, 100);
  p->file_finished("vocab.bpe", 100, 100);
  p->file_skipped("checkpoint", 77);
  p->retrying("hparams.json", 2, 6, 1.0, "HTTP 500");
  const std::string s = err.str();
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.find("\x1b"), std::string::npos);
  EXPECT_NE(s.find("vocab.bpe: 100 B"), std::string::npos) << s;
  EXPECT_NE(s.find("checkpoint: already present (77 B)"), std::string::npos) << s;
  EXPECT_NE(s.find("hparams.json: HTTP 500; retry 2/6 in 1.0s"), std::string::npos) << s;
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 3);
}

TEST(ConsoleProgress, LiveBarOnATerminal) {
  std::ostringstream err;
  auto p = make_console_progress(err, true);
  p->file_started("model.ckpt.data-00000-of-00001", 0, 1000);
  p->file_progress("model.ckpt.data-00000-of-00001", 1000, 1000);
  p->file_finished("model.ckpt.data-00000-of-00001", 1000, 1000);
  const std::string s = err.str();
  EXPECT_NE(s.find('\r'), std::string::npos);
  EXPECT_NE(s.find("[##############################] 100%"), std::string::npos) << s;
  EXPECT_EQ(s.back(), '\n');
}
