// Reference documents generated from the CLI11 application itself (make_app()):
// the man page gpt2(1) and the bash and zsh completion scripts. The build runs
// gpt2-docgen (src/docgen/main.cpp) to write them, so every subcommand and option
// added to the app appears in them without editing anything else.
#pragma once

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

namespace gpt2::cli {

// What the user can complete for an option's or positional's value.
enum class ValueKind {
  kNone,       // a flag: takes no value
  kText,       // free text or a number: nothing to complete
  kChoice,     // one of `choices`
  kFile,       // a file path
  kDirectory,  // a directory path
  kModel,      // a released model name or a model directory
};

struct OptionDoc {
  std::vector<std::string> shorts;  // "-t"
  std::vector<std::string> longs;   // "--text"
  std::string positional;           // the name of a positional argument, else empty
  std::string value_name;           // "TEXT", "INT", ... (empty for flags)
  std::string description;
  std::string default_value;        // captured default, if any
  std::vector<std::string> choices; // allowed values (CLI::IsMember)
  ValueKind kind = ValueKind::kNone;
  bool required = false;
  bool repeatable = false;          // may be given more than once / takes several values
};

struct CommandDoc {
  std::string name;  // empty for the top-level application
  std::string description;
  std::vector<OptionDoc> options;  // options first, then positionals, in definition order
};

struct AppDoc {
  std::string name;
  std::string description;
  std::string version;             // the --version text, e.g. "gpt2 0.1.0"
  CommandDoc global;               // the top-level options (--help, --version)
  std::vector<CommandDoc> commands;
};

// Walks the application (its subcommands and their option groups).
AppDoc describe_app(const CLI::App& app);

// gpt2(1) in man(7) format.
void write_man_page(const AppDoc& doc, std::ostream& out);
// Completion scripts for bash (complete -F) and zsh (#compdef, _arguments).
void write_bash_completion(const AppDoc& doc, std::ostream& out);
void write_zsh_completion(const AppDoc& doc, std::ostream& out);

}  // namespace gpt2::cli
