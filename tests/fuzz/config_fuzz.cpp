// The config loader and the run specification: any text is read into a RunSpec or refused with
// a ConfigError / DataError naming the file and key.
#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "experiments/run_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    scorelab::Config cfg = scorelab::Config::from_string(text, "fuzz.yaml");
    scorelab::RunSpec::from(cfg, "fuzz");
  } catch (const scorelab::ConfigError&) {
  } catch (const scorelab::DataError&) {
  }
  return 0;
}
