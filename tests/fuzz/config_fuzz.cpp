// The config loader and the run specification on arbitrary text (targets.h says what passes).
#include <cstdint>
#include <string>

#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  scorelab::fuzz::check_config(std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
