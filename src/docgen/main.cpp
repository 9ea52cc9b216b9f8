// gpt2-docgen: writes the man page and the shell completions of gpt2 from the
// same CLI11 application the binary runs (make_app()). Run by the build:
//   gpt2-docgen man|bash|zsh OUTPUT
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "cli/app.hpp"
#include "cli/reference.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: gpt2-docgen man|bash|zsh OUTPUT\n";
    return 2;
  }
  const std::string what = argv[1];
  std::istringstream in;
  std::ostringstream sink;
  gpt2::cli::CliIO io{in, sink, std::cerr};
  const auto app = gpt2::cli::make_app(io);
  const gpt2::cli::AppDoc doc = gpt2::cli::describe_app(*app);

  std::ostringstream text;
  if (what == "man") {
    gpt2::cli::write_man_page(doc, text);
  } else if (what == "bash") {
    gpt2::cli::write_bash_completion(doc, text);
  } else if (what == "zsh") {
    gpt2::cli::write_zsh_completion(doc, text);
  } else {
    std::cerr << "gpt2-docgen: unknown document '" << what << "' (man, bash or zsh)\n";
    return 2;
  }
  // Written whole, then renamed: a failed run leaves no half-written file behind.
  const std::string out = argv[2], tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text.str();
    if (!f.flush()) {
      std::cerr << "gpt2-docgen: cannot write " << tmp << "\n";
      return 1;
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0) {
    std::cerr << "gpt2-docgen: cannot rename " << tmp << " to " << out << "\n";
    return 1;
  }
  return 0;
}
