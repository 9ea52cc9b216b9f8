// The man page and shell completions the build generates (gpt2-docgen, from
// make_app()) against what the real binary's --help prints, and the completion
// scripts run in bash and zsh.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/in_process.hpp"
#include "support/test_support.hpp"

namespace {

using gpt2::test::ProcOptions;
using gpt2::test::read_file;
using gpt2::test::run_gpt2;
using gpt2::test::run_process;
using gpt2::test::TempDir;

std::filesystem::path generated(const std::string& rel) { return gpt2::test::gpt2_binary().parent_path() / rel; }

// Subcommand names listed by `gpt2 --help` (read in-process: the same make_app() as the
// binary; Reference.BinaryHelpIsTheAppsHelp checks that the binary prints the same).
std::vector<std::string> list_subcommands() {
  const auto r = gpt2::test::run_in_process({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  std::vector<std::string> names;
  std::istringstream in(r.out);
  bool in_list = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    std::smatch m;
    if (in_list && std::regex_search(line, m, std::regex(R"(^\s+([a-z][a-z0-9-]*)\b)"))) names.push_back(m[1]);
  }
  return names;
}

const std::vector<std::string>& subcommands() {
  static const std::vector<std::string> names = list_subcommands();
  return names;
}

// Option names (-x, --xyz) and positional names in `gpt2 <sub> --help`.
struct HelpNames {
  std::vector<std::string> options;
  std::vector<std::string> positionals;
};

HelpNames parse_help(const std::string& sub) {
  const auto r = gpt2::test::run_in_process({sub, "--help"});
  EXPECT_EQ(r.exit_code, 0) << sub;
  HelpNames h;
  std::istringstream in(r.out);
  std::string section;
  const std::regex option_line(R"(^\s+(-[^\s,]+(?:,\s*-[^\s,]+)*))");
  const std::regex positional_line(R"(^\s+([a-z][a-z0-9_-]*)\s)");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == ':' && line[0] != ' ') {
      section = line;
      continue;
    }
    std::smatch m;
    if (section == "Positionals:" && std::regex_search(line, m, positional_line)) {
      h.positionals.push_back(m[1]);
    } else if (section == "Options:" && std::regex_search(line, m, option_line)) {
      std::stringstream names(m[1].str());
      for (std::string n; std::getline(names, n, ',');) {
        n.erase(0, n.find_first_not_of(' '));
        h.options.push_back(n);
      }
    }
  }
  return h;
}

// Each subcommand's --help is read once per test process.
const HelpNames& help_names(const std::string& sub) {
  static std::map<std::string, HelpNames> cache;
  auto it = cache.find(sub);
  if (it == cache.end()) it = cache.emplace(sub, parse_help(sub)).first;
  return it->second;
}

// The man page as plain text: font switches dropped, escaped hyphens restored.
std::string man_text() {
  std::string s = read_file(generated("share/man/man1/gpt2.1"));
  s = std::regex_replace(s, std::regex(R"(\\f[BIR])"), "");
  s = std::regex_replace(s, std::regex(R"(\\-)"), "-");
  return s;
}

