// Thin entry point: all behaviour lives in the library and cli/app.cpp.
#include <unistd.h>

#include <iostream>

#include "cli/app.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  gpt2::cli::CliIO io{std::cin, std::cout, std::cerr, isatty(0) == 1, isatty(2) == 1};
  return gpt2::cli::run_cli(argc, argv, io);
}
