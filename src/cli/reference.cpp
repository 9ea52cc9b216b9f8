#include "cli/reference.hpp"

#include <algorithm>
#include <ostream>
#include <sstream>

#include "gpt2/base/errors.hpp"
#include "gpt2/base/model_names.hpp"

namespace gpt2::cli {

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// CLI11 validators describe themselves in the type name: "TEXT:{openai,hf}".
std::vector<std::string> choices_of(const std::string& type_name) {
  std::vector<std::string> out;
  const auto open = type_name.find(":{");
  if (open == std::string::npos) return out;
  const auto close = type_name.find('}', open);
  if (close == std::string::npos) return out;
  std::stringstream list(type_name.substr(open + 2, close - open - 2));
  for (std::string item; std::getline(list, item, ',');) {
    item.erase(0, item.find_first_not_of(' '));
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

ValueKind kind_of(const OptionDoc& o, const std::string& name) {
  if (o.value_name.empty()) return ValueKind::kNone;
  if (!o.choices.empty()) return ValueKind::kChoice;
  if (name == "model") return ValueKind::kModel;
  if (contains(name, "dir")) return ValueKind::kDirectory;
  if (contains(name, "file") || contains(name, "path") || name == "out" || name == "output") return ValueKind::kFile;
  return ValueKind::kText;
}

OptionDoc describe_option(const CLI::Option& opt) {
  OptionDoc o;
  for (const auto& s : opt.get_snames()) o.shorts.push_back("-" + s);
  for (const auto& l : opt.get_lnames()) o.longs.push_back("--" + l);
  if (opt.get_positional()) o.positional = opt.get_name(true, false);
  o.description = opt.get_description();
  o.default_value = opt.get_default_str();
  o.required = opt.get_required();
  if (opt.get_expected_max() > 0 || opt.get_positional()) {
    const std::string type = opt.get_type_name();
    o.value_name = type.substr(0, type.find(':'));
    if (o.value_name.empty()) o.value_name = "VALUE";
    o.choices = choices_of(type);
  }
  o.repeatable = opt.get_expected_max() > 1 || opt.get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
  const std::string name = !o.positional.empty() ? o.positional
                           : !o.longs.empty()    ? o.longs.front().substr(2)
                                                 : o.shorts.front().substr(1);
  o.kind = kind_of(o, name);
  return o;
}

void describe_options(const CLI::App& app, CommandDoc& cmd) {
  std::vector<OptionDoc> positionals;
  for (const CLI::Option* opt : app.get_options()) {
    OptionDoc o = describe_option(*opt);
    (o.positional.empty() ? cmd.options : positionals).push_back(std::move(o));
  }
  // Option groups are unnamed subcommands whose options belong to this command.
  for (const CLI::App* group : app.get_subcommands([](const CLI::App* s) { return s->get_name().empty(); })) {
    CommandDoc inner;
    describe_options(*group, inner);
    cmd.options.insert(cmd.options.end(), inner.options.begin(), inner.options.end());
  }
  cmd.options.insert(cmd.options.end(), positionals.begin(), positionals.end());
}

// ---------------------------------------------------------------------------
// man(7)

// Text for a roff line: backslashes, hyphens (so they stay ASCII minus signs)
// and a leading control character are escaped.
std::string roff(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

std::string man_option_head(const OptionDoc& o) {
  std::string head;
  if (!o.positional.empty()) return "\\fI" + roff(o.positional) + "\\fR" + (o.repeatable ? " ..." : "");
  for (const auto& n : o.shorts) head += (head.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
  for (const auto& n : o.longs) head += (head.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
  if (!o.value_name.empty()) head += " \\fI" + roff(o.value_name) + "\\fR";
  return head;
}

void man_options(const std::vector<OptionDoc>& options, std::ostream& out) {
  for (const auto& o : options) {
    out << ".TP\n" << man_option_head(o) << "\n" << roff(o.description);
    if (!o.choices.empty()) {
      std::string list;
      for (const auto& c : o.choices) list += (list.empty() ? "" : ", ") + c;
      out << " (one of: " << roff(list) << ")";
    }
    if (!o.default_value.empty() && !contains(o.description, "default")) {
      out << " (default: " << roff(o.default_value) << ")";
    }
    if (o.required) out << " (required)";
    if (o.repeatable && o.positional.empty() && !contains(o.description, "repeatable")) out << " (repeatable)";
    out << "\n";
  }
}

std::string usage_of(const CommandDoc& c, const std::string& program) {
  std::string u = "\\fB" + roff(program) + " " + roff(c.name) + "\\fR [\\fIOPTIONS\\fR]";
  for (const auto& o : c.options) {
    if (o.positional.empty()) continue;
    const std::string p = "\\fI" + roff(o.positional) + "\\fR" + (o.repeatable ? " ..." : "");
    u += " " + (o.required ? p : "[" + p + "]");
  }
  return u;
}

// ---------------------------------------------------------------------------
// completion helpers

std::string all_names(const OptionDoc& o) {
  std::string s;
  for (const auto& n : o.shorts) s += (s.empty() ? "" : " ") + n;
  for (const auto& n : o.longs) s += (s.empty() ? "" : " ") + n;
  return s;
}

std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string released_names() { return joined(released_model_names(), " "); }

// Single-quoted for the shell.
std::string sq(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A description inside an _arguments spec's brackets, or a _describe item.
std::string zsh_desc(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '[' || c == ']' || c == ':' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

std::string zsh_action(const OptionDoc& o) {
  switch (o.kind) {
    case ValueKind::kChoice: return "(" + joined(o.choices, " ") + ")";
    case ValueKind::kFile: return "_files";
    case ValueKind::kDirectory: return "_files -/";
    case ValueKind::kModel: return "_gpt2_models";
    case ValueKind::kText:
    case ValueKind::kNone: break;
  }
  return " ";
}

// _arguments specs of one option: one per name, each excluding the option's
// other names (or `exclusion` when given, e.g. "(- *)" for --help).
std::vector<std::string> zsh_specs(const OptionDoc& o, const std::string& exclusion = "") {
  if (!o.positional.empty()) {
    return {std::string(o.repeatable ? "*" : "") + ":" + zsh_desc(o.positional) + ":" + zsh_action(o)};
  }
  const std::string value = o.value_name.empty() ? "" : ":" + zsh_desc(o.value_name) + ":" + zsh_action(o);
  std::vector<std::string> names = o.shorts;
  names.insert(names.end(), o.longs.begin(), o.longs.end());
  std::string prefix = exclusion;
  if (prefix.empty() && o.repeatable) prefix = "*";
  if (prefix.empty() && names.size() > 1) prefix = "(" + joined(names, " ") + ")";
  std::vector<std::string> specs;
  for (const auto& n : names) specs.push_back(prefix + n + "[" + zsh_desc(o.description) + "]" + value);
  return specs;
}

}  // namespace

AppDoc describe_app(const CLI::App& app) {
  AppDoc doc;
  doc.name = app.get_name();
  doc.description = app.get_description();
  doc.version = doc.name + " " + GPT2_VERSION_STRING;
  describe_options(app, doc.global);
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); })) {
    CommandDoc c;
    c.name = sub->get_name();
    c.description = sub->get_description();
    describe_options(*sub, c);
    doc.commands.push_back(std::move(c));
  }
  return doc;
}

void write_man_page(const AppDoc& doc, std::ostream& out) {
  std::string summary = doc.description;
  if (summary.rfind(doc.name + ": ", 0) == 0) summary = summary.substr(doc.name.size() + 2);
  std::string upper = doc.name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });

  out << ".\\\" Generated from the " << doc.name << " command-line definition by gpt2-docgen; do not edit.\n"
      << ".TH " << upper << " 1 \"\" \"" << roff(doc.version) << "\" \"User Commands\"\n"
      << ".SH NAME\n" << roff(doc.name) << " \\- " << roff(summary) << "\n"
      << ".SH SYNOPSIS\n";
  for (const auto& c : doc.commands) out << usage_of(c, doc.name) << "\n.br\n";
  out << "\\fB" << roff(doc.name) << "\\fR \\fB\\-\\-version\\fR | \\fB\\-\\-help\\fR\n"
      << ".SH DESCRIPTION\n" << roff(summary) << ".\n.PP\n"
      << "Every command has \\fB\\-\\-help\\fR. Data goes to standard output, messages to standard error.\n"
      << ".SH COMMANDS\n";
  for (const auto& c : doc.commands) out << ".TP\n\\fB" << roff(c.name) << "\\fR\n" << roff(c.description) << "\n";
  out << ".SH OPTIONS\n";
  man_options(doc.global.options, out);
  for (const auto& c : doc.commands) {
    out << ".SH \"" << upper << " " << roff(c.name) << "\"\n" << usage_of(c, doc.name) << "\n.PP\n"
        << roff(c.description) << "\n";
    man_options(c.options, out);
  }
  out << ".SH ENVIRONMENT\n"
      << ".TP\n\\fBGPT2_MODELS_DIR\\fR\nDirectory holding the models when \\fB\\-\\-models\\-dir\\fR is not given "
         "(default: \\fImodels\\fR in the current directory).\n"
      << ".TP\n\\fBGPT2_BASE_URL\\fR\nWhere \\fBdownload\\fR fetches the released checkpoints from "
         "(overridden by \\fB\\-\\-base\\-url\\fR).\n"
      << ".SH \"EXIT STATUS\"\n"
      << ".TP\n" << kExitOk << "\nsuccess\n"
      << ".TP\n" << kExitError << "\nruntime failure (I/O, a lock held by another download)\n"
      << ".TP\n" << kExitUsage << "\nbad command line or option value (the message names the option)\n"
      << ".TP\n" << kExitNotFound << "\nmodel or input file not found\n"
      << ".TP\n" << kExitCorrupt << "\na file failed validation (size, crc32c, format, shape)\n"
      << ".TP\n" << kExitNetwork << "\nnetwork failure after retries, or the server refused\n"
      << ".TP\n" << kExitInterrupted << "\ninterrupted (Ctrl\\-C)\n"
      << ".SH \"SEE ALSO\"\n"
      << "The README and the documents under \\fI/usr/share/doc/" << roff(doc.name) << "/\\fR.\n";
}

void write_bash_completion(const AppDoc& doc, std::ostream& out) {
  std::vector<std::string> names;
  for (const auto& c : doc.commands) names.push_back(c.name);
  out << "# bash completion for " << doc.name << " (generated from its command-line definition; do not edit)\n"
      << "_" << doc.name << "_models() {\n"
      << "  COMPREPLY+=($(compgen -W " << sq(released_names()) << " -- \"$cur\") $(compgen -d -- \"$cur\"))\n"
      << "}\n\n"
      << "_" << doc.name << "() {\n"
      << "  local cur=${COMP_WORDS[COMP_CWORD]} prev=\"\" cmd=\"\" i\n"
      << "  [ \"$COMP_CWORD\" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
      << "  COMPREPLY=()\n"
      << "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      << "    case ${COMP_WORDS[i]} in\n"
      << "      " << joined(names, "|") << ") cmd=${COMP_WORDS[i]}; break ;;\n"
      << "    esac\n"
      << "  done\n"
      << "  local words=\"\"\n"
      << "  case $cmd in\n";
  auto command_case = [&](const CommandDoc& c, const std::string& label, const std::string& extra_words) {
    std::string opts;
    std::string value_cases;
    std::string positional_action;
    for (const auto& o : c.options) {
      if (!o.positional.empty()) {
        if (positional_action.empty() && o.kind == ValueKind::kModel) positional_action = "_" + doc.name + "_models";
        if (positional_action.empty() && o.kind == ValueKind::kChoice)
          positional_action = "COMPREPLY=($(compgen -W " + sq(joined(o.choices, " ")) + " -- \"$cur\"))";
        continue;
      }
      opts += (opts.empty() ? "" : " ") + all_names(o);
      if (o.value_name.empty()) continue;
      std::string action;
      switch (o.kind) {
        case ValueKind::kChoice: action = "COMPREPLY=($(compgen -W " + sq(joined(o.choices, " ")) + " -- \"$cur\"))"; break;
        case ValueKind::kFile: action = "COMPREPLY=($(compgen -f -- \"$cur\"))"; break;
        case ValueKind::kDirectory: action = "COMPREPLY=($(compgen -d -- \"$cur\"))"; break;
        case ValueKind::kModel: action = "_" + doc.name + "_models"; break;
        case ValueKind::kText:
        case ValueKind::kNone: action = ":"; break;
      }
      std::string pattern = all_names(o);
      std::replace(pattern.begin(), pattern.end(), ' ', '|');
      value_cases += "        " + pattern + ") " + action + "; return ;;\n";
    }
    out << "    " << label << ")\n";
    if (!value_cases.empty()) out << "      case $prev in\n" << value_cases << "      esac\n";
    out << "      words=" << sq(opts + extra_words) << "\n";
    if (!positional_action.empty()) {
      out << "      if [[ $cur != -* ]]; then " << positional_action << "; return; fi\n";
    }
    out << "      ;;\n";
  };
  command_case(doc.global, "\"\"", " " + joined(names, " "));
  for (const auto& c : doc.commands) command_case(c, c.name, "");
  out << "  esac\n"
      << "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
      << "}\n"
      << "complete -o default -F _" << doc.name << " " << doc.name << "\n";
}

void write_zsh_completion(const AppDoc& doc, std::ostream& out) {
  out << "#compdef " << doc.name << "\n"
      << "# zsh completion for " << doc.name << " (generated from its command-line definition; do not edit)\n\n"
      << "_" << doc.name << "_models() {\n"
      << "  _alternative 'released:released model:(" << released_names() << ")' "
      << "'directories:model directory:_files -/'\n"
      << "}\n\n"
      << "_" << doc.name << "() {\n"
      << "  local curcontext=$curcontext state line ret=1\n"
      << "  local -a commands\n"
      << "  commands=(\n";
  for (const auto& c : doc.commands) out << "    " << sq(zsh_desc(c.name) + ":" + c.description) << "\n";
  out << "  )\n"
      << "  _arguments -C \\\n";
  for (const auto& o : doc.global.options) {
    for (const auto& spec : zsh_specs(o, "(- *)")) out << "    " << sq(spec) << " \\\n";
  }
  out << "    '1:command:->command' \\\n"
      << "    '*::argument:->argument' && ret=0\n"
      << "  case $state in\n"
      << "    command) _describe -t commands '" << doc.name << " command' commands && ret=0 ;;\n"
      << "    argument)\n"
      << "      case $words[1] in\n";
  for (const auto& c : doc.commands) {
    out << "        " << c.name << ")\n          _arguments";
    for (const auto& o : c.options) {
      for (const auto& spec : zsh_specs(o)) out << " \\\n            " << sq(spec);
    }
    out << " && ret=0\n          ;;\n";
  }
  out << "      esac\n"
      << "      ;;\n"
      << "  esac\n"
      << "  return ret\n"
      << "}\n\n"
      << "_" << doc.name << " \"$@\"\n";
}

}  // namespace gpt2::cli
