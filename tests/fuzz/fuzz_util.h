// Shared by the libFuzzer targets (scripts/fuzz.sh): the input as a file, and the rule that bad
// input may only end in scorelab's own errors (exit 2 in the CLI) — any other exception, a
// crash or a sanitizer report is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace scorelab::fuzz {

// Writes the input to a per-process scratch file and returns its path.
inline std::string as_file(const uint8_t* data, size_t size, const std::string& suffix) {
  const std::string path = "/tmp/scorelab_fuzz_" + std::to_string(::getpid()) + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  return path;
}

}  // namespace scorelab::fuzz