// The part of the man page that documents one subcommand.
std::string man_section(const std::string& text, const std::string& sub) {
  const auto begin = text.find(".SH \"" + std::string("GPT2 ") + sub + "\"");
  if (begin == std::string::npos) return "";
  const auto end = text.find("\n.SH ", begin + 1);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// Runs bash completion for the words of a command line (the last word is the
// one being completed) in `cwd`; returns the sorted candidates.
std::set<std::string> bash_complete(const std::vector<std::string>& words, const std::filesystem::path& cwd) {
  std::string script = "source \"$1\"; COMP_WORDS=(";
  for (const auto& w : words) script += "'" + w + "' ";
  script += "); COMP_CWORD=" + std::to_string(words.size() - 1) +
            "; _gpt2; printf '%s\\n' \"${COMPREPLY[@]}\"";
  ProcOptions opt;
  opt.cwd = cwd;
  const auto r = run_process({"/bin/bash", "-c", script, "bash", generated("share/bash-completion/completions/gpt2")}, opt);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  std::set<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

TEST(Reference, ManPageDocumentsEveryCommandAndOptionOfHelp) {
  const std::string text = man_text();
  const auto subs = subcommands();
  ASSERT_GE(subs.size(), 8u);
  for (const auto& sub : subs) {
    const std::string section = man_section(text, sub);
    ASSERT_FALSE(section.empty()) << "no man page section for " << sub;
    const HelpNames& h = help_names(sub);
    EXPECT_FALSE(h.options.empty()) << sub;
    for (const auto& o : h.options) {
      EXPECT_TRUE(std::regex_search(section, std::regex("(^|[\\s,])" + o + "([\\s,]|$)")))
          << "gpt2 " << sub << " --help lists " << o << " but its man page section does not";
    }
    for (const auto& p : h.positionals) {
      EXPECT_NE(section.find(p), std::string::npos) << "gpt2 " << sub << " positional " << p;
    }
  }
  EXPECT_NE(text.find("--version"), std::string::npos);
  EXPECT_NE(text.find(".SH \"EXIT STATUS\""), std::string::npos);
}

// The real binary prints exactly the help the tests above read in-process.
TEST(Reference, BinaryHelpIsTheAppsHelp) {
  for (const std::vector<std::string> args : {std::vector<std::string>{"--help"}, {"score", "--help"}}) {
    const auto bin = run_gpt2(args);
    const auto app = gpt2::test::run_in_process(args);
    EXPECT_EQ(bin.exit_code, 0);
    EXPECT_EQ(bin.exit_code, app.exit_code);
    EXPECT_EQ(bin.out, app.out);
    EXPECT_EQ(bin.err, app.err);
  }
}

TEST(Reference, ManPageRendersWithoutGroffWarnings) {
  const auto r = run_process({"/usr/bin/groff", "-man", "-Tutf8", "-ww", "-z", generated("share/man/man1/gpt2.1")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
}

TEST(Reference, BashCompletesCommandsOptionsAndValues) {
  TempDir cwd("complete");
  std::filesystem::create_directory(cwd / "1local-model");
  gpt2::test::write_file(cwd / "prompt.txt", "hi");

  EXPECT_EQ(bash_complete({"gpt2", "enc"}, cwd.path()), (std::set<std::string>{"encode"}));
  EXPECT_EQ(bash_complete({"gpt2", "encode", "--al"}, cwd.path()), (std::set<std::string>{"--allow-special"}));
  EXPECT_EQ(bash_complete({"gpt2", "download", "--source", ""}, cwd.path()), (std::set<std::string>{"openai", "hf"}));
  // Released names and directories for --model and the model positionals.
  EXPECT_EQ(bash_complete({"gpt2", "generate", "--model", "1"}, cwd.path()),
            (std::set<std::string>{"124M", "1558M", "1local-model"}));
  EXPECT_EQ(bash_complete({"gpt2", "verify", "3"}, cwd.path()), (std::set<std::string>{"355M"}));
  EXPECT_EQ(bash_complete({"gpt2", "generate", "--prompt-file", "pro"}, cwd.path()),
            (std::set<std::string>{"prompt.txt"}));
  // A value that is free text gets no candidates (not the option list).
  EXPECT_TRUE(bash_complete({"gpt2", "encode", "--text", ""}, cwd.path()).empty());

  // Every option of every subcommand's --help completes after "gpt2 <sub> -".
  for (const auto& sub : subcommands()) {
    const auto got = bash_complete({"gpt2", sub, "-"}, cwd.path());
    for (const auto& o : help_names(sub).options) {
      EXPECT_EQ(got.count(o), 1u) << "bash completion of 'gpt2 " << sub << " -' lacks " << o;
    }
  }
}

TEST(Reference, ZshCompletionParsesAndDefinesEveryCommand) {
  const auto file = generated("share/zsh/site-functions/_gpt2");
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/zsh")) << "zsh is missing: run scripts/setup.sh";
  const auto syntax = run_process({"/usr/bin/zsh", "-n", file});
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  EXPECT_EQ(syntax.err, "");
  const std::string text = read_file(file);
  EXPECT_EQ(text.rfind("#compdef gpt2\n", 0), 0u);
  for (const auto& sub : subcommands()) {
    EXPECT_NE(text.find("\n        " + sub + ")\n"), std::string::npos) << sub;
    for (const auto& o : help_names(sub).options) {
      EXPECT_NE(text.find(o + "["), std::string::npos) << sub << " " << o;
    }
  }
}

}  // namespace
