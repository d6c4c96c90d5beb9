// Errors that scorelab reports to the user. A ConfigError is bad input: the CLI prints it
// and exits with code 2 before anything is written.
#pragma once
#include <stdexcept>
#include <string>

namespace scorelab {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Data that cannot be read (missing file, bad magic number, truncation): also exit code 2.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A file that could not be written (disk full, a file-size limit, an I/O error): exit code 2,
// with what was written before intact and no temporary file left.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The message of a failed write of `path`: the cause's first line and what to check.
std::string storage_message(const std::string& path, const std::string& cause);

constexpr int kExitBadInput = 2;
// A training run stopped at a non-finite loss or gradient (train.on_nonfinite: stop).
constexpr int kExitNonFinite = 3;

}  // namespace scorelab
