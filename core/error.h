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

constexpr int kExitBadInput = 2;
// A training run stopped at a non-finite loss or gradient (train.on_nonfinite: stop).
constexpr int kExitNonFinite = 3;

}  // namespace scorelab
