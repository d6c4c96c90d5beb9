#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "core/progress.h"

int main(int argc, char* argv[]) {
  scorelab::Progress::set_quiet(true);
  // The CLI the tests start re-executes itself unless OpenMP's spin is already bounded
  // (core/device.h); set here, the ~0.5 s second start-up is not paid by every CLI test.
  setenv("GOMP_SPINCOUNT", "10000", 0);
  return Catch::Session().run(argc, argv);
}
