// Typed errors thrown by the gpt2 library. Library code never exits or prints;
// only the CLI's main() turns these into messages on stderr and exit codes.
#pragma once

#include <stdexcept>
#include <string>

namespace gpt2 {

// Process exit codes used by the CLI (0 = success).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,        // generic runtime failure
  kExitUsage = 2,        // bad command line / option value
  kExitNotFound = 3,     // model or input file missing
  kExitCorrupt = 4,      // a file failed validation (size, crc, format)
  kExitNetwork = 5,      // download failed
  kExitInterrupted = 130 // SIGINT
};

// Base of every error the library throws. what() is a complete one-line message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
  virtual int exit_code() const { return kExitError; }
};

// The user asked for something invalid (bad option value, prompt too long...).
class UsageError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitUsage; }
};

// A model directory or input file does not exist.
class NotFoundError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitNotFound; }
};

// A file exists but its content is wrong: truncated, bad crc, bad header, shape mismatch.
class FormatError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitCorrupt; }
};

// Reading or writing a file failed at the OS level.
class IoError : public Error {
 public:
  using Error::Error;
};

// A network transfer failed for good (after retries), or the server refused.
class NetworkError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitNetwork; }
};

// The operation was interrupted by the user (SIGINT).
class InterruptedError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return kExitInterrupted; }
};

}  // namespace gpt2
